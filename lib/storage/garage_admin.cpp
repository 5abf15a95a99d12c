#include "storage/garage_admin.hpp"

#include "core/text.hpp"
#include "storage/s3.hpp"
#include "storage/sigv4.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <type_traits>

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

// nlohmann converts a float to an integer with a plain cast, undefined behaviour when the
// float is out of range (1e300): counts, sizes and versions must be integers.
template <typename T> void check_integer(const json& v, const char* name) {
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
        if (v.is_number_float())
            throw Error(fmt::format("\"{}\" is {}, not an integer", name, v.dump()));
}

// Reads j[name] into out when present and not null.
template <typename T> void opt_field(const json& j, const char* name, T& out) {
    if (auto it = j.find(name); it != j.end() && !it->is_null()) {
        check_integer<T>(*it, name);
        it->get_to(out);
    }
}

template <typename T> void opt_field(const json& j, const char* name, std::optional<T>& out) {
    if (auto it = j.find(name); it != j.end() && !it->is_null()) {
        check_integer<T>(*it, name);
        out = it->get<T>();
    } else {
        out.reset();
    }
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
    v.status = j.at("status").get<std::string>();
    opt_field(j, "knownNodes", v.known_nodes);
    opt_field(j, "connectedNodes", v.connected_nodes);
    opt_field(j, "storageNodes", v.storage_nodes);
    opt_field(j, "storageNodesOk", v.storage_nodes_ok);
    opt_field(j, "partitions", v.partitions);
    opt_field(j, "partitionsQuorum", v.partitions_quorum);
    opt_field(j, "partitionsAllOk", v.partitions_all_ok);
}

void from_json(const json& j, LayoutRole& v) {
    v = {};
    opt_field(j, "id", v.id);
    opt_field(j, "zone", v.zone);
    opt_field(j, "capacity", v.capacity);
    opt_field(j, "tags", v.tags);
}

void from_json(const json& j, RoleChange& v) {
    v = {};
    j.get_to(v.role);
    v.remove = j.value("remove", false);
}

void from_json(const json& j, Layout& v) {
    v = {};
    check_integer<std::uint64_t>(j.at("version"), "version");
    v.version = j.at("version").get<std::uint64_t>();
    opt_field(j, "roles", v.roles);
    opt_field(j, "stagedRoleChanges", v.staged_role_changes);
}

void from_json(const json& j, Node& v) {
    v = {};
    v.id = j.at("id").get<std::string>();
    opt_field(j, "addr", v.addr);
    opt_field(j, "hostname", v.hostname);
    opt_field(j, "isUp", v.is_up);
    if (auto it = j.find("role"); it != j.end() && it->is_object()) {
        LayoutRole role = it->get<LayoutRole>();
        role.id = v.id;
        v.role = role;
    }
}

void from_json(const json& j, ClusterStatus& v) {
    v = {};
    opt_field(j, "layoutVersion", v.layout_version);
    opt_field(j, "nodes", v.nodes);
}

void from_json(const json& j, BucketPermissions& v) {
    v = {};
    opt_field(j, "read", v.read);
    opt_field(j, "write", v.write);
    opt_field(j, "owner", v.owner);
}

void from_json(const json& j, BucketSummary& v) {
    v = {};
    v.id = j.at("id").get<std::string>();
    opt_field(j, "globalAliases", v.global_aliases);
    if (auto it = j.find("localAliases"); it != j.end() && it->is_array())
        for (const auto& a : *it)
            v.local_aliases.push_back({a.value("accessKeyId", ""), a.value("alias", "")});
}

void from_json(const json& j, BucketInfo& v) {
    v = {};
    v.id = j.at("id").get<std::string>();
    opt_field(j, "globalAliases", v.global_aliases);
    opt_field(j, "websiteAccess", v.website_access);
    if (auto it = j.find("websiteConfig"); it != j.end() && it->is_object()) {
        WebsiteConfig w;
        opt_field(*it, "indexDocument", w.index_document);
        opt_field(*it, "errorDocument", w.error_document);
        v.website_config = w;
    }
    if (auto it = j.find("keys"); it != j.end() && it->is_array())
        for (const auto& k : *it) {
            BucketKeyAccess access;
            opt_field(k, "accessKeyId", access.access_key_id);
            opt_field(k, "name", access.name);
            opt_field(k, "permissions", access.permissions);
            opt_field(k, "bucketLocalAliases", access.local_aliases);
            v.keys.push_back(std::move(access));
        }
    opt_field(j, "objects", v.objects);
    opt_field(j, "bytes", v.bytes);
    opt_field(j, "unfinishedUploads", v.unfinished_uploads);
    if (auto it = j.find("quotas"); it != j.end() && it->is_object()) {
        opt_field(*it, "maxSize", v.quotas.max_size);
        opt_field(*it, "maxObjects", v.quotas.max_objects);
    }
}

void from_json(const json& j, KeySummary& v) {
    v = {};
    v.id = j.at("id").get<std::string>();
    opt_field(j, "name", v.name);
}

void from_json(const json& j, KeyInfo& v) {
    v = {};
    v.access_key_id = j.at("accessKeyId").get<std::string>();
    opt_field(j, "name", v.name);
    opt_field(j, "secretAccessKey", v.secret_access_key);
    if (auto it = j.find("permissions"); it != j.end() && it->is_object())
        opt_field(*it, "createBucket", v.can_create_bucket);
    if (auto it = j.find("buckets"); it != j.end() && it->is_array())
        for (const auto& b : *it) {
            KeyBucketAccess access;
            opt_field(b, "id", access.id);
            opt_field(b, "globalAliases", access.global_aliases);
            opt_field(b, "localAliases", access.local_aliases);
            opt_field(b, "permissions", access.permissions);
            v.buckets.push_back(std::move(access));
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
    std::string text;
    auto body = json::parse(response.body, nullptr, false);
    std::string code, message;
    if (body.is_object()) {
        if (auto it = body.find("code"); it != body.end() && it->is_string())
            code = it->get<std::string>();
        if (auto it = body.find("message"); it != body.end() && it->is_string())
            message = it->get<std::string>();
    }
    if (!code.empty() && !message.empty())
        text =
            fmt::format("Garage {}: {}: {} (HTTP {})", operation, code, message, response.status);
    else if (!code.empty())
        text = fmt::format("Garage {}: {} (HTTP {})", operation, code, response.status);
    else if (!response.body.empty())
        text = fmt::format("Garage {}: HTTP {}: {}", operation, response.status,
                           http::body_excerpt(response.body));
    else
        text = fmt::format("Garage {}: HTTP {}", operation, response.status);
    return replace_all(std::move(text), secret, "<admin token>");
}

// ---- the client ----

struct GarageAdmin::Call {
    const char* operation; // Garage's v2 name, for messages
    std::string method;
    std::string path;
    std::string query; // encoded, without '?'
    std::optional<json> body;
    std::vector<long> ok = {200};
};

GarageAdmin::GarageAdmin(AdminConfig config) : config_(std::move(config)), http_(config_.http) {
    while (!config_.endpoint.empty() && config_.endpoint.back() == '/')
        config_.endpoint.pop_back();
    if (config_.endpoint.rfind("http://", 0) != 0 && config_.endpoint.rfind("https://", 0) != 0)
        throw usage_error(fmt::format("Garage admin endpoint '{}' must start with http:// or "
                                      "https://",
                                      config_.endpoint));
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
    if (response.body.empty())
        return nullptr;
    auto body = json::parse(response.body, nullptr, false);
    if (body.is_discarded())
        throw Error(fmt::format("Garage {}: the answer is not JSON: {}", call.operation,
                                http::body_excerpt(response.body)));
    return body;
}

// Runs f (which reads an answer), naming the operation when the answer's shape is not
// what the documents say.
template <typename F> static auto parsing(const char* operation, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const json::exception& e) {
        throw Error(fmt::format("Garage {}: unexpected answer: {}", operation, e.what()));
    }
}

template <typename T> static T parse_as(const char* operation, const json& j) {
    return parsing(operation, [&] { return j.get<T>(); });
}

// v1 GET /status: the known nodes, with their roles taken from the layout it includes.
static ClusterStatus status_from_v1(const json& j) {
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
        // Garage 1.x has no /v2/ routes and answers them 400 "Unknown API endpoint",
        // which is also what 2.x says for any unknown path: probe a v2 operation, and
        // take a refused probe as 1.x only when v1 then answers.
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
        auto j = call({"GetClusterHealth", "GET", v2() ? "/v2/GetClusterHealth" : "/v1/health", "",
                       std::nullopt});
        return parse_as<Health>("GetClusterHealth", j);
    });
}

ClusterStatus GarageAdmin::cluster_status() {
    return in_context("reading the cluster status", [&] {
        if (v2())
            return parse_as<ClusterStatus>(
                "GetClusterStatus",
                call({"GetClusterStatus", "GET", "/v2/GetClusterStatus", "", std::nullopt}));
        // v1: known nodes, and their roles from the layout in the same answer.
        auto j = call({"GetClusterStatus", "GET", "/v1/status", "", std::nullopt});
        return parsing("GetClusterStatus", [&] { return status_from_v1(j); });
    });
}

void GarageAdmin::connect_nodes(const std::vector<std::string>& peers) {
    in_context(fmt::format("connecting {} node(s)", peers.size()), [&] {
        auto j = call({"ConnectClusterNodes", "POST",
                       v2() ? "/v2/ConnectClusterNodes" : "/v1/connect", "", json(peers)});
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
        return parse_as<Layout>(
            "GetClusterLayout",
            call({"GetClusterLayout", "GET", v2() ? "/v2/GetClusterLayout" : "/v1/layout", "",
                  std::nullopt}));
    });
}

Layout GarageAdmin::stage_role_changes(const std::vector<RoleChange>& changes) {
    return in_context(fmt::format("staging {} layout change(s)", changes.size()), [&] {
        json list = json::array();
        for (const auto& c : changes)
            list.push_back(role_change_json(c));
        // v2 takes {"roles": [...]} (and optional parameters); v1 the bare list.
        auto j = v2() ? call({"UpdateClusterLayout", "POST", "/v2/UpdateClusterLayout", "",
                              json{{"roles", list}}})
                      : call({"UpdateClusterLayout", "POST", "/v1/layout", "", list});
        return parse_as<Layout>("UpdateClusterLayout", j);
    });
}

Layout GarageAdmin::apply_layout(std::uint64_t version) {
    return in_context(fmt::format("applying layout version {}", version), [&] {
        auto j = call({"ApplyClusterLayout", "POST",
                       v2() ? "/v2/ApplyClusterLayout" : "/v1/layout/apply", "",
                       json{{"version", version}}});
        return parsing("ApplyClusterLayout", [&] { return j.at("layout").get<Layout>(); });
    });
}

void GarageAdmin::revert_layout() {
    in_context("reverting the staged layout changes", [&] {
        if (v2()) {
            call({"RevertClusterLayout", "POST", "/v2/RevertClusterLayout", "", std::nullopt});
            return;
        }
        // v1 wants the next version number in the body, as for apply.
        auto current = layout();
        call({"RevertClusterLayout", "POST", "/v1/layout/revert", "",
              json{{"version", current.version + 1}}});
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
        auto j = v2() ? call({"ListBuckets", "GET", "/v2/ListBuckets", "", std::nullopt})
                      // v1: GET /bucket without id or globalAlias lists them all
                      : call({"ListBuckets", "GET", "/v1/bucket", "", std::nullopt});
        return parse_as<std::vector<BucketSummary>>("ListBuckets", j);
    });
}

BucketInfo GarageAdmin::bucket_info(const std::string& id) {
    return in_context(fmt::format("reading bucket {}", id), [&] {
        return parse_as<BucketInfo>(
            "GetBucketInfo",
            call({"GetBucketInfo", "GET", v2() ? "/v2/GetBucketInfo" : "/v1/bucket",
                  query_param("id", id), std::nullopt}));
    });
}

BucketInfo GarageAdmin::bucket_info_by_alias(const std::string& global_alias) {
    return in_context(fmt::format("reading bucket '{}'", global_alias), [&] {
        return parse_as<BucketInfo>(
            "GetBucketInfo",
            call({"GetBucketInfo", "GET", v2() ? "/v2/GetBucketInfo" : "/v1/bucket",
                  query_param("globalAlias", global_alias), std::nullopt}));
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
        return parse_as<BucketInfo>(
            "CreateBucket", call({"CreateBucket", "POST", v2() ? "/v2/CreateBucket" : "/v1/bucket",
                                  "", json{{"globalAlias", global_alias}}}));
    });
}

void GarageAdmin::delete_bucket(const std::string& id) {
    in_context(fmt::format("deleting bucket {}", id), [&] {
        if (v2())
            call({"DeleteBucket",
                  "POST",
                  "/v2/DeleteBucket",
                  query_param("id", id),
                  std::nullopt,
                  {200, 204}});
        else
            call({"DeleteBucket",
                  "DELETE",
                  "/v1/bucket",
                  query_param("id", id),
                  std::nullopt,
                  {200, 204}});
    });
}

BucketInfo GarageAdmin::update_bucket(const std::string& id, const json& body) {
    auto j = v2() ? call({"UpdateBucket", "POST", "/v2/UpdateBucket", query_param("id", id), body})
                  : call({"UpdateBucket", "PUT", "/v1/bucket", query_param("id", id), body});
    return parse_as<BucketInfo>("UpdateBucket", j);
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
    bool allow = std::string_view(operation) == "AllowBucketKey";
    const char* path = v2() ? (allow ? "/v2/AllowBucketKey" : "/v2/DenyBucketKey")
                            : (allow ? "/v1/bucket/allow" : "/v1/bucket/deny");
    json body = {
        {"bucketId", bucket_id}, {"accessKeyId", key_id}, {"permissions", permissions_json(flags)}};
    return parse_as<BucketInfo>(operation, call({operation, "POST", path, "", body}));
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
        auto j = v2() ? call({"ListKeys", "GET", "/v2/ListKeys", "", std::nullopt})
                      // v1: GET /key without id or search lists them all
                      : call({"ListKeys", "GET", "/v1/key", "", std::nullopt});
        return parse_as<std::vector<KeySummary>>("ListKeys", j);
    });
}

KeyInfo GarageAdmin::key_info(const std::string& id, bool show_secret) {
    return in_context(fmt::format("reading access key {}", id), [&] {
        auto query = query_param("id", id);
        if (show_secret)
            query += "&showSecretKey=true";
        return parse_as<KeyInfo>(
            "GetKeyInfo",
            call({"GetKeyInfo", "GET", v2() ? "/v2/GetKeyInfo" : "/v1/key", query, std::nullopt}));
    });
}

KeyInfo GarageAdmin::create_key(const std::string& name) {
    return in_context(fmt::format("creating access key '{}'", name), [&] {
        return parse_as<KeyInfo>("CreateKey",
                                 call({"CreateKey", "POST", v2() ? "/v2/CreateKey" : "/v1/key", "",
                                       json{{"name", name}}}));
    });
}

KeyInfo GarageAdmin::import_key(const std::string& id, const std::string& secret,
                                const std::string& name) {
    return in_context(fmt::format("importing access key {}", id), [&] {
        json body = {{"accessKeyId", id}, {"secretAccessKey", secret}, {"name", name}};
        auto j = call({"ImportKey", "POST", v2() ? "/v2/ImportKey" : "/v1/key/import", "", body});
        return parse_as<KeyInfo>("ImportKey", j);
    });
}

void GarageAdmin::delete_key(const std::string& id) {
    in_context(fmt::format("deleting access key {}", id), [&] {
        if (v2())
            call({"DeleteKey",
                  "POST",
                  "/v2/DeleteKey",
                  query_param("id", id),
                  std::nullopt,
                  {200, 204}});
        else
            call({"DeleteKey",
                  "DELETE",
                  "/v1/key",
                  query_param("id", id),
                  std::nullopt,
                  {200, 204}});
    });
}

} // namespace fedi::storage::garage
