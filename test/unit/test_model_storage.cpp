#include "core/error.hpp"
#include "model/deployment.hpp"

#include "model_test_util.hpp"

#include <catch2/catch.hpp>

using namespace fedi;
using nlohmann::json;

namespace {

using fedi::test::derivation;
using fedi::test::usage_message;

json machine(const std::string& name) {
    return {{"ssh", {{"host", "10.0.0.1"}}},
            {"system",
             {{"__fedi", "derivation"},
              {"drvPath", "/nix/store/a-" + name + ".drv"},
              {"outputPath", "/nix/store/b-" + name},
              {"name", name}}}};
}

json deployment() {
    json j = {
        {"machines", {{"s1", machine("s1")}, {"s2", machine("s2")}, {"web", machine("web")}}}};
    j["storage"]["garage"] = {{"type", "garage"},
                              {"machines", {"s1", "s2"}},
                              {"adminEndpoint", "http://10.0.0.1:3903/"},
                              {"adminTokenFile", "/run/garage-token"},
                              {"s3Endpoint", "http://10.0.0.1:3900"},
                              {"allowInsecureHttp", true},
                              {"nodes", {{"s2", {{"zone", "dc2"}, {"capacity", "2Ti"}}}}}};
    j["buckets"]["media"] = {
        {"storage", "garage"},
        {"quota", {{"maxSize", "500G"}}},
        {"keys",
         {{"app",
           {{"write", true},
            {"deliverTo", {{"machine", "web"}, {"owner", "mastodon"}, {"mode", "0440"}}}}}}}};
    return j;
}

} // namespace

TEST_CASE("storage and buckets become the model") {
    auto d = model::parse_deployment(deployment(), "/d/deployment.nix");
    const auto& s = d.storage.at("garage");
    CHECK(s.type == model::StorageType::Garage);
    CHECK(s.admin_endpoint == "http://10.0.0.1:3903");
    CHECK(s.region == "garage");
    CHECK(s.replication == 2); // default: the number of machines, at most 3
    REQUIRE(s.nodes.size() == 2);
    CHECK(s.nodes[0].zone == "s1");
    CHECK(s.nodes[1].zone == "dc2");
    CHECK(*s.nodes[1].capacity == 2ULL * 1024 * 1024 * 1024 * 1024);
    CHECK(*s.admin_token.file == "/run/garage-token");
    const auto& b = d.buckets.at("media");
    CHECK(*b.max_size == 500ULL * 1000 * 1000 * 1000);
    const auto& k = b.keys.at("app");
    CHECK((k.read && k.write && !k.owner));
    REQUIRE(k.deliver_to.size() == 1);
    CHECK(k.deliver_to[0].owner == "mastodon");
    CHECK(k.deliver_to[0].group == "mastodon");
    CHECK(k.deliver_to[0].mode == 0440);
    auto j = model::to_json(d);
    CHECK(j["buckets"]["media"]["keys"]["app"]["deliverTo"][0]["file"] == "media-app.env");
    CHECK(j["storage"]["garage"]["adminToken"]["file"] == "/run/garage-token");
}

TEST_CASE("sizes") {
    CHECK(*model::parse_size("1024") == 1024);
    CHECK(*model::parse_size("1K") == 1000);
    CHECK(*model::parse_size("1Ki") == 1024);
    CHECK(*model::parse_size("3GB") == 3000000000ULL);
    CHECK_FALSE(model::parse_size("1X"));
    CHECK_FALSE(model::parse_size("99999999999999999999T"));
    CHECK_FALSE(model::parse_size("-1G"));
}

TEST_CASE("storage errors name the attribute path") {
    auto j = deployment();
    SECTION("bucket → storage") {
        j["buckets"]["media"]["storage"] = "nope";
        CHECK(usage_message(j) == "buckets.media.storage: no storage named \"nope\"");
    }
    SECTION("deliverTo → machine") {
        j["buckets"]["media"]["keys"]["app"]["deliverTo"]["machine"] = "ghost";
        CHECK(usage_message(j) ==
              "buckets.media.keys.app.deliverTo.machine: no machine named \"ghost\"");
    }
    SECTION("storage machines → machines") {
        j["storage"]["garage"]["machines"] = {"s1", "s9"};
        j["storage"]["garage"]["nodes"] = json::object();
        CHECK(usage_message(j) == "storage.garage.machines.1: no machine named \"s9\"");
    }
    SECTION("a node that is not a machine of the cluster") {
        j["storage"]["garage"]["nodes"]["web"] = json::object();
        CHECK_THAT(usage_message(j),
                   Catch::StartsWith("storage.garage.nodes.web: unknown attribute"));
    }
    SECTION("replication above the machine count") {
        j["storage"]["garage"]["replication"] = 3;
        CHECK_THAT(usage_message(j), Catch::StartsWith("storage.garage.replication: replication 3 "
                                                       "needs at least 3 machines"));
    }
    SECTION("no token") {
        j["storage"]["garage"].erase("adminTokenFile");
        CHECK_THAT(usage_message(j), Catch::StartsWith("storage.garage.adminTokenFile: missing"));
    }
    SECTION("unknown type") {
        j["storage"]["garage"]["type"] = "minio";
        CHECK_THAT(usage_message(j),
                   Catch::StartsWith("storage.garage.type: unknown storage type"));
    }
    SECTION("bad mode") {
        j["buckets"]["media"]["keys"]["app"]["deliverTo"]["mode"] = "rw";
        CHECK_THAT(usage_message(j),
                   Catch::StartsWith("buckets.media.keys.app.deliverTo.mode: expected an octal"));
    }
    SECTION("bad bucket name") {
        j["buckets"]["Media"] = j["buckets"]["media"];
        CHECK_THAT(usage_message(j), Catch::StartsWith("buckets.Media: invalid bucket name"));
    }
    SECTION("unknown attribute in a key") {
        j["buckets"]["media"]["keys"]["app"]["delete"] = true;
        CHECK_THAT(usage_message(j), Catch::StartsWith("buckets.media.keys.app.delete: unknown"));
    }
    SECTION("quotas on RGW") {
        j["storage"]["ceph"] = {{"type", "rgw"},
                                {"s3Endpoint", "http://rgw:7480"},
                                {"allowInsecureHttp", true},
                                {"accessKeyEnv", "A"},
                                {"secretKeyEnv", "S"}};
        j["buckets"]["media"]["storage"] = "ceph";
        CHECK_THAT(usage_message(j), Catch::StartsWith("buckets.media: quotas and websites"));
    }
    SECTION("a machine in two clusters") {
        j["storage"]["other"] = j["storage"]["garage"];
        CHECK_THAT(usage_message(j), Catch::Contains("is already a node of storage."));
    }
}
