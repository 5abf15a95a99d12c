// The Garage backend: the admin API for the cluster, buckets and keys; S3 (with a
// temporary key) only to empty a bucket that is force-deleted.
#include "core/error.hpp"
#include "s3/s3.hpp"
#include "storage/backend.hpp"
#include "storage/backend_impl.hpp"
#include "storage/garage_admin.hpp"

#include <algorithm>
#include <chrono>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <map>
#include <set>
#include <thread>

namespace fedi::storage {

namespace {

using garage::GarageAdmin;

std::string short_id(const std::string& id) {
    return id.substr(0, 16);
}

BucketView view_of(const std::string& name, const garage::BucketInfo& info) {
    BucketView v;
    v.name = name;
    v.id = info.id;
    v.objects = info.objects;
    v.bytes = info.bytes;
    v.max_size = info.quotas.max_size;
    v.max_objects = info.quotas.max_objects;
    v.website = info.website_access;
    for (const auto& k : info.keys)
        v.keys.push_back({k.access_key_id,
                          k.name,
                          {k.permissions.read, k.permissions.write, k.permissions.owner}});
    return v;
}

std::vector<garage::LayoutRole> sorted(std::vector<garage::LayoutRole> roles) {
    for (auto& r : roles)
        std::sort(r.tags.begin(), r.tags.end());
    std::sort(roles.begin(), roles.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return roles;
}

class GarageBackend : public Backend {
  public:
    explicit GarageBackend(const model::Storage& s)
        : config_(s), admin_(garage::AdminConfig{
                          s.admin_endpoint, read_secret(s.admin_token), std::nullopt, {}}) {}

    std::vector<std::string>
    converge_cluster(const std::function<std::string(const std::string&)>& node_id_of,
                     bool dry_run) override {
        std::vector<std::string> changes;
        if (!config_.nodes.empty()) {
            std::vector<garage::LayoutRole> wanted;
            std::vector<std::pair<std::string, std::string>> peers; // machine, id@addr
            for (const auto& n : config_.nodes) {
                std::string full = n.node_id ? *n.node_id : std::string();
                if (full.empty()) {
                    if (dry_run) {
                        changes.push_back("layout: would be checked once the node ids are read "
                                          "from the machines");
                        return changes;
                    }
                    full = with_context(
                        fmt::format("reading the Garage node id of machine {}", n.machine),
                        [&] { return node_id_of(n.machine); });
                }
                wanted.push_back(role_of(n, full));
                peers.emplace_back(n.machine, full);
            }
            connect(peers, dry_run, changes);
            auto current = sorted(admin_.layout().roles);
            if (current != sorted(wanted)) {
                std::vector<std::string> desc;
                for (const auto& r : wanted)
                    desc.push_back(
                        fmt::format("{} ({}, zone {})", r.tags[0], short_id(r.id), r.zone));
                std::string what =
                    fmt::format("layout: {} storage node(s) {}, replication {}", wanted.size(),
                                fmt::join(desc, ", "), config_.replication);
                if (dry_run) {
                    changes.push_back("would set " + what);
                } else {
                    if (admin_.ensure_layout(wanted, config_.replication))
                        changes.push_back("applied " + what);
                }
            }
        }
        if (!dry_run)
            wait_healthy();
        return changes;
    }

    std::optional<LayoutView>
    read_layout(const std::function<std::string(const std::string&)>& node_id_of) override {
        if (config_.nodes.empty()) // an existing cluster: fedi does not manage its layout
            return std::nullopt;
        LayoutView v;
        auto layout = admin_.layout();
        v.version = layout.version;
        for (const auto& r : sorted(layout.roles))
            v.current.push_back({"", r.id, r.zone, r.capacity, r.tags});
        for (const auto& n : config_.nodes) {
            std::string full = n.node_id ? *n.node_id : std::string();
            try {
                if (full.empty())
                    full = node_id_of(n.machine);
                auto r = role_of(n, full);
                v.wanted.push_back({n.machine, r.id, r.zone, r.capacity, r.tags});
            } catch (const Error& e) {
                v.unknown[n.machine] = e.describe();
                auto r = role_of(n, std::string(64, '0')); // zone, capacity, tags as declared
                v.wanted.push_back({n.machine, "", r.zone, r.capacity, r.tags});
            }
        }
        return v;
    }

    std::vector<BucketView> list_buckets() override {
        std::vector<BucketView> out;
        for (const auto& b : admin_.list_buckets()) {
            auto info = admin_.bucket_info(b.id);
            out.push_back(view_of(b.global_aliases.empty() ? "" : b.global_aliases.front(), info));
        }
        return out;
    }

    std::optional<BucketView> find_bucket(const std::string& name) override {
        auto info = admin_.find_bucket(name);
        if (!info)
            return std::nullopt;
        return view_of(name, *info);
    }

    BucketView create_bucket(const std::string& name, BucketRecord& record) override {
        auto info = admin_.create_bucket(name);
        record.id = info.id;
        return view_of(name, info);
    }

    std::vector<std::string> apply_settings(const BucketView& current, const model::Bucket& wanted,
                                            bool dry_run) override {
        std::vector<std::string> changes;
        if (current.max_size != wanted.max_size || current.max_objects != wanted.max_objects) {
            auto show = [](const std::optional<std::uint64_t>& v) {
                return v ? std::to_string(*v) : std::string("none");
            };
            changes.push_back(fmt::format("quotas: max size {}, max objects {}",
                                          show(wanted.max_size), show(wanted.max_objects)));
            if (!dry_run)
                admin_.set_quotas(current.id, {wanted.max_size, wanted.max_objects});
        }
        bool website_differs = current.website != wanted.website;
        if (wanted.website && !website_differs) {
            auto info = admin_.bucket_info(current.id);
            website_differs = !info.website_config ||
                              info.website_config->index_document != wanted.index_document ||
                              info.website_config->error_document != wanted.error_document;
        }
        if (website_differs) {
            changes.push_back(wanted.website ? "website: enabled" : "website: disabled");
            if (!dry_run) {
                if (wanted.website)
                    admin_.enable_website(current.id, wanted.index_document, wanted.error_document);
                else
                    admin_.disable_website(current.id);
            }
        }
        return changes;
    }

    void delete_bucket(const BucketView& bucket, const BucketRecord* record, bool force) override {
        if ((bucket.objects > 0) && !force)
            throw Error(fmt::format("bucket {} holds {} object(s) ({} bytes): not deleted (use "
                                    "--force to delete it with its contents)",
                                    bucket.name, bucket.objects, bucket.bytes));
        if (bucket.objects > 0)
            empty_bucket(bucket);
        admin_.delete_bucket(bucket.id);
        if (record)
            for (const auto& [name, k] : record->keys)
                delete_key(*record, k.id);
    }

    NewKey create_key(const std::string&, const BucketRecord&, const std::string& name) override {
        auto k = admin_.create_key(name);
        if (!k.secret_access_key)
            throw Error(
                fmt::format("Garage CreateKey: no secret returned for key {}", k.access_key_id));
        return {k.access_key_id, *k.secret_access_key};
    }

    std::optional<std::string> key_secret(const BucketRecord&, const std::string& id) override {
        try {
            auto k = admin_.key_info(id, true);
            return k.secret_access_key.value_or("");
        } catch (const garage::AdminError& e) {
            if (e.status() == 404)
                return std::nullopt;
            throw;
        }
    }

    std::vector<std::string> keys_named(const std::string& name) override {
        std::vector<std::string> ids;
        for (const auto& k : admin_.list_keys())
            if (k.name == name)
                ids.push_back(k.id);
        return ids;
    }

    void delete_key(const BucketRecord&, const std::string& id) override {
        try {
            admin_.delete_key(id);
        } catch (const garage::AdminError& e) {
            if (e.status() != 404) // already gone is what was asked
                throw;
        }
    }

    NewKey create_reader_key(const std::string& bucket, const BucketRecord& record,
                             const std::string& name) override {
        return create_key(bucket, record, name);
    }

    void allow_read_only(const std::string& bucket, const BucketRecord&,
                         const std::string& key_id) override {
        auto view = find_bucket(bucket);
        if (!view)
            throw Error(fmt::format("Garage: bucket {} does not exist", bucket));
        set_permissions(*view, key_id, {true, false, false}, false);
    }

    bool set_permissions(const BucketView& bucket, const std::string& key_id, Permissions wanted,
                         bool dry_run) override {
        garage::BucketPermissions w{wanted.read, wanted.write, wanted.owner};
        if (dry_run) {
            for (const auto& k : bucket.keys)
                if (k.id == key_id)
                    return !(k.permissions == wanted);
            return wanted.read || wanted.write || wanted.owner;
        }
        return admin_.ensure_key_permissions(bucket.id, key_id, w);
    }

    const model::Storage& config() const override { return config_; }

  private:
    // The layout role of a declared node whose `garage node id` is `full` (id[@addr]).
    garage::LayoutRole role_of(const model::GarageNode& n, const std::string& full) const {
        std::string id = full.substr(0, full.find('@'));
        if (id.size() != 64 || id.find_first_not_of("0123456789abcdef") != std::string::npos)
            throw Error(fmt::format("machine {}: \"{}\" is not a Garage node id", n.machine, full));
        garage::LayoutRole role;
        role.id = id;
        role.zone = n.zone;
        role.capacity = n.capacity.value_or(config_.capacity);
        role.tags = {n.machine};
        return role;
    }

    void connect(const std::vector<std::pair<std::string, std::string>>& peers, bool dry_run,
                 std::vector<std::string>& changes) {
        std::set<std::string> up;
        for (const auto& n : admin_.cluster_status().nodes)
            if (n.is_up)
                up.insert(n.id);
        std::vector<std::string> to_connect;
        std::vector<std::string> names;
        for (const auto& [machine, full] : peers) {
            auto id = full.substr(0, full.find('@'));
            if (up.count(id))
                continue;
            if (full.find('@') == std::string::npos)
                throw Error(fmt::format("Garage node {} of machine {} is not connected and its "
                                        "address is unknown (give nodes.{}.nodeId as id@ip:port)",
                                        short_id(id), machine, machine));
            to_connect.push_back(full);
            names.push_back(machine);
        }
        if (to_connect.empty())
            return;
        auto what = fmt::format("node(s) {}", fmt::join(names, ", "));
        if (dry_run) {
            changes.push_back("would connect " + what);
            return;
        }
        // A node that cannot be reached now may come back while we wait for health; the
        // health check decides, and its error says what connecting said.
        try {
            admin_.connect_nodes(to_connect);
            changes.push_back("connected " + what);
        } catch (const Error& e) {
            connect_error_ = e.message();
        }
    }

    void wait_healthy() {
        auto deadline =
            std::chrono::steady_clock::now() + std::chrono::seconds(config_.health_timeout_seconds);
        for (;;) {
            auto h = admin_.health();
            bool enough = config_.nodes.empty() || h.storage_nodes_ok >= config_.nodes.size();
            if (h.healthy() && enough)
                return;
            if (std::chrono::steady_clock::now() >= deadline)
                throw Error(
                    fmt::format(
                        "the Garage cluster is not healthy after {} s: status {}, {} of {} storage "
                        "node(s) up, {} of {} partitions with quorum",
                        config_.health_timeout_seconds, h.status, h.storage_nodes_ok,
                        h.storage_nodes, h.partitions_quorum, h.partitions) +
                    (connect_error_.empty() ? "" : "; connecting nodes failed: " + connect_error_));
            std::this_thread::sleep_for(std::chrono::seconds(1));
        }
    }

    // Deletes every object through S3 with a key made for this and deleted after.
    void empty_bucket(const BucketView& bucket) {
        auto key = admin_.create_key("fedi-empty-" + bucket.name);
        try {
            admin_.allow_key(bucket.id, key.access_key_id, {true, true, true});
            S3Config c;
            c.endpoint = config_.s3_endpoint;
            c.region = config_.region;
            c.credentials = {key.access_key_id, key.secret_access_key.value_or(""), ""};
            S3Client s3(c);
            for (const auto& o : s3.list_objects(bucket.name))
                s3.delete_object(bucket.name, o.key);
        } catch (...) {
            delete_key({}, key.access_key_id);
            throw;
        }
        delete_key({}, key.access_key_id);
    }

    model::Storage config_;
    GarageAdmin admin_;
    std::string connect_error_;
};

} // namespace

std::unique_ptr<Backend> make_garage_backend(const model::Storage& s) {
    return std::make_unique<GarageBackend>(s);
}

} // namespace fedi::storage
