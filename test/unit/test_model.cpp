#include "core/error.hpp"
#include "deploy/selection.hpp"
#include "model/deployment.hpp"

#include "model_test_util.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace fedi;
using nlohmann::json;

namespace {

using fedi::test::derivation;
using fedi::test::usage_message;

json machine(const std::string& name) {
    return {{"ssh", {{"host", "10.0.0.1"}, {"port", 2222}}},
            {"system", derivation(name)},
            {"tags", {"web"}}};
}

} // namespace

TEST_CASE("a valid deployment becomes the model") {
    json j = {{"machines", {{"web", machine("web")}, {"db", machine("db")}}}};
    j["machines"]["web"]["after"] = {"db"};
    j["machines"]["web"]["ssh"]["hostKey"] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB";
    // The identity file must exist: pre-flight checks read it.
    auto key =
        std::filesystem::temp_directory_path() / ("fedi-model-id-" + std::to_string(::getpid()));
    std::ofstream(key) << "key\n";
    j["machines"]["web"]["ssh"]["identityFile"] = {{"__fedi", "path"}, {"value", key.string()}};
    auto d = model::parse_deployment(j, "/d/deployment.nix");
    std::filesystem::remove(key);
    REQUIRE(d.machines.size() == 2);
    const auto& web = d.machines.at("web");
    CHECK(web.ssh.host == "10.0.0.1");
    CHECK(web.ssh.port == 2222);
    CHECK(web.ssh.user == "root");
    CHECK(*web.ssh.identity_file == key.string());
    CHECK(web.system.drv_path == "/nix/store/aaaa-web.drv");
    CHECK(web.system.out_path == "/nix/store/bbbb-web");
    CHECK(web.after == std::vector<std::string>{"db"});
    CHECK(model::to_json(d)["machines"]["web"]["ssh"]["port"] == 2222);
}

TEST_CASE("errors name the attribute path") {
    json j = {{"machines", {{"web", machine("web")}}}};
    SECTION("wrong type") {
        j["machines"]["web"]["ssh"]["port"] = "22";
        CHECK_THAT(usage_message(j),
                   Catch::StartsWith("machines.web.ssh.port: expected an integer"));
    }
    SECTION("unknown attribute") {
        j["machines"]["web"]["sytem"] = 1;
        CHECK_THAT(usage_message(j), Catch::StartsWith("machines.web.sytem: unknown attribute") &&
                                         Catch::Contains("system"));
    }
    SECTION("missing system") {
        j["machines"]["web"].erase("system");
        CHECK_THAT(usage_message(j), Catch::StartsWith("machines.web.system: missing"));
    }
    SECTION("system is not a derivation") {
        j["machines"]["web"]["system"] = "/nix/store/x";
        CHECK_THAT(usage_message(j),
                   Catch::StartsWith("machines.web.system: expected a derivation"));
    }
    SECTION("missing host") {
        j["machines"]["web"]["ssh"].erase("host");
        CHECK_THAT(usage_message(j), Catch::StartsWith("machines.web.ssh.host: missing"));
    }
    SECTION("port out of range") {
        j["machines"]["web"]["ssh"]["port"] = 70000;
        CHECK_THAT(usage_message(j),
                   Catch::StartsWith("machines.web.ssh.port: 70000 is out of range"));
    }
    SECTION("tag of the wrong type names its index") {
        j["machines"]["web"]["tags"] = json::array({"a", 3});
        CHECK_THAT(usage_message(j), Catch::StartsWith("machines.web.tags.1: expected a string"));
    }
    SECTION("bad host key") {
        j["machines"]["web"]["ssh"]["hostKey"] = "not a key";
        CHECK_THAT(usage_message(j), Catch::StartsWith("machines.web.ssh.hostKey:"));
    }
    SECTION("dangling after") {
        j["machines"]["web"]["after"] = {"nope"};
        CHECK_THAT(usage_message(j),
                   Catch::StartsWith("machines.web.after.0: no machine named \"nope\""));
    }
    SECTION("unknown top-level attribute") {
        j["machine"] = json::object();
        CHECK_THAT(usage_message(j), Catch::StartsWith("machine: unknown attribute"));
    }
    SECTION("invalid machine name") {
        j["machines"]["bad name"] = machine("x");
        CHECK_THAT(usage_message(j), Catch::StartsWith("machines.bad name: invalid machine name"));
    }
}

TEST_CASE("dependency cycles are refused with the cycle") {
    json j = {{"machines", {{"a", machine("a")}, {"b", machine("b")}, {"c", machine("c")}}}};
    j["machines"]["a"]["after"] = {"b"};
    j["machines"]["b"]["after"] = {"c"};
    j["machines"]["c"]["after"] = {"a"};
    CHECK_THAT(usage_message(j), Catch::Contains("dependency cycle: a -> b -> c -> a"));
}

TEST_CASE("selection by name, glob and tag is a union") {
    json j = {
        {"machines", {{"web1", machine("w1")}, {"web2", machine("w2")}, {"s3-1", machine("s")}}}};
    j["machines"]["s3-1"]["tags"] = {"s3"};
    auto d = model::parse_deployment(j, "/d/deployment.nix");
    using V = std::vector<std::string>;
    CHECK(deploy::select_machines(d, {}) == V{"s3-1", "web1", "web2"});
    CHECK(deploy::select_machines(d, {"web*"}) == V{"web1", "web2"});
    CHECK(deploy::select_machines(d, {"@s3", "web2"}) == V{"s3-1", "web2"});
    CHECK(deploy::select_machines(d, {"@web"}) == V{"web1", "web2"});
    CHECK_THROWS_WITH(deploy::select_machines(d, {"nomatch*"}),
                      Catch::Contains("--on nomatch*: matches no machine"));
    d.require_selection = true;
    CHECK_THROWS_WITH(deploy::select_machines(d, {}), Catch::Contains("requireSelection"));
}
