// The Proxmox VE client against the Proxmox test server (test/servers/proxmox), over
// HTTPS: a VM's whole life, TLS trust, authentication, and the faults a busy cluster
// shows (lock timeouts, VMID races, failing tasks), armed through the server's /_test API.
#include "core/error.hpp"
#include "core/process.hpp"
#include "http/http.hpp"
#include "provider/proxmox_api.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>

using namespace fedi;
using namespace fedi::provider::pve;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string server_script =
    (fs::path(FEDI_TEST_DATA_DIR) / ".." / "servers" / "proxmox" / "pve_test_server.py").string();

std::string random_hex(int n) {
    static std::mt19937_64 rng{std::random_device{}()};
    std::string out;
    for (int i = 0; i < n; ++i)
        out += "0123456789abcdef"[rng() % 16];
    return out;
}

// One test server with its own state directory; stopped when this goes out of scope.
struct PveServer {
    fs::path dir;
    std::unique_ptr<ChildProcess> child;
    json info;
    std::string token = "root@pam!fedi=" + random_hex(32);

    explicit PveServer(std::vector<std::string> extra = {}) {
        char tmpl[] = "/tmp/fedi-pve-api-XXXXXX";
        REQUIRE(mkdtemp(tmpl));
        dir = tmpl;
        // stderr goes to a file: the server writes there only when something went wrong.
        std::vector<std::string> argv = {"sh",
                                         "-c",
                                         "f=$1; shift; exec \"$@\" 2>\"$f\"",
                                         "sh",
                                         (dir / "server.err").string(),
                                         "python3",
                                         server_script,
                                         "--port",
                                         "0",
                                         "--state-dir",
                                         dir.string(),
                                         "--token",
                                         token,
                                         "--task-delay",
                                         "0.05",
                                         "--boot-delay",
                                         "0.3"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        child = std::make_unique<ChildProcess>(argv);
        std::string line;
        char c;
        while (child->read_some(&c, 1) == 1 && c != '\n')
            line += c;
        INFO(stderr_text());
        REQUIRE(!line.empty());
        info = json::parse(line);
    }
    ~PveServer() {
        child.reset();
        fs::remove_all(dir);
    }
    std::string stderr_text() const {
        std::ifstream in(dir / "server.err");
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }
    // Stops the server and checks that it logged no error (e.g. a result that did not
    // match the schema).
    void finish() {
        child.reset();
        CHECK(stderr_text() == "");
    }

    PveConfig config() const {
        PveConfig c;
        c.endpoint = info["url"];
        c.node = "pve1";
        c.token = token;
        c.token_source = "tokenFile /run/secrets/pve";
        c.ca_file = info["caFile"].get<std::string>();
        c.timeouts.poll_min = Millis(20);
        c.timeouts.poll_max = Millis(100);
        c.timeouts.task = Millis(20'000);
        c.retry.backoff = Millis(10);
        c.retry.max_backoff = Millis(40);
        c.retry.settle = Millis(200);
        return c;
    }

    json control(const std::string& method, const std::string& path, const json& body = {}) {
        http::ClientOptions options;
        options.tls.ca_file = info["caFile"];
        http::Client client(options);
        http::Request r{method, info["controlUrl"].get<std::string>() + path, {}, ""};
        if (!body.is_null()) {
            r.body = body.dump();
            r.headers.push_back({"Content-Type", "application/json"});
        }
        auto response = client.send(r);
        INFO(response.body);
        REQUIRE(response.status == 200);
        return json::parse(response.body);
    }
    json state() { return control("GET", "/state"); }
    std::vector<json> requests(const std::string& method, const std::string& path_part) {
        std::vector<json> out;
        for (const auto& r : control("GET", "/requests"))
            if (r.value("method", "") == method &&
                r.value("path", "").find(path_part) != std::string::npos)
                out.push_back(r);
        return out;
    }
};

template <typename F> ApiError api_error_of(F&& f) {
    try {
        f();
    } catch (const ApiError& e) {
        return e;
    }
    FAIL("no ApiError thrown");
    throw 0;
}

int count_named(PveClient& client, const std::string& name) {
    int n = 0;
    for (const auto& vm : client.list_vms())
        n += vm.name == name;
    return n;
}

} // namespace

TEST_CASE("PVE client: a VM's life from template to destroy", "[pve]") {
    PveServer server;
    std::vector<std::string> notices;
    auto config = server.config();
    config.on_notice = [&](const std::string& n) { notices.push_back(n); };
    PveClient client(config);

    auto v = client.version();
    CHECK(!v.version.empty());
    CHECK(v.version.rfind(v.release, 0) == 0);
    auto nodes = client.nodes();
    REQUIRE(nodes.size() >= 1);
    CHECK(nodes[0].node == "pve1");
    CHECK(nodes[0].ssl_fingerprint == server.info["fingerprint"]);

    auto storages = client.storages();
    auto linstor = std::find_if(storages.begin(), storages.end(),
                                [](const auto& s) { return s.storage == "linstor"; });
    REQUIRE(linstor != storages.end());
    CHECK(linstor->shared);
    CHECK(linstor->enabled);
    CHECK(linstor->active);
    CHECK(linstor->holds("images"));
    CHECK(linstor->total > 0);
    auto status = client.storage_status("linstor");
    CHECK(status.type == linstor->type);
    CHECK(status.shared);
    CHECK_THROWS_WITH(client.storage_status("nope"), Catch::Contains("No such storage"));

    auto id = client.next_free_vmid();
    CHECK(id >= 100);
    CHECK_FALSE(client.vm_exists(id));
    CHECK(client.find_vm(9000)->is_template);

    std::vector<std::string> clone_log;
    auto cloned = client.clone({9000, "web-1", std::nullopt, true, std::string("linstor")},
                               [&](const std::string& line) { clone_log.push_back(line); });
    CHECK(cloned.vm.vmid == id);
    CHECK(cloned.vm.node == "pve1");
    CHECK_FALSE(cloned.adopted);
    CHECK(cloned.attempts == 1);
    CHECK(parse_upid(cloned.upid).type == "qmclone");
    REQUIRE(!clone_log.empty());
    CHECK_THAT(clone_log.back(), Catch::Contains("TASK OK"));
    CHECK(client.find_vm_by_name("web-1")->vmid == id);
    CHECK_FALSE(client.find_vm_by_name("no-such-vm"));

    // Values with '=', '+', ',', '/' and spaces arrive intact; sshkeys read back encoded.
    std::vector<std::string> keys = {
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBl9kS3hZ5lG0cY8cM0c8u+J7xwGq/yZ1r3zQ2n7t9Ab ops@x",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC2hN0bJ1yq7Yk5t9rW3vXJ+0T8fY6wQy8J1s0p9Lr0z ci"};
    auto vm = cloned.vm;
    client.set_config(vm, {{"cores", "4"},
                           {"memory", "4096"},
                           {"sshkeys", encode_sshkeys(keys)},
                           {"ipconfig0", "ip=10.1.2.3/24,gw=10.1.2.1"},
                           {"net0", "virtio,bridge=vmbr0,firewall=1"},
                           {"description", "a+b & c=d, e/f"}});
    auto cfg = client.get_config(vm);
    CHECK(json_int(cfg["cores"]) == 4);
    CHECK(json_int(cfg["memory"]) == 4096);
    CHECK(cfg["ipconfig0"] == "ip=10.1.2.3/24,gw=10.1.2.1");
    CHECK(cfg["description"] == "a+b & c=d, e/f");
    CHECK(decode_sshkeys(json_string(cfg["sshkeys"])) == keys);
    auto mac = mac_of_net(json_string(cfg["net0"]));
    REQUIRE(mac); // Proxmox gave the NIC a MAC

    // Optimistic locking: a stale digest is refused, the current one accepted.
    auto digest = json_string(cfg["digest"]);
    client.set_config(vm, {{"cores", "2"}}, {digest, true});
    auto stale = api_error_of([&] { client.set_config(vm, {{"cores", "3"}}, {digest}); });
    CHECK_THAT(stale.message(), Catch::Contains("checksum mismatch"));
    CHECK(json_int(client.get_config(vm)["cores"]) == 2);

    client.resize(vm, "scsi0", "+2G");
    CHECK_THAT(json_string(client.get_config(vm)["scsi0"]), Catch::Contains("size=10G"));

    CHECK_FALSE(client.status_current(vm).running());
    auto not_running = api_error_of([&] { client.wait_for_agent(vm, Millis(2000)); });
    CHECK_THAT(not_running.message(), Catch::Contains("not running"));
    client.start(vm);
    client.start(vm); // already running is fine
    auto st = client.status_current(vm);
    CHECK(st.running());
    CHECK(st.agent);
    client.wait_for_agent(vm, Millis(10'000));

    auto ifaces = client.agent_network_interfaces(vm);
    auto eth0 = std::find_if(ifaces.begin(), ifaces.end(), [&](auto& i) { return i.mac == *mac; });
    REQUIRE(eth0 != ifaces.end());
    REQUIRE(!eth0->addresses.empty());
    auto address = client.guest_address(vm);
    REQUIRE(address);
    CHECK(*address == eth0->addresses.front().ip);
    CHECK(*address != "127.0.0.1"); // not lo's

    auto key = client.agent_file_read(vm, "/etc/ssh/ssh_host_ed25519_key.pub");
    CHECK(key.content.rfind("ssh-ed25519 AAAA", 0) == 0);
    CHECK_FALSE(key.truncated);
    CHECK_THAT(api_error_of([&] { client.agent_file_read(vm, "/etc/none"); }).message(),
               Catch::Contains("No such file") && Catch::Contains("/agent/file-read"));

    auto running = api_error_of([&] { client.destroy(vm); });
    CHECK(running.status() == 500);
    CHECK_THAT(running.message(), Catch::Contains("is running"));
    client.shutdown(vm, 30);
    CHECK_FALSE(client.status_current(vm).running());
    client.start(vm);
    client.stop(vm);
    client.stop(vm); // stopped is fine
    client.destroy(vm);
    CHECK_FALSE(client.vm_exists(id));
    for (const auto& vol : server.state()["volumes"].items())
        CHECK_THAT(vol.value().dump(), !Catch::Contains("vm-" + std::to_string(id) + "-"));
    CHECK(notices.size() <= 1); // only "waiting for the QEMU guest agent"
    server.finish();
}

TEST_CASE("PVE client: TLS trust by CA file, fingerprint or key pin, else a clear refusal",
          "[pve]") {
    PveServer server;
    auto base = server.config();
    base.ca_file.reset();

    auto no_trust = api_error_of([&] { PveClient(base).version(); });
    CHECK(no_trust.cause() == ApiError::Cause::Tls);
    CHECK_THAT(no_trust.message(), Catch::Contains(base.endpoint) && Catch::Contains("caFile") &&
                                       Catch::Contains("fingerprint"));

    std::string fingerprint = server.info["fingerprint"];
    auto pinned = base;
    pinned.fingerprint = fingerprint;
    CHECK(!PveClient(pinned).version().version.empty());
    std::string bare;
    for (char c : fingerprint)
        if (c != ':')
            bare += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    pinned.fingerprint = bare;
    CHECK(!PveClient(pinned).version().version.empty());
    pinned.fingerprint = server.info["publicKeyPin"].get<std::string>();
    CHECK(!PveClient(pinned).version().version.empty());
    auto both = server.config();
    both.fingerprint = fingerprint;
    CHECK(!PveClient(both).version().version.empty());

    // Every API call the server received is logged; the probe for the certificate is no
    // API call.
    auto before = server.control("GET", "/requests").size();
    CHECK(before == 4);
    auto wrong = base;
    std::string other = fingerprint;
    other[0] = other[0] == 'A' ? 'B' : 'A';
    wrong.fingerprint = other;
    auto mismatch = api_error_of([&] { PveClient(wrong).version(); });
    CHECK(mismatch.cause() == ApiError::Cause::Tls);
    CHECK_THAT(mismatch.message(), Catch::Contains(fingerprint) && Catch::Contains(other));
    // The token never went to the server whose certificate did not match.
    CHECK(server.control("GET", "/requests").size() == before);
    wrong.fingerprint = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    CHECK(api_error_of([&] { PveClient(wrong).version(); }).cause() == ApiError::Cause::Tls);
    CHECK(server.control("GET", "/requests").size() == before);

    auto insecure = base;
    insecure.insecure = true;
    CHECK(!PveClient(insecure).version().version.empty());

    CHECK_THROWS_WITH(PveClient([&] {
                          auto c = base;
                          c.endpoint = "http://127.0.0.1:8006";
                          return c;
                      }()),
                      Catch::Contains("https://"));
    server.finish();
}

TEST_CASE("PVE client: a refused token is a clear authentication error without the secret",
          "[pve]") {
    PveServer server;
    auto config = server.config();
    config.token = "root@pam!fedi=0000-not-the-secret-1111";
    auto e = api_error_of([&] { PveClient(config).version(); });
    CHECK(e.cause() == ApiError::Cause::Auth);
    CHECK(e.status() == 401);
    CHECK_THAT(e.message(), Catch::Contains("rejected the API token root@pam!fedi") &&
                                Catch::Contains("invalid token value!") &&
                                Catch::Contains("tokenFile /run/secrets/pve") &&
                                !Catch::Contains("not-the-secret"));
    config.token = "root@pam!other=0000-not-the-secret-1111";
    auto unknown = api_error_of([&] { PveClient(config).nodes(); });
    CHECK_THAT(unknown.message(),
               Catch::Contains("no such token") && !Catch::Contains("not-the-secret"));
    // A good token, to be sure the server was fine all along.
    CHECK(!PveClient(server.config()).nodes().empty());
    server.finish();
}

TEST_CASE("PVE client: lock timeouts are retried until they pass", "[pve]") {
    PveServer server;
    std::vector<std::string> notices;
    auto config = server.config();
    config.retry.attempts = 4;
    config.on_notice = [&](const std::string& n) { notices.push_back(n); };
    PveClient client(config);

    server.control("POST", "/inject", {{"kind", "lock-timeout"}, {"op", "clone"}, {"count", 2}});
    auto cloned = client.clone({9000, "locked-1"});
    CHECK(cloned.attempts == 3);
    CHECK(server.requests("POST", "/clone").size() == 3);
    CHECK(count_named(client, "locked-1") == 1);
    REQUIRE(notices.size() == 2);
    CHECK_THAT(notices[0], Catch::Contains("got timeout") && Catch::Contains("attempt 2 of 4"));
    auto vm = cloned.vm;

    // POST config: the lock fails the task; PUT config: the lock fails the request (500).
    server.control("POST", "/inject", {{"kind", "lock-timeout"}, {"op", "config"}, {"count", 2}});
    client.set_config(vm, {{"cores", "3"}});
    CHECK(json_int(client.get_config(vm)["cores"]) == 3);
    server.control("POST", "/inject", {{"kind", "lock-timeout"}, {"op", "config"}, {"count", 2}});
    auto puts_before = server.requests("PUT", "/config").size();
    client.set_config(vm, {{"cores", "5"}}, {std::nullopt, true});
    CHECK(json_int(client.get_config(vm)["cores"]) == 5);
    auto puts = server.requests("PUT", "/config");
    REQUIRE(puts.size() == puts_before + 3);
    CHECK(puts[puts_before].value("status", 0) == 500);

    for (auto op : {"resize", "start", "stop", "delete"})
        server.control("POST", "/inject", {{"kind", "lock-timeout"}, {"op", op}, {"count", 1}});
    client.resize(vm, "scsi0", "12G");
    client.start(vm);
    client.stop(vm);
    client.destroy(vm);
    CHECK_FALSE(client.vm_exists(vm.vmid));

    // More timeouts than attempts: the error says so.
    server.control("POST", "/inject", {{"kind", "lock-timeout"}, {"op", "clone"}, {"count", 10}});
    auto e = api_error_of([&] { client.clone({9000, "locked-2"}); });
    CHECK_THAT(e.describe(), Catch::Contains("got timeout") && Catch::Contains("4 attempts"));
    CHECK(count_named(client, "locked-2") == 0);
    server.control("DELETE", "/inject");
    server.finish();
}

TEST_CASE("PVE client: VMID races end in exactly one VM with our name", "[pve]") {
    PveServer server;
    PveClient client(server.config());

    // The id from nextid is taken while our clone task runs, twice.
    server.control("POST", "/inject", {{"kind", "id-race"}, {"count", 2}, {"stage", "task"}});
    auto a = client.clone({9000, "race-task"});
    CHECK(a.attempts == 3);
    CHECK(count_named(client, "race-task") == 1);
    CHECK(client.find_vm_by_name("race-task")->vmid == a.vm.vmid);
    int intruders = 0;
    for (const auto& vm : client.list_vms())
        if (vm.name.rfind("other-creator-", 0) == 0) {
            ++intruders;
            CHECK(vm.vmid != a.vm.vmid);
        }
    CHECK(intruders == 2);

    // Taken before the clone call is answered: the call itself fails.
    server.control("POST", "/inject", {{"kind", "id-race"}, {"count", 1}, {"stage", "request"}});
    auto b = client.clone({9000, "race-request"});
    CHECK(b.attempts == 2);
    CHECK(count_named(client, "race-request") == 1);

    // A fixed VMID that is taken is the caller's problem: no retry with another id.
    auto taken = api_error_of([&] { client.clone({9000, "fixed", a.vm.vmid}); });
    CHECK(taken.already_exists());
    CHECK(count_named(client, "fixed") == 0);
    server.finish();
}

TEST_CASE("PVE client: failing tasks and refused parameters say what Proxmox said", "[pve]") {
    PveServer server;
    PveClient client(server.config());
    auto vm = client.clone({9000, "fails"}).vm;

    server.control(
        "POST", "/inject",
        {{"kind", "task-fail"}, {"op", "start"}, {"count", 1}, {"message", "disk on fire"}});
    auto failed = api_error_of([&] { client.start(vm); });
    CHECK(failed.cause() == ApiError::Cause::Task);
    CHECK(failed.remote_message() == "disk on fire");
    CHECK_THAT(failed.message(), Catch::Contains("qmstart") && Catch::Contains("disk on fire") &&
                                     Catch::Contains("TASK ERROR: disk on fire"));
    REQUIRE(!failed.log_tail.empty());
    CHECK(failed.log_tail.back() == "TASK ERROR: disk on fire");

    auto shrink = api_error_of([&] { client.resize(vm, "scsi0", "1G"); });
    CHECK_THAT(shrink.message(), Catch::Contains("shrinking disks is not supported"));

    auto unknown = api_error_of([&] { client.set_config(vm, {{"bogus-option", "1"}}); });
    CHECK(unknown.status() == 400);
    CHECK(unknown.param_errors.count("bogus-option") == 1);
    CHECK_THAT(unknown.message(),
               Catch::StartsWith("Proxmox POST /nodes/pve1/qemu/" + std::to_string(vm.vmid) +
                                 "/config: 400 Parameter verification failed: bogus-option: "));
    auto bad_net = api_error_of([&] { client.set_config(vm, {{"net0", "virtio,tag=99999"}}); });
    CHECK_THAT(bad_net.message(), Catch::Contains("net0"));
    auto bad_clone = api_error_of([&] { client.clone({9000, "x", 1}); });
    CHECK_THAT(bad_clone.message(), Catch::Contains("newid"));
    auto no_path = api_error_of([&] { client.get("/nodes/pve1/nothing-here"); });
    CHECK(no_path.status() == 501);
    CHECK_THAT(no_path.message(), Catch::Contains("not implemented"));
    auto other_node = api_error_of([&] { client.get_config({"pve2", vm.vmid}); });
    CHECK_THAT(other_node.message(), Catch::Contains("does not exist"));

    // The guest agent: down means a timeout that says what it waited for.
    client.start(vm);
    server.control("POST", "/guest", {{"vmid", vm.vmid}, {"agent", "down"}});
    auto agent = api_error_of([&] { client.wait_for_agent(vm, Millis(400)); });
    CHECK(agent.cause() == ApiError::Cause::Timeout);
    CHECK_THAT(agent.message(), Catch::Contains("guest agent") &&
                                    Catch::Contains("QEMU guest agent is not running"));
    server.control("POST", "/guest", {{"vmid", vm.vmid}, {"agent", "up"}});
    client.wait_for_agent(vm, Millis(2000));
    server.finish();
}

TEST_CASE("PVE client: a clone whose answer was lost is found, not made twice", "[pve]") {
    PveServer server({"--task-delay", "0.4"});
    // A proxy that forwards the clone calls but drops their answers (twice).
    auto dir = server.dir;
    ChildProcess proxy(
        {"python3",
         (fs::path(FEDI_TEST_DATA_DIR) / ".." / "tools" / "https_drop_proxy.py").string(),
         "--upstream", server.info["url"], "--cafile", server.info["caFile"], "--cert",
         (dir / "pve-ssl.pem").string(), "--key", (dir / "pve-ssl.key").string(), "--drop",
         "^POST .*/clone$", "--count", "2"});
    std::string port;
    char c;
    while (proxy.read_some(&c, 1) == 1 && c != '\n')
        port += c;
    REQUIRE(!port.empty());
    auto config = server.config();
    config.endpoint = "https://127.0.0.1:" + port;
    std::vector<std::string> notices;
    config.on_notice = [&](const std::string& n) { notices.push_back(n); };
    PveClient client(config);

    // The clone happened: it is adopted once its task is done.
    auto a = client.clone({9000, "lost-answer"});
    CHECK(a.adopted);
    CHECK(a.attempts == 1);
    CHECK(server.requests("POST", "/clone").size() == 1);
    CHECK(count_named(client, "lost-answer") == 1);
    CHECK(client.find_vm(a.vm.vmid)->lock.empty());
    REQUIRE(!notices.empty());
    // (found by name while its clone still held the lock, then waited for)
    CHECK_THAT(notices.front(), Catch::Contains("found VM " + std::to_string(a.vm.vmid)) &&
                                    Catch::Contains("'lost-answer'"));

    // The unanswered clone failed: Proxmox removed it, so clone again.
    server.control("POST", "/inject", {{"kind", "task-fail"}, {"op", "clone"}, {"count", 1}});
    auto b = client.clone({9000, "lost-and-failed"});
    CHECK_FALSE(b.adopted);
    CHECK(b.attempts == 2);
    CHECK(server.requests("POST", "/clone").size() == 3);
    CHECK(count_named(client, "lost-and-failed") == 1);
    server.finish();
}

TEST_CASE("PVE client: a task log that is still empty is not a line of the task", "[pve]") {
    // Each task waits in silence first, as a clone waiting for its locks does: its log
    // reads as pve-common dump_logfile's placeholder, [{n: 1, t: "no content"}], total 1.
    PveServer server({"--quiet-start", "0.4"});
    PveClient client(server.config());
    auto newid = client.next_free_vmid();
    auto upid = json_string(client.post("/nodes/pve1/qemu/9000/clone",
                                        {{"newid", std::to_string(newid)}, {"name", "quiet"}}));
    auto log_path = "/nodes/pve1/tasks/" + upid + "/log";
    CHECK(client.get(log_path) == json::parse(R"([{"n": 1, "t": "no content"}])"));
    std::vector<std::string> lines;
    client.wait_task(upid, std::nullopt, [&](const std::string& l) { lines.push_back(l); });
    // Every line of the task, from its first, and nothing else.
    auto whole = client.task_log_tail(upid, 100);
    CHECK(lines == whole);
    REQUIRE(!lines.empty());
    CHECK_THAT(lines.front(), Catch::StartsWith("create full clone of drive"));
    CHECK(std::find(lines.begin(), lines.end(), "no content") == lines.end());
    server.finish();
}

TEST_CASE("PVE client: a VMID taken on another node is an id race, retried", "[pve]") {
    PveServer server;
    auto config = server.config();
    std::vector<std::string> notices;
    config.on_notice = [&](const std::string& n) { notices.push_back(n); };
    PveClient client(config);
    // The other creator's VM appears on pve2 while our clone on pve1 runs: pmxcfs refuses
    // the clone's config file ("close (rename) atomic file ... failed: File exists").
    server.control("POST", "/inject",
                   {{"kind", "id-race"}, {"count", 1}, {"stage", "task"}, {"node", "pve2"}});
    auto a = client.clone({9000, "race-cross-node"});
    CHECK(a.attempts == 2);
    CHECK(count_named(client, "race-cross-node") == 1);
    auto intruders = 0;
    for (const auto& vm : client.list_vms())
        if (vm.name.rfind("other-creator-", 0) == 0) {
            ++intruders;
            CHECK(vm.node == "pve2");
            CHECK(vm.vmid != a.vm.vmid);
        }
    CHECK(intruders == 1);
    REQUIRE(!notices.empty());
    CHECK_THAT(notices.front(), Catch::Contains("was taken by another creator"));

    // With a fixed VMID the same failure is the caller's problem, named as such.
    server.control("POST", "/inject",
                   {{"kind", "id-race"}, {"count", 1}, {"stage", "task"}, {"node", "pve2"}});
    auto next = client.next_free_vmid();
    auto taken = api_error_of([&] { client.clone({9000, "race-fixed", next}); });
    CHECK(taken.vmid_taken());
    CHECK_THAT(taken.describe(), Catch::Contains("File exists") && Catch::Contains("is taken"));
    server.finish();
}

TEST_CASE("PVE client: an error told only in the HTTP status line is shown", "[pve]") {
    // libpve-http-server-perl before 5.2.0 answered {"data": null} (and "errors"), with
    // the text in the status line only.
    PveServer server({"--http-server-version", "5.1.0"});
    PveClient client(server.config());
    auto missing = api_error_of([&] { client.get_config({"pve1", 4242}); });
    CHECK(missing.status() == 500);
    CHECK(missing.remote_message() ==
          "Configuration file 'nodes/pve1/qemu-server/4242.conf' does not exist");
    CHECK_THAT(missing.message(), Catch::Contains("500 Configuration file "
                                                  "'nodes/pve1/qemu-server/4242.conf' does not "
                                                  "exist"));
    auto unknown = api_error_of([&] {
        client.set_config({"pve1", 9000}, {{"bogus-option", "1"}});
    });
    CHECK(unknown.param_errors.count("bogus-option") == 1);
    CHECK_THAT(unknown.message(),
               Catch::Contains("400 Parameter verification failed: bogus-option: "));
    server.finish();
}
