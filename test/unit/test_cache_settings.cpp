#include "core/error.hpp"
#include "model/deployment.hpp"

#include "model_test_util.hpp"

#include <catch2/catch.hpp>

using namespace fedi;
using nlohmann::json;

namespace {

using fedi::test::usage_message;

// A valid key pair's public half (nix-store --generate-binary-cache-key).
const char* public_key = "cache-1:8Jm+0LVqH1pN9ugJXuOStgVBXvvMROpmkPtjnbUrn6E=";

json deployment() {
    json j = {{"machines",
               {{"web",
                 {{"ssh", {{"host", "10.0.0.1"}}},
                  {"system",
                   {{"__fedi", "derivation"},
                    {"drvPath", "/nix/store/a-web.drv"},
                    {"outputPath", "/nix/store/b-web"},
                    {"name", "web"}}}}}}}};
    j["storage"]["ceph"] = {{"type", "rgw"},
                            {"s3Endpoint", "http://10.0.0.9:7480"},
                            {"accessKeyFile", "/run/rgw-access"},
                            {"secretKeyFile", "/run/rgw-secret"},
                            {"allowInsecureHttp", true}};
    j["buckets"]["nix-cache"] = {{"storage", "ceph"}};
    j["cache"] = {{"storage", "ceph"},
                  {"bucket", "nix-cache"},
                  {"url", "http://10.0.0.9:7480/nix-cache/"},
                  {"secretKeyEnv", "FEDI_CACHE_KEY"},
                  {"publicKey", public_key}};
    return j;
}

} // namespace

TEST_CASE("cache becomes the model, and fedi eval shows it without the secret") {
    auto d = model::parse_deployment(deployment(), "/d/deployment.nix");
    REQUIRE(d.cache);
    CHECK(d.cache->storage == "ceph");
    CHECK(d.cache->bucket == "nix-cache");
    CHECK(*d.cache->url == "http://10.0.0.9:7480/nix-cache");
    CHECK(*d.cache->secret_key_env == "FEDI_CACHE_KEY");
    CHECK_FALSE(d.cache->secret_key_file);
    CHECK(d.cache->compression == "xz");
    auto j = model::to_json(d);
    CHECK(j["cache"]["secretKey"] == json{{"env", "FEDI_CACHE_KEY"}});
    CHECK(j["cache"]["publicKey"] == public_key);
}

TEST_CASE("cache compression: zstd and none are taken as given") {
    auto compression = GENERATE(std::string("zstd"), std::string("none"));
    auto j = deployment();
    j["cache"]["compression"] = compression;
    auto d = model::parse_deployment(j, "/d/deployment.nix");
    CHECK(d.cache->compression == compression);
    CHECK(model::to_json(d)["cache"]["compression"] == compression);
}

TEST_CASE("no cache declared") {
    auto j = deployment();
    j.erase("cache");
    auto d = model::parse_deployment(j, "/d/deployment.nix");
    CHECK_FALSE(d.cache);
    CHECK(model::to_json(d)["cache"].is_null());
}

TEST_CASE("cache errors name the attribute path") {
    auto j = deployment();
    SECTION("unknown storage") {
        j["cache"]["storage"] = "nope";
        CHECK_THAT(usage_message(j), Catch::StartsWith("cache.storage: no storage named \"nope\""));
    }
    SECTION("undeclared bucket") {
        j["cache"]["bucket"] = "other";
        CHECK_THAT(usage_message(j), Catch::StartsWith("cache.bucket: no bucket named \"other\""));
    }
    SECTION("no secret key") {
        j["cache"].erase("secretKeyEnv");
        CHECK_THAT(usage_message(j), Catch::StartsWith("cache.secretKeyFile: give exactly one"));
    }
    SECTION("both secret key sources") {
        j["cache"]["secretKeyFile"] = "/run/key";
        CHECK_THAT(usage_message(j), Catch::StartsWith("cache.secretKeyFile: give exactly one"));
    }
    SECTION("a public key that is not one") {
        j["cache"]["publicKey"] = "cache-1:abcd";
        CHECK_THAT(usage_message(j), Catch::StartsWith("cache.publicKey: expected Nix's"));
    }
    SECTION("unsupported compression") {
        j["cache"]["compression"] = "bzip2";
        CHECK(usage_message(j) ==
              "cache.compression: \"bzip2\" is not supported (xz, zstd or none)");
    }
    SECTION("unknown attribute") {
        j["cache"]["priority"] = 10;
        CHECK_THAT(usage_message(j), Catch::StartsWith("cache.priority: unknown attribute"));
    }
    SECTION("a Garage bucket served over http must be a website") {
        j["storage"]["ceph"] = {{"type", "garage"},
                                {"adminEndpoint", "http://10.0.0.1:3903"},
                                {"adminTokenFile", "/run/garage-token"},
                                {"s3Endpoint", "http://10.0.0.1:3900"},
                                {"allowInsecureHttp", true}};
        CHECK_THAT(usage_message(j), Catch::StartsWith("cache.url: storage ceph is Garage"));
    }
}
