// Inputs the fuzz targets (fuzz/) found or that were found while writing them: each
// parser of untrusted bytes answers them with a result or a fedi::Error, never with
// undefined behaviour or a stray std:: or nlohmann exception.
#include "core/error.hpp"
#include "host/host.hpp"
#include "host/secrets.hpp"
#include "model_test_util.hpp"
#include "provider/proxmox_format.hpp"
#include "state/state.hpp"
#include "storage/garage_admin.hpp"
#include "storage/rgw_admin.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace fedi;
using nlohmann::json;

TEST_CASE("untrusted input: a state whose version is not an integer is refused naming the file") {
    for (auto text : {R"({"version": "1"})", R"({"version": null})", R"({"version": [2]})"}) {
        INFO(text);
        try {
            state::parse(text, "/d/.fedi/state.json");
            FAIL("accepted");
        } catch (const Error& e) {
            CHECK_THAT(e.message(),
                       Catch::Contains("/d/.fedi/state.json") && Catch::Contains("\"version\""));
        }
    }
    CHECK(state::parse(R"({"version": 1})", "f").version == 1);
}

TEST_CASE("untrusted input: Proxmox numbers far out of range are no answer, not a cast") {
    using provider::pve::json_int;
    CHECK(json_int(json(1e300), 7) == 7);
    CHECK(json_int(json(-1e300), 7) == 7);
    CHECK(json_int(json(1e19), 7) == 7);
    CHECK(json_int(json(42.9), 7) == 42);
    CHECK(json_int(json(-3.0), 7) == -3);
    auto interfaces = provider::pve::parse_guest_interfaces(json::parse(
        R"({"result": [{"name": "eth0", "ip-addresses": [{"ip-address": "10.0.0.5",
            "prefix": 1e300}]}]})"));
    REQUIRE(interfaces.size() == 1);
    CHECK(interfaces[0].addresses.at(0).prefix == 0);
}

TEST_CASE("untrusted input: an RGW flag sent as a huge float is read, not cast") {
    auto user = json::parse(R"({"user_id": "a", "suspended": 1e300})").get<storage::rgw::User>();
    CHECK(user.suspended);
    auto other = json::parse(R"({"user_id": "a", "suspended": 0.0})").get<storage::rgw::User>();
    CHECK(!other.suspended);
}

TEST_CASE("untrusted input: Garage and RGW counts and versions must be integers") {
    using namespace storage::garage;
    // Through storage::parsing, as the clients read answers: the error names the operation.
    auto refused = [](const char* text, auto parse) {
        INFO(text);
        try {
            storage::parsing("Garage", "GetX", [&] { parse(json::parse(text)); });
            FAIL("accepted");
        } catch (const Error& e) {
            CHECK_THAT(e.message(), Catch::Contains("Garage GetX: unexpected answer") &&
                                        Catch::Contains("not an integer"));
        }
    };
    refused(R"({"version": 1e300})", [](const json& j) { j.get<Layout>(); });
    refused(R"({"version": -1.5})", [](const json& j) { j.get<Layout>(); });
    refused(R"({"status": "healthy", "knownNodes": 1e300})",
            [](const json& j) { j.get<Health>(); });
    refused(R"({"id": "b", "quotas": {"maxSize": 1e300}})",
            [](const json& j) { j.get<BucketInfo>(); });
    refused(R"({"version": 1, "roles": [{"id": "n", "capacity": -1e300}]})",
            [](const json& j) { j.get<Layout>(); });
    refused(R"({"bucket": "b", "id": "i", "usage": {"rgw.main": {"size": 510.8192}}})",
            [](const json& j) { j.get<storage::rgw::Bucket>(); });
    CHECK(json::parse(R"({"version": 3})").get<Layout>().version == 3);
}

TEST_CASE("untrusted input: a generation number out of range is an error, not std::out_of_range") {
    auto s = host::parse_system_status("profile=/nix/store/a-sys\nlink=system-12-link\n"
                                       "current=/nix/store/a-sys\n");
    CHECK(s.generation == 12);
    CHECK(s.profile == "/nix/store/a-sys");
    CHECK_THROWS_WITH(host::parse_system_status("link=system-99999999999-link\n"),
                      Catch::Contains("system-99999999999-link") &&
                          Catch::Contains("out of range"));
}

TEST_CASE("untrusted input: a secrets listing with a mode that is not octal is an error") {
    auto list = host::parse_secret_list("root root 400 /var/lib/fedi/secrets/a\n");
    REQUIRE(list.size() == 1);
    CHECK(list[0].mode == 0400);
    CHECK(list[0].name == "a");
    // A file name with a newline makes a second line of the listing.
    for (auto out : {"root root 400 /s/a\n1 2 zz /q\n", "root root 99999999999999999999999 /s/b\n",
                     "root root 4-0 /s/c\n"}) {
        INFO(out);
        CHECK_THROWS_WITH(host::parse_secret_list(out), Catch::Contains("not a file mode"));
    }
}

TEST_CASE("untrusted input: an evaluated path whose value is not a string is a usage error") {
    json j = {{"machines",
               {{"web", {{"ssh", {{"host", "10.0.0.1"}}}, {"system", test::derivation("web")}}}}}};
    j["machines"]["web"]["ssh"]["identityFile"] = {{"__fedi", "path"}, {"value", 3}};
    CHECK_THAT(test::usage_message(j),
               Catch::StartsWith("machines.web.ssh.identityFile: expected a file name, got a "
                                 "path without one"));
    j["machines"]["web"]["ssh"].erase("identityFile");
    j["machines"]["web"]["system"] = {{"__fedi", "path"}, {"value", json::array()}};
    CHECK_THAT(test::usage_message(j),
               Catch::StartsWith("machines.web.system: expected a derivation") &&
                   Catch::Contains("a path (without a file name)"));
}

TEST_CASE("untrusted input: a system derivation whose paths are not strings is a usage error") {
    // Found by fuzz_deployment in a 10-minute run: drvPath as an attribute set escaped
    // as a nlohmann type_error.
    auto j = json{{"machines",
                   {{"web",
                     {{"ssh", {{"host", "10.0.0.1"}}},
                      {"system",
                       {{"__fedi", "derivation"},
                        {"drvPath", {{"zone", "dc2"}}},
                        {"outputPath", "/nix/store/b-web"}}}}}}}};
    CHECK(test::usage_message(j) ==
          "machines.web.system: the evaluated derivation has no drvPath string");
    j["machines"]["web"]["system"]["drvPath"] = "/nix/store/a-web.drv";
    j["machines"]["web"]["system"]["outputPath"] = 7;
    CHECK(test::usage_message(j) ==
          "machines.web.system: the evaluated derivation has no outputPath string");
    j["machines"]["web"]["system"]["outputPath"] = "/nix/store/b-web";
    CHECK(test::usage_message(j) == "no error");
}

TEST_CASE("untrusted input: an RGW error answer whose Code is not a string is still shown") {
    // Found by a 10-minute fuzz_rgw run: a number as "Code" escaped as a nlohmann
    // type_error while fedi was describing the error.
    http::Response r;
    r.status = 404;
    r.body = R"({"Code": 666, "Message": ["no", "such"]})";
    auto message = storage::rgw::rgw_error_message("GetUserInfo", r);
    CHECK_THAT(message, Catch::Contains("666") && Catch::Contains("GetUserInfo"));
}
