// The storage part of a plan: the storage converge's dry run (Garage layout node by node,
// buckets, quotas, website flags, keys and their permissions) as plan items, the key
// files machines would receive, and digests of what the APIs answered.
#include "plan/parts.hpp"

#include "deploy/storage_phase.hpp"
#include "s3/hash.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace fedi::plan {

namespace {

Action action_of(const std::string& action) {
    if (action == "create")
        return Action::Create;
    if (action == "destroy")
        return Action::Destroy;
    return Action::Update;
}

StorageItemPlan item_of(const std::string& storage, const storage::TypedChange& c) {
    StorageItemPlan item;
    item.storage = storage;
    item.kind = c.kind;
    item.name = c.name;
    item.action = action_of(c.action);
    for (const auto& f : c.fields)
        item.changes.push_back({f.field, f.from, f.to});
    return item;
}

std::string digest(const nlohmann::json& observed) {
    return "sha256:" + storage::hex(storage::sha256(observed.dump()));
}

// A Garage cluster whose layout changes: the layout version a deploy would apply.
void add_cluster_item(const storage::ItemResult& sr, StoragePlan& plan) {
    bool nodes_change = std::any_of(sr.typed.begin(), sr.typed.end(),
                                    [](const auto& c) { return c.kind == "node"; });
    if (!nodes_change || sr.observed.is_null())
        return;
    auto version = sr.observed.value("version", std::uint64_t{0});
    plan.items.push_back(
        {sr.storage,
         "cluster",
         sr.name,
         Action::Update,
         {{"layout version", std::to_string(version), std::to_string(version + 1)}}});
}

// The files of keys a deploy would make first, by machine.
void add_keys_to_make(const model::Deployment& d, const storage::ItemResult& br,
                      StorageParts& out) {
    const auto& bucket = d.buckets.at(br.name);
    for (const auto& c : br.typed) {
        if (c.kind != "key" || c.action != "create")
            continue;
        auto key = c.name.substr(bucket.name.size() + 1); // "<bucket>/<key>"
        for (const auto& del : bucket.keys.at(key).deliver_to)
            out.keys_to_make[del.machine].push_back(model::key_file_name(bucket.name, key));
    }
}

void add_items(const storage::ItemResult& r, const std::string& kind, StorageParts& out) {
    if (!r.ok)
        out.errors.push_back(fmt::format("{} {}: {}", kind, r.name, r.error));
    for (const auto& c : r.typed)
        out.plan.items.push_back(item_of(r.storage, c));
}

} // namespace

StorageParts plan_storage(session::Session& s, const std::set<std::string>& storages) {
    auto report = deploy::plan_storage_phase(s, storages);
    StorageParts out;
    for (const auto& sr : report.storages) {
        add_cluster_item(sr, out.plan);
        add_items(sr, "storage", out);
        if (!sr.observed.is_null())
            out.observed["cluster." + sr.name] = digest(sr.observed);
    }
    for (const auto& br : report.buckets) {
        add_items(br, "bucket", out);
        add_keys_to_make(s.deployment(), br, out);
        if (!br.observed.is_null())
            out.observed["bucket." + br.storage + "." + br.name] = digest(br.observed);
    }
    out.plan.undeclared = report.undeclared;
    // Keys that exist: the files machines would receive, compared with theirs by hash.
    for (auto& delivery : report.deliveries)
        out.key_files[delivery.machine].push_back(std::move(delivery.file));
    return out;
}

} // namespace fedi::plan
