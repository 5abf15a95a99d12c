// Golden files for the request bodies fedi sends to Garage's admin API (v1 and v2) and to
// Proxmox VE: the clients talk to a recorder (test/tools/http_recorder.py) that answers
// from a table and keeps every request; method, target, content type and body are
// compared byte for byte with test/data/golden/http/.
#include "core/error.hpp"
#include "core/process.hpp"
#include "golden.hpp"
#include "http/http.hpp"
#include "provider/proxmox_api.hpp"
#include "storage/garage_admin.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fmt/format.h>

using namespace fedi;
using fedi::test::check_golden;
using nlohmann::json;

namespace {

struct Recorder {
    std::unique_ptr<ChildProcess> child;
    std::string url;

    Recorder(const json& replies, bool tls) {
        std::vector<std::string> argv = {
            "python3",
            (std::filesystem::path(FEDI_TEST_DIR) / "tools" / "http_recorder.py").string(),
            "--replies", replies.dump()};
        if (tls)
            argv.push_back("--tls");
        child = std::make_unique<ChildProcess>(argv);
        std::string line;
        char c;
        while (child->read_some(&c, 1) == 1 && c != '\n')
            line += c;
        if (line.empty()) {
            child->wait();
            FAIL("the recorder did not start: " << child->stderr_text());
        }
        url = json::parse(line).at("url").get<std::string>();
    }

    // Every request so far, one block each: "METHOD TARGET", the content type, the body.
    std::string requests() const {
        http::ClientOptions o;
        o.tls.insecure = true;
        http::Client client(o);
        auto r = client.send({"GET", url + "/_recorder/requests", {}, ""});
        REQUIRE(r.status == 200);
        std::string out;
        for (const auto& req : json::parse(r.body))
            out +=
                fmt::format("{} {}\ncontent-type: {}\n\n{}\n\n", req["method"].get<std::string>(),
                            req["target"].get<std::string>(), req["contentType"].get<std::string>(),
                            req["body"].get<std::string>());
        return out;
    }
};

void garage_calls(storage::garage::GarageAdmin& admin) {
    using namespace storage::garage;
    admin.create_bucket("media");
    admin.set_quotas("b0", {std::uint64_t(1) << 30, std::nullopt});
    admin.enable_website("b0", "index.html", "error.html");
    admin.disable_website("b0");
    admin.create_key("web");
    admin.import_key("GK0123456789abcdef01234567", "golden-not-a-secret", "imported");
    admin.allow_key("b0", "GK0123456789abcdef01234567", {true, true, false});
    admin.deny_key("b0", "GK0123456789abcdef01234567", {false, false, true});
    admin.stage_role_changes({{{"a1", "dc1", std::uint64_t(2) << 40, {"fast", "ssd"}}, false},
                              {{"b2", "dc2", std::nullopt, {}}, false},
                              {{"c3", "", std::nullopt, {}}, true}});
    admin.apply_layout(3);
    admin.revert_layout();
    admin.connect_nodes({"a1@10.0.0.1:3901"});
    admin.delete_bucket("b0");
    admin.delete_key("GK0123456789abcdef01234567");
}

} // namespace

TEST_CASE("golden: the requests fedi sends to Garage's admin API", "[golden]") {
    for (auto [version, name] :
         {std::pair{storage::garage::ApiVersion::V2, "http/garage-v2.txt"},
          std::pair{storage::garage::ApiVersion::V1, "http/garage-v1.txt"}}) {
        INFO(name);
        // One answer that every call can read (unknown fields are ignored), but connect.
        const json any = {{"id", "b0"},
                          {"accessKeyId", "GK0123456789abcdef01234567"},
                          {"version", 3},
                          {"roles", json::array()},
                          {"stagedRoleChanges", json::array()},
                          {"layout", {{"version", 3}, {"roles", json::array()}}},
                          {"message", json::array()}};
        json replies = json::array();
        replies.push_back(
            {"POST", "Connect|/connect", 200, R"([{"success": true, "error": null}])"});
        for (const char* method : {"GET", "POST", "PUT", "DELETE"})
            replies.push_back({method, ".", 200, any.dump()});
        Recorder recorder(replies, false);
        storage::garage::GarageAdmin admin({recorder.url, "golden-admin-token", version, {}});
        garage_calls(admin);
        check_golden(name, recorder.requests());
    }
}

TEST_CASE("golden: the requests fedi sends to Proxmox VE", "[golden]") {
    using namespace provider::pve;
    const std::string upid = "UPID:pve:0000ABCD:00012345:65A1B2C3:qmclone:9000:root@pam:";
    Recorder recorder(
        json::array({json::array({"GET", "^/api2/json/cluster/resources", 200, R"({"data": []})"}),
                     json::array({"POST", "/clone$", 200, json({{"data", upid}}).dump()}),
                     json::array({"GET", "/tasks/.*/status$", 200,
                                  R"({"data": {"status": "stopped", "exitstatus": "OK"}})"}),
                     json::array({"GET", "/tasks/.*/log", 200, R"({"data": []})"}),
                     json::array({"(GET|POST|PUT|DELETE)", ".", 200, R"({"data": null})"})}),
        true);
    PveConfig config;
    config.endpoint = recorder.url;
    config.node = "pve";
    config.token = "root@pam!golden=00000000-0000-0000-0000-000000000000";
    config.insecure = true;
    PveClient client(config);
    CloneRequest clone;
    clone.template_vmid = 9000;
    clone.name = "web-1";
    clone.newid = 101;
    clone.storage = "local-lvm";
    clone.description = "made by fedi: web-1 & co";
    client.clone(clone);
    VmRef vm{"pve", 101};
    client.set_config(vm,
                      {{"ipconfig0", "ip=10.0.0.5/24,gw=10.0.0.1"},
                       {"sshkeys", encode_sshkeys({"ssh-ed25519 AAAAC3Nz+/Q= ops@example.org"})},
                       {"memory", "2048"}},
                      {std::string("3f2a"), false});
    client.set_config(vm, {{"description", "a+b c"}}, {std::nullopt, true});
    client.resize(vm, "scsi0", "+10G");
    client.start(vm);
    client.shutdown(vm, 60, true);
    client.destroy(vm, {});
    check_golden("http/proxmox.txt", recorder.requests());
}
