#pragma once
// A client for Garage's admin API (port 3903, `Authorization: Bearer <admin token>`).
// Garage 2.x speaks v2 (`/v2/<Operation>`); Garage 1.x and 0.9 only v1 (`/v1/...`). The
// version is detected on first use, and every operation is sent the way that version wants
// it. Shapes follow Garage's source (src/api/admin/ at v0.9.4, v1.0.0 to v1.2.0, v2.0.0);
// fields not listed here are ignored, so newer servers keep working.
#include "core/error.hpp"
#include "http/http.hpp"
#include "storage/admin_api.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace fedi::storage::garage {

enum class ApiVersion { V1 = 1, V2 = 2 };

struct AdminConfig {
    std::string endpoint; // "http://host:3903"
    // The admin token: the contents of the token file (surrounding whitespace is dropped).
    // It is sent in a header only, never put in a message.
    std::string token;
    std::optional<ApiVersion> version; // unset: detected on first use
    http::ClientOptions http;
};

// An error Garage answered, with its `code` ("BucketNotEmpty") and HTTP status. The
// message reads "Garage <Operation>: <code>: <message> (HTTP <status>)".
using AdminError = storage::AdminError;

struct Health {
    std::string status; // "healthy", "degraded" or "unavailable"
    std::uint64_t known_nodes = 0, connected_nodes = 0;
    std::uint64_t storage_nodes = 0, storage_nodes_ok = 0;
    std::uint64_t partitions = 0, partitions_quorum = 0, partitions_all_ok = 0;
    // A fresh cluster without a layout is "healthy" too (nothing is assigned): check
    // storage_nodes, or the layout itself, to know that data can be stored.
    bool healthy() const { return status == "healthy"; }
};

// A node's role in the layout. capacity in bytes (at least 1024); unset: a gateway.
struct LayoutRole {
    std::string id; // the node id, 64 hex digits
    std::string zone;
    std::optional<std::uint64_t> capacity;
    std::vector<std::string> tags;
    bool operator==(const LayoutRole&) const = default;
};

struct Node {
    std::string id;
    std::string addr;     // "ip:port"; empty when the node is only known from the layout
    std::string hostname; // empty when unknown
    bool is_up = false;
    std::optional<LayoutRole> role; // its role in the current layout
};

struct ClusterStatus {
    std::uint64_t layout_version = 0;
    std::vector<Node> nodes;
};

// A staged change: a new or changed role, or the removal of a node's role.
struct RoleChange {
    LayoutRole role; // only role.id matters when remove
    bool remove = false;
    bool operator==(const RoleChange&) const = default;
};

struct Layout {
    std::uint64_t version = 0; // 0: no layout applied yet
    std::vector<LayoutRole> roles;
    std::vector<RoleChange> staged_role_changes;
};

struct BucketPermissions {
    bool read = false;
    bool write = false;
    bool owner = false;
    bool operator==(const BucketPermissions&) const = default;
};

struct BucketLocalAlias {
    std::string access_key_id;
    std::string alias;
};

struct BucketSummary {
    std::string id;
    std::vector<std::string> global_aliases;
    std::vector<BucketLocalAlias> local_aliases;
};

struct BucketKeyAccess {
    std::string access_key_id;
    std::string name;
    BucketPermissions permissions;
    std::vector<std::string> local_aliases;
};

struct BucketQuotas {
    std::optional<std::uint64_t> max_size; // bytes; unset: no limit
    std::optional<std::uint64_t> max_objects;
    bool operator==(const BucketQuotas&) const = default;
};

struct WebsiteConfig {
    std::string index_document;
    std::string error_document; // empty: none
};

struct BucketInfo {
    std::string id;
    std::vector<std::string> global_aliases;
    bool website_access = false;
    std::optional<WebsiteConfig> website_config;
    std::vector<BucketKeyAccess> keys;
    std::uint64_t objects = 0;
    std::uint64_t bytes = 0;
    std::uint64_t unfinished_uploads = 0;
    BucketQuotas quotas;
    // The permissions of one key on this bucket (all false when it has none).
    BucketPermissions permissions_of(const std::string& access_key_id) const;
};

struct KeySummary {
    std::string id;
    std::string name;
};

struct KeyBucketAccess {
    std::string id;
    std::vector<std::string> global_aliases;
    std::vector<std::string> local_aliases;
    BucketPermissions permissions;
};

struct KeyInfo {
    std::string access_key_id;
    std::string name;
    // Only from CreateKey, or GetKeyInfo when asked for; ImportKey never returns it.
    std::optional<std::string> secret_access_key;
    bool can_create_bucket = false;
    std::vector<KeyBucketAccess> buckets;
};

// Parsing of the documents' response shapes (v1 and v2 alike); missing optional fields
// keep their defaults, unknown fields are ignored. Throws nlohmann::json errors on a
// wrong type, fedi::Error for a float where an integer belongs.
void from_json(const nlohmann::json& j, Health& v);
void from_json(const nlohmann::json& j, LayoutRole& v);
void from_json(const nlohmann::json& j, RoleChange& v);
void from_json(const nlohmann::json& j, Layout& v);
void from_json(const nlohmann::json& j, Node& v);
void from_json(const nlohmann::json& j, ClusterStatus& v); // v2, and v1 on Garage 1.x
void from_json(const nlohmann::json& j, BucketPermissions& v);
void from_json(const nlohmann::json& j, BucketSummary& v);
void from_json(const nlohmann::json& j, BucketInfo& v);
void from_json(const nlohmann::json& j, KeySummary& v);
void from_json(const nlohmann::json& j, KeyInfo& v);

// One client per thread (it owns an http::Client). Every method throws fedi::Error
// (AdminError when Garage answered an error) with a context line naming what was done.
class GarageAdmin {
  public:
    explicit GarageAdmin(AdminConfig config);

    // v2 when GET /v2/GetClusterHealth answers (Garage 2.x); v1 when that is refused
    // as a bad request (1.x and 0.9 answer "Unknown API endpoint") and GET /v1/health
    // answers.
    ApiVersion version();

    Health health();
    ClusterStatus cluster_status();
    // Each peer is "<node id>@<ip:port>". Throws naming every peer that failed.
    void connect_nodes(const std::vector<std::string>& peers);

    Layout layout();
    // Returns the layout with the changes staged.
    Layout stage_role_changes(const std::vector<RoleChange>& changes);
    // Applies the staged changes as layout `version` (the current version + 1).
    Layout apply_layout(std::uint64_t version);
    void revert_layout();
    // Makes the applied layout exactly `roles` (nodes not listed lose their role):
    // stages and applies only what differs, and returns whether the layout changed.
    // Changes staged by someone else are reverted first. `replication` is the cluster's
    // replication factor (garage.toml): fewer storage roles is refused before anything
    // is staged. When applying fails, the staged changes are reverted.
    bool ensure_layout(const std::vector<LayoutRole>& roles,
                       std::optional<unsigned> replication = std::nullopt);

    std::vector<BucketSummary> list_buckets();
    BucketInfo bucket_info(const std::string& id);
    BucketInfo bucket_info_by_alias(const std::string& global_alias);
    // nullopt when no bucket has this global alias.
    std::optional<BucketInfo> find_bucket(const std::string& global_alias);
    BucketInfo create_bucket(const std::string& global_alias);
    // Refused by Garage (BucketNotEmpty) while the bucket holds objects.
    void delete_bucket(const std::string& id);
    BucketInfo set_quotas(const std::string& id, const BucketQuotas& quotas);
    BucketInfo enable_website(const std::string& id, const std::string& index_document,
                              const std::string& error_document = "");
    BucketInfo disable_website(const std::string& id);

    std::vector<KeySummary> list_keys();
    KeyInfo key_info(const std::string& id, bool show_secret = false);
    KeyInfo create_key(const std::string& name);
    KeyInfo import_key(const std::string& id, const std::string& secret, const std::string& name);
    void delete_key(const std::string& id);

    // Garage's semantics: allow sets the flags that are true, deny clears the flags that
    // are true; flags that are false are left as they are.
    BucketInfo allow_key(const std::string& bucket_id, const std::string& key_id,
                         BucketPermissions flags);
    BucketInfo deny_key(const std::string& bucket_id, const std::string& key_id,
                        BucketPermissions flags);
    // Gives the key exactly `wanted` on the bucket; returns whether anything changed.
    bool ensure_key_permissions(const std::string& bucket_id, const std::string& key_id,
                                BucketPermissions wanted);

    const std::string& endpoint() const { return config_.endpoint; }

  private:
    struct Call;
    nlohmann::json call(const Call& call);
    // Sends `operation` (a v2 name) as the detected API version wants it.
    nlohmann::json call(const char* operation, const std::string& query = {});
    nlohmann::json call(const char* operation, const std::string& query,
                        const nlohmann::json& body);
    http::Response send(const Call& call);
    [[noreturn]] void fail(const Call& call, const http::Response& response) const;
    bool v2();
    BucketInfo update_bucket(const std::string& id, const nlohmann::json& body);
    BucketInfo change_permissions(const char* operation, const std::string& bucket_id,
                                  const std::string& key_id, BucketPermissions flags);
    template <typename F> auto in_context(const std::string& what, F&& f) -> decltype(f());

    AdminConfig config_;
    http::Client http_;
};

// "Garage <operation>: <code>: <message> (HTTP <status>)" from an error answer, with
// `secret` (the admin token) blanked out wherever the server echoed it.
std::string garage_error_message(std::string_view operation, const http::Response& response,
                                 std::string_view secret);

} // namespace fedi::storage::garage
