// Endpoints that carry tokens or secrets: plain http is refused unless the deployment
// accepts it (allowInsecureHttp), and accepted insecure transports become warnings.
#include "model/deployment.hpp"
#include "model/transport.hpp"

#include "model_test_util.hpp"

#include <catch2/catch.hpp>

using namespace fedi;
using fedi::test::derivation;
using fedi::test::usage_message;
using nlohmann::json;

namespace {

json with_garage(const std::string& admin, const std::string& s3) {
    return {{"machines", {{"web", {{"ssh", {{"host", "10.0.0.1"}}}, {"system", derivation("w")}}}}},
            {"storage",
             {{"objects",
               {{"type", "garage"},
                {"adminEndpoint", admin},
                {"adminTokenFile", "/run/token"},
                {"s3Endpoint", s3}}}}}};
}

json with_rgw(const std::string& s3) {
    return {
        {"storage",
         {{"ceph",
           {{"type", "rgw"}, {"s3Endpoint", s3}, {"accessKeyEnv", "A"}, {"secretKeyEnv", "S"}}}}}};
}

json with_proxmox(bool insecure) {
    return {{"providers",
             {{"pve",
               {{"type", "proxmox"},
                {"endpoint", "https://pve1:8006"},
                {"node", "pve1"},
                {"tokenFile", "/run/secrets/pve"},
                {"insecure", insecure}}}}}};
}

} // namespace

TEST_CASE("plain http endpoints that carry secrets are refused") {
    SECTION("Garage admin endpoint") {
        auto msg = usage_message(with_garage("http://10.0.0.1:3903", "https://s3.example.org"));
        CHECK_THAT(msg, Catch::StartsWith("storage.objects.adminEndpoint: http://10.0.0.1:3903 "
                                          "is plain http"));
        CHECK_THAT(msg, Catch::Contains("admin token"));
        CHECK_THAT(msg, Catch::Contains("allowInsecureHttp = true"));
    }
    SECTION("Garage S3 endpoint") {
        CHECK_THAT(usage_message(with_garage("https://g:3903", "http://10.0.0.1:3900")),
                   Catch::StartsWith("storage.objects.s3Endpoint: http://10.0.0.1:3900 is plain"));
    }
    SECTION("RGW endpoint") {
        CHECK_THAT(usage_message(with_rgw("http://rgw:7480")),
                   Catch::StartsWith("storage.ceph.s3Endpoint: http://rgw:7480 is plain http"));
    }
}

TEST_CASE("accepted insecure transports are warned about") {
    SECTION("https everywhere: no warning") {
        auto d = model::parse_deployment(with_garage("https://g:3903", "https://g:3900"), "/d/x");
        CHECK(d.warnings.empty());
        CHECK(model::to_json(d)["warnings"].empty());
    }
    SECTION("allowInsecureHttp: one warning per http endpoint") {
        auto j = with_garage("http://g:3903", "https://g:3900");
        j["storage"]["objects"]["allowInsecureHttp"] = true;
        auto d = model::parse_deployment(j, "/d/x");
        REQUIRE(d.warnings.size() == 1);
        CHECK(d.warnings[0].path == "storage.objects.adminEndpoint");
        CHECK_THAT(d.warnings[0].message, Catch::Contains("clear text"));
        CHECK(model::to_json(d)["warnings"][0]["path"] == "storage.objects.adminEndpoint");
        CHECK(model::to_json(d)["storage"]["objects"]["allowInsecureHttp"] == true);
    }
    SECTION("RGW over http, accepted") {
        auto j = with_rgw("http://rgw:7480");
        j["storage"]["ceph"]["allowInsecureHttp"] = true;
        auto d = model::parse_deployment(j, "/d/x");
        REQUIRE(d.warnings.size() == 1);
        CHECK(d.warnings[0].path == "storage.ceph.s3Endpoint");
    }
    SECTION("Proxmox insecure = true") {
        auto d = model::parse_deployment(with_proxmox(true), "/d/x");
        REQUIRE(d.warnings.size() == 1);
        CHECK(d.warnings[0].path == "providers.pve.insecure");
        CHECK_THAT(d.warnings[0].message, Catch::Contains("https://pve1:8006"));
        CHECK(model::parse_deployment(with_proxmox(false), "/d/x").warnings.empty());
    }
}

TEST_CASE("plain http is recognised whatever its case") {
    CHECK(model::is_plain_http("http://x"));
    CHECK(model::is_plain_http("HtTp://x"));
    CHECK_FALSE(model::is_plain_http("https://x"));
    CHECK_FALSE(model::is_plain_http("http:/x"));
}
