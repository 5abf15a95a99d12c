// What a deploy locks against a remote state: its machines and the shared resources it
// converges, so deploys on other machines can run beside it.
#include "deploy/lock_scopes.hpp"
#include "model_test_util.hpp"
#include "session/session.hpp"

#include <catch2/catch.hpp>

using namespace fedi;
using fedi::test::derivation;
using nlohmann::json;

namespace {

json machine(const std::string& name) {
    return {{"ssh", {{"host", "127.0.0.1"}}}, {"system", derivation(name)}};
}

} // namespace

TEST_CASE("a deploy locks its machines and the storage they need") {
    json j = {{"machines", {{"web", machine("w")}, {"video", machine("v")}, {"s3", machine("s")}}}};
    j["storage"]["ceph"] = {{"type", "rgw"},
                            {"s3Endpoint", "https://rgw:7480"},
                            {"region", "us-east-1"},
                            {"accessKeyFile", "/k"},
                            {"secretKeyFile", "/s"}};
    j["buckets"]["media"] = {
        {"storage", "ceph"},
        {"keys",
         {{"web", {{"read", true}, {"write", true}, {"deliverTo", {{"machine", "web"}}}}}}}};
    auto d = model::parse_deployment(j, "/d/deployment.nix");
    using V = std::vector<std::string>;
    deploy::DeployOptions web;
    web.on = {"web"};
    CHECK(deploy::lock_scopes(d, web) == V{"machine web", "storage ceph"});
    deploy::DeployOptions video;
    video.on = {"video"};
    CHECK(deploy::lock_scopes(d, video) == V{"machine video"});
    CHECK(deploy::lock_scopes(d, {}) ==
          V{"machine s3", "machine video", "machine web", "storage ceph"});
    // Every other command that changes things locks all of it.
    CHECK(session::every_lock_scope(d) ==
          V{"machine s3", "machine video", "machine web", "storage ceph"});
}
