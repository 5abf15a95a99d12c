#include "storage/garage_admin.hpp"

#include "core/text.hpp"
#include "s3/s3.hpp"
#include "s3/sigv4.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace fedi::storage::garage {

using nlohmann::json;

namespace {

std::string replace_all(std::string text, std::string_view what, std::string_view with) {
    if (what.empty())
        return text;
    for (auto pos = text.find(what); pos != std::string::npos;
         pos = text.find(what, pos + with.size()))
        text.replace(pos, what.size(), with);
    return text;
}

std::string query_param(std::string_view name, std::string_view value) {
    return fmt::format("{}={}", name, sigv4::uri_encode(value, false));
}

json permissions_json(BucketPermissions p) {
    return {{"read", p.read}, {"write", p.write}, {"owner", p.owner}};
}

json role_change_json(const RoleChange& c) {
    if (c.remove)
        return {{"id", c.role.id}, {"remove", true}};
    json j = {{"id", c.role.id}, {"zone", c.role.zone}, {"tags", c.role.tags}};
    j["capacity"] = c.role.capacity ? json(*c.role.capacity) : json(nullptr);
    return j;
}

std::vector<LayoutRole> sorted_roles(std::vector<LayoutRole> roles) {
    for (auto& r : roles) {
        r.id = lower(r.id);
        std::sort(r.tags.begin(), r.tags.end());
    }
    std::sort(roles.begin(), roles.end(),
              [](const LayoutRole& a, const LayoutRole& b) { return a.id < b.id; });
    return roles;
}

std::string short_id(const std::string& id) {
    return id.substr(0, 16);
}

void check_wanted_roles(const std::vector<LayoutRole>& roles, std::optional<unsigned> replication) {
    std::set<std::string> seen;
    unsigned storage = 0;
    for (const auto& r : roles) {
        if (r.id.empty())
            throw usage_error("Garage layout: a role has no node id");
        if (!seen.insert(lower(r.id)).second)
            throw usage_error(fmt::format("Garage layout: node {} is listed twice", r.id));
        if (r.zone.empty())
            throw usage_error(fmt::format("Garage layout: node {} has no zone", r.id));
        if (r.capacity && *r.capacity < 1024)
            throw usage_error(fmt::format(
                "Garage layout: node {} has a capacity of {} bytes; Garage needs at least 1024",
                r.id, *r.capacity));
        storage += r.capacity.has_value();
    }
    if (replication && *replication == 0)
        throw usage_error("Garage layout: the replication factor must be at least 1");
    if (replication && storage < *replication)
        throw usage_error(fmt::format("Garage layout: {} storage node(s) for a replication "
                                      "factor of {}; Garage needs at least as many",
                                      storage, *replication));
}

} // namespace

// ---- parsing ----

void from_json(const json& j, Health& v) {
    read_fields(j, required("status"), v.status, "knownNodes", v.known_nodes, "connectedNodes",
                v.connected_nodes, "storageNodes", v.storage_nodes, "storageNodesOk",
                v.storage_nodes_ok, "partitions", v.partitions, "partitionsQuorum",
                v.partitions_quorum, "partitionsAllOk", v.partitions_all_ok);
}

void from_json(const json& j, LayoutRole& v) {
    v = {};
    read_fields(j, "id", v.id, "zone", v.zone, "capacity", v.capacity, "tags", v.tags);
}

void from_json(const json& j, RoleChange& v) {
    v = {};
    j.get_to(v.role);
    v.remove = j.value("remove", false);
}

void from_json(const json& j, Layout& v) {
    v = {};
    read_fields(j, required("version"), v.version, "roles", v.roles, "stagedRoleChanges",
                v.staged_role_changes);
}

void from_json(const json& j, Node& v) {
    v = {};
    read_fields(j, required("id"), v.id, "addr", v.addr, "hostname", v.hostname, "isUp", v.is_up);
    if (auto it = j.find("role"); it != j.end() && it->is_object()) {
        LayoutRole role = it->get<LayoutRole>();
        role.id = v.id; // 2.x's role has no id of its own
        v.role = role;
    }
}

void from_json(const json& j, ClusterStatus& v) {
    v = {};
    read_fields(j, "layoutVersion", v.layout_version, "nodes", v.nodes);
}

void from_json(const json& j, BucketPermissions& v) {
    v = {};
    read_fields(j, "read", v.read, "write", v.write, "owner", v.owner);
}

void from_json(const json& j, BucketSummary& v) {
    v = {};
    read_fields(j, required("id"), v.id, "globalAliases", v.global_aliases);
    if (auto it = j.find("localAliases"); it != j.end() && it->is_array())
        for (const auto& a : *it)
            v.local_aliases.push_back({a.value("accessKeyId", ""), a.value("alias", "")});
}

void from_json(const json& j, BucketInfo& v) {
    v = {};
    read_fields(j, required("id"), v.id, "globalAliases", v.global_aliases, "websiteAccess",
                v.website_access, "objects", v.objects, "bytes", v.bytes, "unfinishedUploads",
                v.unfinished_uploads);
    if (auto it = j.find("websiteConfig"); it != j.end() && it->is_object()) {
        WebsiteConfig w;
        read_fields(*it, "indexDocument", w.index_document, "errorDocument", w.error_document);
        v.website_config = w;
    }
    if (auto it = j.find("keys"); it != j.end() && it->is_array())
        for (const auto& k : *it) {
            BucketKeyAccess& access = v.keys.emplace_back();
            read_fields(k, "accessKeyId", access.access_key_id, "name", access.name, "permissions",
                        access.permissions, "bucketLocalAliases", access.local_aliases);
        }
    if (auto it = j.find("quotas"); it != j.end() && it->is_object())
        read_fields(*it, "maxSize", v.quotas.max_size, "maxObjects", v.quotas.max_objects);
}

void from_json(const json& j, KeySummary& v) {
    v = {};
    read_fields(j, required("id"), v.id, "name", v.name);
}

void from_json(const json& j, KeyInfo& v) {
    v = {};
    read_fields(j, required("accessKeyId"), v.access_key_id, "name", v.name, "secretAccessKey",
                v.secret_access_key);
    if (auto it = j.find("permissions"); it != j.end() && it->is_object())
        opt_field(*it, "createBucket", v.can_create_bucket);
    if (auto it = j.find("buckets"); it != j.end() && it->is_array())
        for (const auto& b : *it) {
            KeyBucketAccess& access = v.buckets.emplace_back();
            read_fields(b, "id", access.id, "globalAliases", access.global_aliases, "localAliases",
                        access.local_aliases, "permissions", access.permissions);
        }
}

BucketPermissions BucketInfo::permissions_of(const std::string& access_key_id) const {
    for (const auto& k : keys)
        if (k.access_key_id == access_key_id)
            return k.permissions;
    return {};
}

std::string garage_error_message(std::string_view operation, const http::Response& response,
                                 std::string_view secret) {
    auto body = json::parse(response.body, nullptr, false);
    std::string code, message;
    if (body.is_object()) {
        if (auto it = body.find("code"); it != body.end() && it->is_string())
            code = it->get<std::string>();
        if (auto it = body.find("message"); it != body.end() && it->is_string())
            message = it->get<std::string>();
    }
    return replace_all(
        admin_error_message("Garage", operation, response.status, code, message, response.body),
        secret, "<admin token>");
}

// ---- the client ----

namespace {

// How each operation is sent: v2 as <v2 method> /v2/<Operation> (src/api/admin/router_v2.rs
// at v2.0.0); v1, for Garage 0.9 and 1.x, as <v1 method> <v1 path> (router_v1.rs at v0.9.4
// and v1.0.0 to v1.2.0, where GET /v1/bucket and /v1/key without an id list them all).
struct Route {
    std::string_view operation, v2_method, v1_method, v1_path;
};

constexpr Route routes[] = {
    {"GetClusterHealth", "GET", "GET", "/v1/health"},
    {"GetClusterStatus", "GET", "GET", "/v1/status"},
    {"ConnectClusterNodes", "POST", "POST", "/v1/connect"},
    {"GetClusterLayout", "GET", "GET", "/v1/layout"},
    {"UpdateClusterLayout", "POST", "POST", "/v1/layout"},
    {"ApplyClusterLayout", "POST", "POST", "/v1/layout/apply"},
    {"RevertClusterLayout", "POST", "POST", "/v1/layout/revert"},
    {"ListBuckets", "GET", "GET", "/v1/bucket"},
    {"GetBucketInfo", "GET", "GET", "/v1/bucket"},
    {"CreateBucket", "POST", "POST", "/v1/bucket"},
    {"UpdateBucket", "POST", "PUT", "/v1/bucket"},
    {"DeleteBucket", "POST", "DELETE", "/v1/bucket"},
    {"AllowBucketKey", "POST", "POST", "/v1/bucket/allow"},
    {"DenyBucketKey", "POST", "POST", "/v1/bucket/deny"},
    {"ListKeys", "GET", "GET", "/v1/key"},
    {"GetKeyInfo", "GET", "GET", "/v1/key"},
    {"CreateKey", "POST", "POST", "/v1/key"},
    {"ImportKey", "POST", "POST", "/v1/key/import"},
    {"DeleteKey", "POST", "DELETE", "/v1/key"},
};

const Route& route_of(std::string_view operation) {
    for (const auto& r : routes)
        if (r.operation == operation)
            return r;
    throw std::logic_error(fmt::format("Garage admin: no route for {}", operation));
}

} // namespace

struct GarageAdmin::Call {
    const char* operation; // Garage's v2 name, for messages
    std::string method;
    std::string path;
    std::string query; // encoded, without '?'
    std::optional<json> body;
    // v1 DeleteBucket and DeleteKey answer 204 No Content; nothing else does.
    std::vector<long> ok = {200, 204};
};

GarageAdmin::GarageAdmin(AdminConfig config) : config_(std::move(config)), http_(config_.http) {
    config_.endpoint = checked_endpoint(std::move(config_.endpoint), "Garage admin endpoint");
    config_.token = trim(std::move(config_.token));
    if (config_.token.empty())
        throw usage_error(
            fmt::format("Garage admin endpoint {}: the admin token is empty", config_.endpoint));
    if (config_.token.find_first_of("\r\n") != std::string::npos)
        throw usage_error(fmt::format(
            "Garage admin endpoint {}: the admin token has more than one line", config_.endpoint));
}

template <typename F>
auto GarageAdmin::in_context(const std::string& what, F&& f) -> decltype(f()) {
    return with_context(fmt::format("{} (Garage admin API at {})", what, config_.endpoint),
                        std::forward<F>(f));
}

http::Response GarageAdmin::send(const Call& call) {
    http::Request request;
    request.method = call.method;
    request.url = config_.endpoint + call.path;
    if (!call.query.empty())
        request.url += "?" + call.query;
    request.headers.push_back({"Authorization", "Bearer " + config_.token});
    if (call.body) {
        request.body = call.body->dump();
        request.headers.push_back({"Content-Type", "application/json"});
    }
    return http_.send(request);
}

void GarageAdmin::fail(const Call& call, const http::Response& response) const {
    std::string code;
    auto body = json::parse(response.body, nullptr, false);
    if (body.is_object() && body.contains("code") && body["code"].is_string())
        code = body["code"].get<std::string>();
    throw AdminError(garage_error_message(call.operation, response, config_.token), response.status,
                     code);
}

json GarageAdmin::call(const Call& call) {
    auto response = send(call);
    if (std::find(call.ok.begin(), call.ok.end(), response.status) == call.ok.end())
        fail(call, response);
    return json_answer("Garage", call.operation, response.body);
}

json GarageAdmin::call(const char* operation, const std::string& query) {
    return call(operation, query, json(nullptr));
}

// A null body: none is sent.
json GarageAdmin::call(const char* operation, const std::string& query, const json& body) {
    const auto& route = route_of(operation);
    bool two = v2();
    auto method = two ? route.v2_method : route.v1_method;
    auto path = two ? fmt::format("/v2/{}", operation) : std::string(route.v1_path);
    std::optional<json> sent;
    if (!body.is_null())
        sent = body;
    return call(Call{operation, std::string(method), path, query, sent});
}

template <typename F> static auto parsing(const char* operation, F&& f) -> decltype(f()) {
    return storage::parsing("Garage", operation, std::forward<F>(f));
}

template <typename T> static T parse_as(const char* operation, const json& j) {
    return parsing(operation, [&] { return j.get<T>(); });
}

// v1 GET /status. Garage 1.x (src/api/admin/cluster.rs, v1.0.0 to v1.2.0) lists every
// node with its role, as v2's GetClusterStatus does; Garage 0.9 (v0.9.4) lists the
// connected nodes (`knownNodes`) and the layout apart, so roles are matched by node id.
static ClusterStatus status_from_v1(const json& j) {
    if (!j.contains("knownNodes"))
        return j.get<ClusterStatus>();
    auto layout = j.at("layout").get<Layout>();
    ClusterStatus status;
    status.layout_version = layout.version;
    std::map<std::string, LayoutRole> roles;
    for (const auto& r : layout.roles)
        roles[r.id] = r;
    for (const auto& n : j.at("knownNodes")) {
        auto node = n.get<Node>();
        if (auto it = roles.find(node.id); it != roles.end()) {
            node.role = it->second;
            roles.erase(it);
        }
        status.nodes.push_back(std::move(node));
    }
    for (const auto& [id, role] : roles) // in the layout but not connected
        status.nodes.push_back({id, "", "", false, role});
    return status;
}

ApiVersion GarageAdmin::version() {
    if (config_.version)
        return *config_.version;
    return in_context("detecting the admin API version", [&] {
        // Garage 0.9 and 1.x have no /v2/ routes and answer them 400 "Unknown API
        // endpoint", which is also what 2.x says for any unknown path: probe a v2
        // operation, and take a refused probe as v1 only when v1 then answers.
        Call probe{"GetClusterHealth", "GET", "/v2/GetClusterHealth", "", std::nullopt};
        auto r = send(probe);
        if (r.status == 200) {
            config_.version = ApiVersion::V2;
        } else if (r.status == 400) {
            call({"GetClusterHealth", "GET", "/v1/health", "", std::nullopt});
            config_.version = ApiVersion::V1;
        } else {
            fail(probe, r);
        }
        return *config_.version;
    });
}

bool GarageAdmin::v2() {
    return version() == ApiVersion::V2;
}

Health GarageAdmin::health() {
    return in_context("reading the cluster health", [&] {
        return parse_as<Health>("GetClusterHealth", call("GetClusterHealth"));
    });
}

ClusterStatus GarageAdmin::cluster_status() {
    return in_context("reading the cluster status", [&] {
        auto j = call("GetClusterStatus");
        if (v2())
            return parse_as<ClusterStatus>("GetClusterStatus", j);
        return parsing("GetClusterStatus", [&] { return status_from_v1(j); });
    });
}

void GarageAdmin::connect_nodes(const std::vector<std::string>& peers) {
    in_context(fmt::format("connecting {} node(s)", peers.size()), [&] {
        auto j = call("ConnectClusterNodes", "", json(peers));
        if (!j.is_array() || j.size() != peers.size())
            throw Error(fmt::format("Garage ConnectClusterNodes: expected {} results, got: {}",
                                    peers.size(), http::body_excerpt(j.dump())));
        std::vector<std::string> failures;
        for (std::size_t i = 0; i < peers.size(); ++i)
            if (!j[i].value("success", false)) {
                auto error = j[i].contains("error") && j[i]["error"].is_string()
                                 ? j[i]["error"].get<std::string>()
                                 : "no reason given";
                failures.push_back(fmt::format("{}: {}", peers[i], error));
            }
        if (!failures.empty())
            throw Error(fmt::format("Garage ConnectClusterNodes: cannot connect to {}",
                                    fmt::join(failures, "; ")));
    });
}

// ---- layout ----

Layout GarageAdmin::layout() {
    return in_context("reading the cluster layout", [&] {
        return parse_as<Layout>("GetClusterLayout", call("GetClusterLayout"));
    });
}

Layout GarageAdmin::stage_role_changes(const std::vector<RoleChange>& changes) {
    return in_context(fmt::format("staging {} layout change(s)", changes.size()), [&] {
        json list = json::array();
        for (const auto& c : changes)
            list.push_back(role_change_json(c));
        // v2 takes {"roles": [...]} (and optional parameters); v1 the bare list.
        auto j = call("UpdateClusterLayout", "", v2() ? json{{"roles", list}} : list);
        return parse_as<Layout>("UpdateClusterLayout", j);
    });
}

Layout GarageAdmin::apply_layout(std::uint64_t version) {
    return in_context(fmt::format("applying layout version {}", version), [&] {
        auto j = call("ApplyClusterLayout", "", json{{"version", version}});
        return parsing("ApplyClusterLayout", [&] { return j.at("layout").get<Layout>(); });
    });
}

void GarageAdmin::revert_layout() {
    in_context("reverting the staged layout changes", [&] {
        if (v2()) {
            call("RevertClusterLayout");
            return;
        }
        // Garage 0.9 wants the next version number in the body, as for apply (and makes
        // it the new version); 1.x ignores the body.
        auto current = layout();
        call("RevertClusterLayout", "", json{{"version", current.version + 1}});
    });
}

bool GarageAdmin::ensure_layout(const std::vector<LayoutRole>& wanted_roles,
                                std::optional<unsigned> replication) {
    check_wanted_roles(wanted_roles, replication);
    auto wanted = sorted_roles(wanted_roles);
    return in_context(fmt::format("setting the layout to {} node role(s)", wanted.size()), [&] {
        auto current = layout();
        std::map<std::string, LayoutRole> have;
        for (const auto& r : sorted_roles(current.roles))
            have[r.id] = r;
        std::vector<RoleChange> changes;
        for (const auto& r : wanted) {
            auto it = have.find(r.id);
            if (it == have.end() || !(it->second == r))
                changes.push_back({r, false});
            if (it != have.end())
                have.erase(it);
        }
        for (const auto& [id, role] : have)
            changes.push_back({role, true});

        // Changes someone staged and never applied would ride along with the next apply.
        if (!current.staged_role_changes.empty())
            revert_layout();
        if (changes.empty())
            return false;

        auto staged = stage_role_changes(changes);
        Layout applied;
        try {
            applied = apply_layout(staged.version + 1);
        } catch (Error&) {
            try {
                revert_layout(); // leave nothing half-done behind
            } catch (const Error&) {
            }
            throw;
        }
        if (sorted_roles(applied.roles) != wanted) {
            std::vector<std::string> ids;
            for (const auto& r : applied.roles)
                ids.push_back(short_id(r.id));
            throw Error(fmt::format("Garage ApplyClusterLayout: layout version {} does not hold "
                                    "the roles asked for (it has: {})",
                                    applied.version, fmt::join(ids, ", ")));
        }
        return true;
    });
}

// ---- buckets ----

std::vector<BucketSummary> GarageAdmin::list_buckets() {
    return in_context("listing buckets", [&] {
        return parse_as<std::vector<BucketSummary>>("ListBuckets", call("ListBuckets"));
    });
}

BucketInfo GarageAdmin::bucket_info(const std::string& id) {
    return in_context(fmt::format("reading bucket {}", id), [&] {
        return parse_as<BucketInfo>("GetBucketInfo", call("GetBucketInfo", query_param("id", id)));
    });
}

BucketInfo GarageAdmin::bucket_info_by_alias(const std::string& global_alias) {
    return in_context(fmt::format("reading bucket '{}'", global_alias), [&] {
        return parse_as<BucketInfo>(
            "GetBucketInfo", call("GetBucketInfo", query_param("globalAlias", global_alias)));
    });
}

std::optional<BucketInfo> GarageAdmin::find_bucket(const std::string& global_alias) {
    try {
        return bucket_info_by_alias(global_alias);
    } catch (const AdminError& e) {
        if (e.status() == 404)
            return std::nullopt;
        throw;
    }
}

BucketInfo GarageAdmin::create_bucket(const std::string& global_alias) {
    check_bucket_name(global_alias); // a global alias is what S3 clients use as the name
    return in_context(fmt::format("creating bucket '{}'", global_alias), [&] {
        return parse_as<BucketInfo>("CreateBucket",
                                    call("CreateBucket", "", json{{"globalAlias", global_alias}}));
    });
}

void GarageAdmin::delete_bucket(const std::string& id) {
    in_context(fmt::format("deleting bucket {}", id),
               [&] { call("DeleteBucket", query_param("id", id)); });
}

BucketInfo GarageAdmin::update_bucket(const std::string& id, const json& body) {
    return parse_as<BucketInfo>("UpdateBucket", call("UpdateBucket", query_param("id", id), body));
}

BucketInfo GarageAdmin::set_quotas(const std::string& id, const BucketQuotas& quotas) {
    return in_context(fmt::format("setting the quotas of bucket {}", id), [&] {
        // Both values are always sent: an absent one means "no quota" to Garage.
        json q = {{"maxSize", quotas.max_size ? json(*quotas.max_size) : json(nullptr)},
                  {"maxObjects", quotas.max_objects ? json(*quotas.max_objects) : json(nullptr)}};
        return update_bucket(id, json{{"quotas", q}});
    });
}

BucketInfo GarageAdmin::enable_website(const std::string& id, const std::string& index_document,
                                       const std::string& error_document) {
    if (index_document.empty())
        throw usage_error(fmt::format("Garage bucket {}: a website needs an index document", id));
    return in_context(fmt::format("enabling website access on bucket {}", id), [&] {
        json access = {{"enabled", true}, {"indexDocument", index_document}};
        if (!error_document.empty())
            access["errorDocument"] = error_document;
        return update_bucket(id, json{{"websiteAccess", access}});
    });
}

BucketInfo GarageAdmin::disable_website(const std::string& id) {
    return in_context(fmt::format("disabling website access on bucket {}", id), [&] {
        return update_bucket(id, json{{"websiteAccess", {{"enabled", false}}}});
    });
}

BucketInfo GarageAdmin::change_permissions(const char* operation, const std::string& bucket_id,
                                           const std::string& key_id, BucketPermissions flags) {
    json body = {
        {"bucketId", bucket_id}, {"accessKeyId", key_id}, {"permissions", permissions_json(flags)}};
    return parse_as<BucketInfo>(operation, call(operation, "", body));
}

BucketInfo GarageAdmin::allow_key(const std::string& bucket_id, const std::string& key_id,
                                  BucketPermissions flags) {
    return in_context(fmt::format("allowing key {} on bucket {}", key_id, bucket_id), [&] {
        return change_permissions("AllowBucketKey", bucket_id, key_id, flags);
    });
}

BucketInfo GarageAdmin::deny_key(const std::string& bucket_id, const std::string& key_id,
                                 BucketPermissions flags) {
    return in_context(fmt::format("denying key {} on bucket {}", key_id, bucket_id), [&] {
        return change_permissions("DenyBucketKey", bucket_id, key_id, flags);
    });
}

bool GarageAdmin::ensure_key_permissions(const std::string& bucket_id, const std::string& key_id,
                                         BucketPermissions wanted) {
    auto have = bucket_info(bucket_id).permissions_of(key_id);
    BucketPermissions add{wanted.read && !have.read, wanted.write && !have.write,
                          wanted.owner && !have.owner};
    BucketPermissions remove{!wanted.read && have.read, !wanted.write && have.write,
                             !wanted.owner && have.owner};
    if (add != BucketPermissions{})
        allow_key(bucket_id, key_id, add);
    if (remove != BucketPermissions{})
        deny_key(bucket_id, key_id, remove);
    return add != BucketPermissions{} || remove != BucketPermissions{};
}

// ---- keys ----

std::vector<KeySummary> GarageAdmin::list_keys() {
    return in_context("listing access keys", [&] {
        return parse_as<std::vector<KeySummary>>("ListKeys", call("ListKeys"));
    });
}

KeyInfo GarageAdmin::key_info(const std::string& id, bool show_secret) {
    return in_context(fmt::format("reading access key {}", id), [&] {
        auto query = query_param("id", id);
        if (show_secret)
            query += "&showSecretKey=true";
        return parse_as<KeyInfo>("GetKeyInfo", call("GetKeyInfo", query));
    });
}

KeyInfo GarageAdmin::create_key(const std::string& name) {
    return in_context(fmt::format("creating access key '{}'", name), [&] {
        return parse_as<KeyInfo>("CreateKey", call("CreateKey", "", json{{"name", name}}));
    });
}

KeyInfo GarageAdmin::import_key(const std::string& id, const std::string& secret,
                                const std::string& name) {
    return in_context(fmt::format("importing access key {}", id), [&] {
        json body = {{"accessKeyId", id}, {"secretAccessKey", secret}, {"name", name}};
        return parse_as<KeyInfo>("ImportKey", call("ImportKey", "", body));
    });
}

void GarageAdmin::delete_key(const std::string& id) {
    in_context(fmt::format("deleting access key {}", id),
               [&] { call("DeleteKey", query_param("id", id)); });
}

} // namespace fedi::storage::garage
