// The Garage admin client against the Garage test server (test/servers/garage), which is
// built from Garage's official admin API documents and shares no code with the client.
// Each test starts its own server: as Garage 2.x (v2 API) and as Garage 1.x (v1 only).
#include "core/error.hpp"
#include "core/process.hpp"
#include "http/http.hpp"
#include "storage/garage_admin.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

using namespace fedi;
using namespace fedi::storage::garage;
using nlohmann::json;
namespace fs = std::filesystem;

using fedi::test::TempDir;

namespace {

const std::string server_script =
    (fs::path(FEDI_TEST_DIR) / "servers" / "garage" / "garage_test_server.py").string();

const std::string admin_token = "fedi-test-admin-token-3f9a1c";

// The test server as a child process, stopped (SIGTERM) when this goes out of scope.
struct GarageServer {
    TempDir dir;
    std::unique_ptr<ChildProcess> child;
    json ready;
    std::string endpoint;
    http::Client control_client;

    // release: the Garage release the server answers as, "0.9", "1" or "2".
    explicit GarageServer(const std::string& release, std::vector<std::string> extra = {}) {
        auto token_file = fs::path(dir / "admin-token");
        std::ofstream(token_file) << admin_token << "\n";
        std::vector<std::string> argv = {
            "python3",           server_script, "--port", "0",         "--admin-token-file",
            token_file.string(), "--nodes",     "3",      "--version", release};
        argv.insert(argv.end(), extra.begin(), extra.end());
        child = std::make_unique<ChildProcess>(argv, ProcessOptions{});
        std::string line;
        char c;
        while (child->read_some(&c, 1) == 1 && c != '\n')
            line += c;
        if (line.empty()) {
            child->wait();
            FAIL("the Garage test server did not start: " << child->stderr_text());
        }
        ready = json::parse(line);
        endpoint = ready.at("adminEndpoint").get<std::string>();
    }

    // The token as the caller reads it from the token file.
    std::string token_file_contents() const {
        std::ifstream in(dir / "admin-token");
        return std::string(std::istreambuf_iterator<char>(in), {});
    }

    GarageAdmin client(std::optional<ApiVersion> version = std::nullopt) const {
        return GarageAdmin({endpoint, token_file_contents(), version, {}});
    }

    std::string node_id(std::size_t i) const { return ready["nodes"].at(i)["id"]; }

    // The server's test-only /_test/ API (no token).
    json control(const std::string& method, const std::string& path, const json& body = nullptr) {
        http::Request r{method, endpoint + "/_test/" + path, {}, ""};
        if (!body.is_null()) {
            r.body = body.dump();
            r.headers.push_back({"Content-Type", "application/json"});
        }
        auto response = control_client.send(r);
        INFO(response.body);
        REQUIRE(response.status == 200);
        return json::parse(response.body);
    }

    // Admin API operations handled since the log was last cleared, in order.
    std::vector<std::string> operations() {
        std::vector<std::string> out;
        for (const auto& entry : control("GET", "requests"))
            out.push_back(entry["operation"].is_string() ? entry["operation"].get<std::string>()
                                                         : "?");
        return out;
    }
};

std::vector<LayoutRole> three_roles(const GarageServer& s, std::uint64_t capacity) {
    return {{s.node_id(0), "dc1", capacity, {"fast"}},
            {s.node_id(1), "dc2", capacity, {}},
            {s.node_id(2), "dc3", capacity, {"b", "a"}}};
}

bool contains(const std::vector<std::string>& list, const std::string& item) {
    return std::find(list.begin(), list.end(), item) != list.end();
}

// Runs f and returns the AdminError it must throw.
template <typename F> AdminError admin_error(F&& f) {
    try {
        f();
    } catch (const AdminError& e) {
        return e;
    }
    FAIL("no AdminError was thrown");
    return AdminError("", 0, ""); // not reached
}

} // namespace

TEST_CASE("Garage admin: the API version is detected for Garage 0.9, 1.x and 2.x", "[garage]") {
    std::string release = GENERATE(as<std::string>{}, "0.9", "1", "2");
    int server_version = release == "2" ? 2 : 1;
    GarageServer server(release);
    auto client = server.client();
    CHECK(static_cast<int>(client.version()) == server_version);

    auto log = server.control("GET", "requests");
    REQUIRE(!log.empty());
    CHECK(log[0]["path"] == "/v2/GetClusterHealth");
    if (server_version == 1) {
        // 0.9 and 1.x refuse the v2 probe as an unknown endpoint; v1 then answers.
        CHECK(log[0]["status"] == 400);
        REQUIRE(log.size() == 2);
        CHECK(log[1]["path"] == "/v1/health");
        CHECK(log[1]["status"] == 200);
    } else {
        CHECK(log.size() == 1);
        CHECK(log[0]["status"] == 200);
    }

    // Later calls use the detected version only, and detection happens once.
    server.control("DELETE", "requests");
    client.list_buckets();
    client.list_keys();
    client.health();
    log = server.control("GET", "requests");
    REQUIRE(log.size() == 3);
    for (const auto& entry : log) {
        CHECK(entry["api"] == (server_version == 1 ? "v1" : "v2"));
        CHECK(entry["status"] == 200);
    }

    // A version given in the configuration is used without probing.
    server.control("DELETE", "requests");
    auto configured = server.client(static_cast<ApiVersion>(server_version));
    configured.health();
    CHECK(server.operations().size() == 1);
}

TEST_CASE("Garage admin: a three-node layout is applied once, then left alone", "[garage]") {
    std::string release = GENERATE(as<std::string>{}, "0.9", "1", "2");
    int server_version = release == "2" ? 2 : 1;
    GarageServer server(release);
    auto client = server.client();

    // A fresh cluster says "healthy" although nothing can be stored yet.
    auto fresh = client.health();
    CHECK(fresh.healthy());
    CHECK(fresh.storage_nodes == 0);
    CHECK(client.layout().version == 0);
    auto status = client.cluster_status();
    REQUIRE(status.nodes.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
        auto it = std::find_if(status.nodes.begin(), status.nodes.end(),
                               [&](const Node& n) { return n.id == server.node_id(i); });
        REQUIRE(it != status.nodes.end());
        CHECK(it->hostname == server.ready["nodes"][i]["hostname"]);
        CHECK(it->addr == server.ready["nodes"][i]["addr"]);
        CHECK(it->is_up);
        CHECK(!it->role);
    }

    const std::uint64_t capacity = 100'000'000'000;
    server.control("DELETE", "requests");
    CHECK(client.ensure_layout(three_roles(server, capacity), 3));
    auto layout = client.layout();
    CHECK(layout.version == 1);
    CHECK(layout.staged_role_changes.empty());
    REQUIRE(layout.roles.size() == 3);
    for (const auto& role : layout.roles) {
        CHECK(role.capacity == capacity);
        if (role.id == server.node_id(0)) {
            CHECK(role.zone == "dc1");
            CHECK(role.tags == std::vector<std::string>{"fast"});
        }
    }
    auto ops = server.operations();
    CHECK(contains(ops, server_version == 1 ? "AddLayout" : "UpdateClusterLayout"));
    CHECK(contains(ops, server_version == 1 ? "ApplyLayout" : "ApplyClusterLayout"));

    auto health = client.health();
    CHECK(health.healthy());
    CHECK(health.storage_nodes == 3);
    CHECK(health.storage_nodes_ok == 3);
    CHECK(health.partitions > 0);
    CHECK(health.partitions_quorum == health.partitions);
    status = client.cluster_status();
    CHECK(status.layout_version == 1);
    for (const auto& node : status.nodes) {
        REQUIRE(node.role);
        CHECK(node.role->capacity == capacity);
    }

    // The same roles again (tags in another order): nothing is staged or applied.
    server.control("DELETE", "requests");
    auto again = three_roles(server, capacity);
    std::reverse(again.begin(), again.end());
    again[0].tags = {"a", "b"};
    CHECK(!client.ensure_layout(again, 3));
    CHECK(client.layout().version == 1);
    for (const auto& op : server.operations())
        CHECK((op == "GetClusterLayout" || op == "GetLayout"));

    // One node's capacity changes: one role change, one new version.
    auto bigger = three_roles(server, capacity);
    bigger[1].capacity = 2 * capacity;
    CHECK(client.ensure_layout(bigger, 3));
    layout = client.layout();
    CHECK(layout.version == 2);
    for (const auto& role : layout.roles)
        CHECK(role.capacity == (role.id == server.node_id(1) ? 2 * capacity : capacity));
}

TEST_CASE("Garage admin: layout changes that cannot be applied leave nothing staged", "[garage]") {
    std::string release = GENERATE(as<std::string>{}, "0.9", "1", "2");
    GarageServer server(release);
    auto client = server.client();
    auto roles = three_roles(server, 10'000'000'000);
    REQUIRE(client.ensure_layout(roles, 3));

    // Too few storage nodes for the replication factor: refused before any request.
    server.control("DELETE", "requests");
    auto two = roles;
    two.pop_back();
    CHECK_THROWS_WITH(client.ensure_layout(two, 3), Catch::Contains("replication factor of 3"));
    CHECK(server.operations().empty());
    CHECK_THROWS_WITH(client.ensure_layout({{server.node_id(0), "dc1", 1000, {}}}),
                      Catch::Contains("at least 1024"));

    // Not told the replication factor, the client lets Garage refuse the apply (500);
    // the changes it staged are reverted.
    // (Garage 0.9 makes a new layout version of each revert; later ones do not.)
    const std::uint64_t per_revert = release == "0.9" ? 1 : 0;
    auto error = admin_error([&] { client.ensure_layout(two); });
    CHECK(error.status() == 500);
    CHECK(error.code() == "InternalError");
    CHECK_THAT(error.message(), Catch::StartsWith("Garage ApplyClusterLayout: InternalError: "));
    auto layout = client.layout();
    CHECK(layout.version == 1 + per_revert);
    CHECK(layout.roles.size() == 3);
    CHECK(layout.staged_role_changes.empty());

    // Applying the wrong version is Garage's 500, with its code and message.
    error = admin_error([&] { client.apply_layout(7); });
    CHECK(error.status() == 500);
    CHECK_THAT(error.message(), Catch::StartsWith("Garage ApplyClusterLayout: InternalError: "));

    // Changes someone staged and left are dropped, even when the layout is as wanted.
    client.stage_role_changes({{roles[0], true}});
    REQUIRE(client.layout().staged_role_changes.size() == 1);
    CHECK(!client.ensure_layout(roles, 3));
    layout = client.layout();
    CHECK(layout.staged_role_changes.empty());
    CHECK(layout.version == 1 + 2 * per_revert);
}

TEST_CASE("Garage admin: nodes are connected by id@addr", "[garage]") {
    std::string release = GENERATE(as<std::string>{}, "0.9", "1", "2");
    GarageServer server(release, {"--isolated"});
    auto client = server.client();
    CHECK(client.cluster_status().nodes.size() == 1);

    std::vector<std::string> peers;
    for (std::size_t i = 1; i < 3; ++i)
        peers.push_back(server.node_id(i) + "@" +
                        server.ready["nodes"][i]["addr"].get<std::string>());
    client.connect_nodes(peers);
    auto status = client.cluster_status();
    CHECK(status.nodes.size() == 3);
    CHECK(client.health().known_nodes == 3);

    // A wrong address fails, naming the peer and Garage's reason.
    auto wrong = server.node_id(1) + "@10.99.0.1:3901";
    CHECK_THROWS_WITH(
        client.connect_nodes({wrong}),
        Catch::Contains("Garage ConnectClusterNodes: cannot connect to " + wrong + ": "));
}

TEST_CASE("Garage admin: buckets with alias, quotas, website, and refused deletion", "[garage]") {
    std::string release = GENERATE(as<std::string>{}, "0.9", "1", "2");
    GarageServer server(release);
    auto client = server.client();

    auto created = client.create_bucket("fedi-media");
    CHECK(created.global_aliases == std::vector<std::string>{"fedi-media"});
    CHECK(created.id.size() == 64);
    CHECK(!created.website_access);
    CHECK(created.quotas == BucketQuotas{});

    auto duplicate = admin_error([&] { client.create_bucket("fedi-media"); });
    CHECK(duplicate.status() == 409);
    CHECK(duplicate.code() == "BucketAlreadyExists");
    CHECK_THAT(duplicate.message(),
               Catch::StartsWith("Garage CreateBucket: BucketAlreadyExists: "));
    CHECK_THAT(duplicate.describe(), Catch::Contains("while creating bucket 'fedi-media'"));
    CHECK_THROWS_WITH(client.create_bucket("Bad_Name"),
                      Catch::Contains("invalid S3 bucket name 'Bad_Name'"));

    auto info = client.set_quotas(created.id, {500'000'000'000, 10'000});
    CHECK(info.quotas.max_size == 500'000'000'000u);
    CHECK(info.quotas.max_objects == 10'000u);
    info = client.set_quotas(created.id, {std::nullopt, 5});
    CHECK(!info.quotas.max_size);
    CHECK(info.quotas.max_objects == 5u);

    info = client.enable_website(created.id, "index.html", "error.html");
    CHECK(info.website_access);
    REQUIRE(info.website_config);
    CHECK(info.website_config->index_document == "index.html");
    CHECK(info.website_config->error_document == "error.html");
    info = client.bucket_info_by_alias("fedi-media");
    CHECK(info.id == created.id);
    CHECK(info.website_access);
    CHECK(info.quotas.max_objects == 5u);
    info = client.disable_website(created.id);
    CHECK(!info.website_access);
    CHECK(!info.website_config);

    client.create_bucket("fedi-other");
    auto list = client.list_buckets();
    REQUIRE(list.size() == 2);
    std::vector<std::string> aliases;
    for (const auto& b : list)
        aliases.insert(aliases.end(), b.global_aliases.begin(), b.global_aliases.end());
    std::sort(aliases.begin(), aliases.end());
    CHECK(aliases == std::vector<std::string>{"fedi-media", "fedi-other"});
    CHECK(!client.find_bucket("fedi-nothing"));
    CHECK(client.find_bucket("fedi-other"));
    auto missing = admin_error([&] { client.bucket_info_by_alias("fedi-nothing"); });
    CHECK(missing.status() == 404);

    // A bucket with objects cannot be deleted: Garage's 409 BucketNotEmpty.
    server.control("POST", "bucket-contents", {{"bucketId", created.id}, {"objects", 3}});
    CHECK(client.bucket_info(created.id).objects == 3);
    auto not_empty = admin_error([&] { client.delete_bucket(created.id); });
    CHECK(not_empty.status() == 409);
    CHECK(not_empty.code() == "BucketNotEmpty");
    CHECK_THAT(not_empty.message(), Catch::StartsWith("Garage DeleteBucket: BucketNotEmpty: "));
    CHECK(client.find_bucket("fedi-media"));

    server.control("POST", "bucket-contents", {{"bucketId", created.id}, {"objects", 0}});
    client.delete_bucket(created.id);
    CHECK(!client.find_bucket("fedi-media"));
    CHECK(client.list_buckets().size() == 1);
}

TEST_CASE("Garage admin: keys, import, and bucket permissions", "[garage]") {
    std::string release = GENERATE(as<std::string>{}, "0.9", "1", "2");
    GarageServer server(release);
    auto client = server.client();
    auto bucket = client.create_bucket("fedi-media");

    auto key = client.create_key("mastodon");
    CHECK(key.name == "mastodon");
    CHECK(key.access_key_id.rfind("GK", 0) == 0);
    REQUIRE(key.secret_access_key);
    CHECK(!key.secret_access_key->empty());
    CHECK(!client.key_info(key.access_key_id).secret_access_key);
    CHECK(client.key_info(key.access_key_id, true).secret_access_key == key.secret_access_key);

    const std::string imported_id = "GK0123456789abcdef01234567";
    const std::string imported_secret =
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    auto imported = client.import_key(imported_id, imported_secret, "restored");
    CHECK(imported.access_key_id == imported_id);
    CHECK(imported.name == "restored");
    CHECK(!imported.secret_access_key); // Garage never returns it from ImportKey
    CHECK(client.key_info(imported_id, true).secret_access_key == imported_secret);
    auto again = admin_error([&] { client.import_key(imported_id, imported_secret, "x"); });
    CHECK(again.code() == "KeyAlreadyExists");

    auto keys = client.list_keys();
    REQUIRE(keys.size() == 2);
    std::vector<std::string> names{keys[0].name, keys[1].name};
    std::sort(names.begin(), names.end());
    CHECK(names == std::vector<std::string>{"mastodon", "restored"});

    // Allow sets the true flags, deny clears the true flags; false ones stay as they are.
    auto info = client.allow_key(bucket.id, key.access_key_id, {true, true, false});
    CHECK(info.permissions_of(key.access_key_id) == BucketPermissions{true, true, false});
    info = client.allow_key(bucket.id, key.access_key_id, {false, false, true});
    CHECK(info.permissions_of(key.access_key_id) == BucketPermissions{true, true, true});
    info = client.deny_key(bucket.id, key.access_key_id, {false, true, true});
    CHECK(info.permissions_of(key.access_key_id) == BucketPermissions{true, false, false});
    auto key_view = client.key_info(key.access_key_id);
    REQUIRE(key_view.buckets.size() == 1);
    CHECK(key_view.buckets[0].id == bucket.id);
    CHECK(key_view.buckets[0].permissions == BucketPermissions{true, false, false});

    // Exact permissions: only what differs is sent.
    CHECK(client.ensure_key_permissions(bucket.id, key.access_key_id, {false, true, false}));
    CHECK(client.bucket_info(bucket.id).permissions_of(key.access_key_id) ==
          BucketPermissions{false, true, false});
    server.control("DELETE", "requests");
    CHECK(!client.ensure_key_permissions(bucket.id, key.access_key_id, {false, true, false}));
    CHECK(server.operations().size() == 1); // the bucket read only

    client.delete_key(key.access_key_id);
    keys = client.list_keys();
    REQUIRE(keys.size() == 1);
    CHECK(keys[0].id == imported_id);
    auto gone = admin_error([&] { client.key_info(key.access_key_id); });
    CHECK(gone.status() == 404);
    CHECK(client.bucket_info(bucket.id).keys.empty());
}

TEST_CASE("Garage admin: Garage's errors reach the user with code and message, never the token",
          "[garage]") {
    std::string release = GENERATE(as<std::string>{}, "0.9", "1", "2");
    GarageServer server(release);

    const std::string wrong_token = "wrong-token-7d2e5b";
    GarageAdmin wrong({server.endpoint, wrong_token + "\n", std::nullopt, {}});
    auto denied = admin_error([&] { wrong.health(); });
    CHECK(denied.status() == 403);
    CHECK(denied.code() == "AccessDenied");
    CHECK_THAT(denied.message(), Catch::Contains("AccessDenied"));
    CHECK_THAT(denied.describe(), !Catch::Contains(wrong_token));
    CHECK_THAT(denied.describe(), !Catch::Contains(admin_token));

    auto client = server.client();
    server.control("POST", "faults",
                   {{"operation", "CreateBucket"},
                    {"status", 500},
                    {"code", "InternalError"},
                    {"message", "Internal error: Could not reach quorum of 2"}});
    auto injected = admin_error([&] { client.create_bucket("fedi-media"); });
    CHECK(injected.status() == 500);
    CHECK(injected.code() == "InternalError");
    CHECK(injected.message() == "Garage CreateBucket: InternalError: Internal error: Could not "
                                "reach quorum of 2 (HTTP 500)");
    CHECK_THAT(injected.describe(), Catch::Contains("while creating bucket 'fedi-media' (Garage "
                                                    "admin API at " +
                                                    server.endpoint + ")"));
    CHECK_THAT(injected.describe(), !Catch::Contains(admin_token));
    // The fault was for one call only.
    CHECK(client.create_bucket("fedi-media").global_aliases.size() == 1);
}

TEST_CASE("Garage admin: error messages from answers of any shape", "[garage]") {
    http::Response r;
    r.status = 403;
    r.body = R"({"code":"AccessDenied","message":"Forbidden: token s3cr3t is invalid",)"
             R"("region":"garage","path":"/v2/ListBuckets"})";
    CHECK(garage_error_message("ListBuckets", r, "s3cr3t") ==
          "Garage ListBuckets: AccessDenied: Forbidden: token <admin token> is invalid (HTTP 403)");
    r.status = 502;
    r.body = "<html>Bad Gateway</html>\n";
    CHECK(garage_error_message("ListKeys", r, "s3cr3t") ==
          "Garage ListKeys: HTTP 502: <html>Bad Gateway</html> ");
    r.body = "";
    CHECK(garage_error_message("ListKeys", r, "s3cr3t") == "Garage ListKeys: HTTP 502");

    CHECK_THROWS_WITH(GarageAdmin({"http://127.0.0.1:1", " \n", std::nullopt, {}}),
                      Catch::Contains("the admin token is empty"));
    CHECK_THROWS_WITH(GarageAdmin({"127.0.0.1:3903", "t", std::nullopt, {}}),
                      Catch::Contains("must start with http://"));
}
