#include "storage/bucket_command.hpp"

#include "core/error.hpp"
#include "s3/s3.hpp"
#include "state/state.hpp"
#include "storage/backend.hpp"
#include "storage/converge.hpp"
#include "ui/output.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace fedi::storage {

namespace {

using nlohmann::json;

// `fields` with a key's permissions added, as every key answer shows them.
json with_permissions(json fields, const Permissions& p) {
    fields["read"] = p.read;
    fields["write"] = p.write;
    fields["owner"] = p.owner;
    return fields;
}

bool mutates(BucketAction a) {
    return a != BucketAction::List && a != BucketAction::Info && a != BucketAction::KeyList;
}

class BucketCommand {
  public:
    BucketCommand(session::Session& s, const BucketOptions& opts)
        : s_(s), opts_(opts), records_(storage_state_of(s.state().snapshot())) {}

    json run() {
        const auto& d = deployment();
        if (d.storage.empty())
            throw usage_error(fmt::format("{} declares no storage (storage.<name>)", d.file));
        switch (opts_.action) {
        case BucketAction::List:
            return list();
        case BucketAction::Info:
            return view_json(*require_bucket(backend()), storage_name());
        case BucketAction::Create:
            return create();
        case BucketAction::Delete:
            return remove();
        case BucketAction::Allow:
        case BucketAction::Deny:
            return permissions();
        case BucketAction::KeyList:
            return view_json(*require_bucket(backend()), storage_name())["keys"];
        case BucketAction::KeyCreate:
            return key_create();
        case BucketAction::KeyDelete:
            return key_delete();
        }
        return json();
    }

  private:
    const model::Deployment& deployment() const { return s_.deployment(); }

    const model::Bucket* declared() const {
        auto it = deployment().buckets.find(opts_.bucket);
        return it == deployment().buckets.end() ? nullptr : &it->second;
    }

    const BucketRecord* record() const {
        auto it = records_.buckets.find(opts_.bucket);
        return it == records_.buckets.end() ? nullptr : &it->second;
    }

    std::string storage_name() const {
        const auto& all = deployment().storage;
        if (!opts_.storage.empty()) {
            if (!all.count(opts_.storage))
                throw usage_error(fmt::format("--storage: no storage named \"{}\"", opts_.storage));
            return opts_.storage;
        }
        if (auto b = declared())
            return b->storage;
        if (auto r = record())
            return r->storage;
        if (all.size() == 1)
            return all.begin()->first;
        std::vector<std::string> names;
        for (const auto& [n, s] : all)
            names.push_back(n);
        throw usage_error(
            fmt::format("which storage? give --storage ({})", fmt::join(names, ", ")));
    }

    Backend& backend() {
        if (!backend_)
            backend_ = open_backend(deployment().storage.at(storage_name()));
        return *backend_;
    }

    std::optional<BucketView> require_bucket(Backend& be) {
        auto v = be.find_bucket(opts_.bucket);
        if (!v)
            throw Error(fmt::format("storage {} has no bucket {}", storage_name(), opts_.bucket));
        return v;
    }

    void save() {
        s_.state().change([this](state::State& st) { set_storage_state(st, records_); });
    }

    json view_json(const BucketView& v, const std::string& storage) const {
        const BucketRecord* rec = nullptr;
        if (auto it = records_.buckets.find(v.name); it != records_.buckets.end())
            rec = &it->second;
        json keys = json::array();
        for (const auto& k : v.keys) {
            std::string name = k.name;
            if (rec)
                for (const auto& [kname, kr] : rec->keys)
                    if (kr.id == k.id)
                        name = kname;
            keys.push_back(with_permissions({{"id", k.id}, {"name", name}}, k.permissions));
        }
        auto opt = [](const std::optional<std::uint64_t>& n) { return n ? json(*n) : json(); };
        return {{"name", v.name},
                {"storage", storage},
                {"id", v.id},
                {"objects", v.objects},
                {"bytes", v.bytes},
                {"quota", {{"maxSize", opt(v.max_size)}, {"maxObjects", opt(v.max_objects)}}},
                {"website", v.website},
                {"declared", deployment().buckets.count(v.name) > 0},
                {"adhoc", rec && rec->adhoc},
                {"keys", keys}};
    }

    json list() {
        json out = json::array();
        for (const auto& [name, s] : deployment().storage) {
            if (!opts_.storage.empty() && opts_.storage != name)
                continue;
            auto be = open_backend(s);
            for (const auto& v : be->list_buckets())
                out.push_back(view_json(v, name));
        }
        return out;
    }

    ConvergeHooks hooks() {
        ConvergeHooks h;
        h.load_state = [this] { return records_; };
        h.update_state = [this](const std::function<void(StorageState&)>& change) {
            change(records_);
            save();
        };
        h.node_id_of = [](const std::string& m) -> std::string {
            throw Error("node ids are read by fedi deploy, not here (machine " + m + ")");
        };
        h.info = [this](const std::string& s, const std::string& m) { s_.events().info(s, m); };
        h.warn = [this](const std::string& s, const std::string& m) { s_.events().warn(s, m); };
        return h;
    }

    // A declared bucket: made as the deployment says (its keys are delivered by deploy).
    json create_declared(const model::Bucket& b, const std::string& storage) {
        if (b.storage != storage)
            throw usage_error(
                fmt::format("bucket {} is declared on storage {}", opts_.bucket, b.storage));
        ConvergeOptions o;
        o.storages = {storage};
        o.buckets = {opts_.bucket};
        o.cluster = false;
        auto r = converge(deployment(), o, hooks());
        for (const auto& st : r.storages)
            if (!st.ok)
                throw Error(st.error);
        for (const auto& bucket : r.buckets)
            if (!bucket.ok)
                throw Error(bucket.error);
        json changes = r.buckets.empty() ? json::array() : json(r.buckets.front().changes);
        s_.events().info("bucket " + opts_.bucket,
                         "declared: its keys are delivered to machines by `fedi deploy`");
        return {
            {"name", opts_.bucket}, {"storage", storage}, {"declared", true}, {"changes", changes}};
    }

    json create() {
        auto storage = storage_name();
        if (auto b = declared())
            return create_declared(*b, storage);
        check_bucket_name(opts_.bucket);
        auto& be = backend();
        BucketRecord rec;
        rec.storage = storage;
        rec.adhoc = true;
        json changes = json::array();
        auto v = be.find_bucket(opts_.bucket);
        if (!v) {
            v = be.create_bucket(opts_.bucket, rec);
            changes.push_back(fmt::format("created bucket (id {})", v->id));
        } else {
            rec.id = v->id;
        }
        if (auto old = record())
            rec.keys = old->keys, rec.adhoc = old->adhoc;
        records_.buckets[opts_.bucket] = rec;
        save();
        return {{"name", opts_.bucket},
                {"storage", storage},
                {"declared", false},
                {"id", v->id},
                {"changes", changes}};
    }

    json remove() {
        if (declared())
            throw usage_error(fmt::format("bucket {} is declared in {} (buckets.{}): remove it "
                                          "there first, or the next deploy creates it again",
                                          opts_.bucket, deployment().file, opts_.bucket));
        auto& be = backend();
        auto v = require_bucket(be);
        be.delete_bucket(*v, record(), opts_.force);
        records_.buckets.erase(opts_.bucket);
        save();
        return {{"name", opts_.bucket},
                {"storage", storage_name()},
                {"deleted", true},
                {"objectsDeleted", opts_.force ? v->objects : 0}};
    }

    // The key named on the command line: a name recorded in state, or an access key id.
    std::string key_id() const {
        if (auto r = record())
            if (auto it = r->keys.find(opts_.key); it != r->keys.end())
                return it->second.id;
        return opts_.key;
    }

    json permissions() {
        if (!opts_.read && !opts_.write && !opts_.owner)
            throw usage_error("give at least one of --read, --write, --owner");
        auto& be = backend();
        auto v = require_bucket(be);
        auto id = key_id();
        Permissions now;
        for (const auto& k : v->keys)
            if (k.id == id)
                now = k.permissions;
        bool allow = opts_.action == BucketAction::Allow;
        Permissions wanted{allow ? (now.read || opts_.read) : (now.read && !opts_.read),
                           allow ? (now.write || opts_.write) : (now.write && !opts_.write),
                           allow ? (now.owner || opts_.owner) : (now.owner && !opts_.owner)};
        if (auto b = declared(); b && record())
            for (const auto& [kname, k] : b->keys)
                if (record()->keys.count(kname) && record()->keys.at(kname).id == id)
                    s_.events().warn("bucket " + opts_.bucket,
                                     fmt::format("key {} is declared: the next deploy sets its "
                                                 "permissions back to what the deployment says",
                                                 kname));
        bool changed = be.set_permissions(*v, id, wanted, false);
        return with_permissions({{"bucket", opts_.bucket}, {"key", id}, {"changed", changed}},
                                wanted);
    }

    json key_create() {
        if (auto b = declared(); b && b->keys.count(opts_.key))
            throw usage_error(fmt::format("key {} of bucket {} is declared: `fedi deploy` creates "
                                          "and delivers it",
                                          opts_.key, opts_.bucket));
        auto& be = backend();
        auto v = require_bucket(be);
        auto& rec = records_.buckets[opts_.bucket];
        if (rec.storage.empty()) {
            rec.storage = storage_name();
            rec.id = v->id;
            rec.adhoc = !declared();
        }
        if (rec.keys.count(opts_.key))
            throw usage_error(fmt::format("bucket {} already has a key named {} (id {})",
                                          opts_.bucket, opts_.key, rec.keys.at(opts_.key).id));
        auto key = be.create_key(opts_.bucket, rec, garage_key_name(opts_.bucket, opts_.key));
        rec.keys[opts_.key] = {key.id, key.secret, true};
        save();
        bool any = opts_.read || opts_.write || opts_.owner;
        Permissions p{any ? opts_.read : true, any ? opts_.write : true, opts_.owner};
        be.set_permissions(*be.find_bucket(opts_.bucket), key.id, p, false);
        const auto& s = deployment().storage.at(storage_name());
        json fields = {{"bucket", opts_.bucket}, {"name", opts_.key}, {"accessKeyId", key.id}};
        fields["secretAccessKey"] = key.secret;
        fields["s3Endpoint"] = s.s3_endpoint;
        fields["region"] = s.region;
        return with_permissions(fields, p);
    }

    json key_delete() {
        if (auto b = declared(); b && b->keys.count(opts_.key))
            throw usage_error(fmt::format("key {} of bucket {} is declared in {}: remove it there "
                                          "first, or the next deploy creates it again",
                                          opts_.key, opts_.bucket, deployment().file));
        auto& be = backend();
        BucketRecord rec;
        if (auto r = record())
            rec = *r;
        std::string id = opts_.key, name;
        for (const auto& [kname, k] : rec.keys)
            if (kname == opts_.key || k.id == opts_.key)
                id = k.id, name = kname;
        if (rec.owner_user.empty() &&
            deployment().storage.at(storage_name()).type == model::StorageType::Rgw)
            rec.owner_user = "fedi-" + opts_.bucket;
        be.delete_key(rec, id);
        if (!name.empty()) {
            records_.buckets[opts_.bucket].keys.erase(name);
            save();
        }
        return {{"bucket", opts_.bucket}, {"key", id}, {"deleted", true}};
    }

    session::Session& s_;
    const BucketOptions& opts_;
    StorageState records_;
    std::unique_ptr<Backend> backend_;
};

std::string yes_no(const json& j, const char* name) {
    return j.value(name, false) ? "yes" : "no";
}

// "read+write", or "none".
std::string permissions_text(const json& k) {
    std::string p;
    for (const char* f : {"read", "write", "owner"})
        if (k.value(f, false))
            p += (p.empty() ? "" : "+") + std::string(f);
    return p.empty() ? std::string("none") : p;
}

std::string render_list(const json& r, bool color) {
    std::vector<std::vector<std::string>> rows = {
        {"BUCKET", "STORAGE", "OBJECTS", "SIZE", "KEYS", "DECLARED"}};
    for (const auto& b : r)
        rows.push_back({b["name"], b["storage"], std::to_string(b["objects"].get<long long>()),
                        ui::human_bytes(b["bytes"].get<unsigned long long>()),
                        std::to_string(b["keys"].size()), yes_no(b, "declared")});
    return ui::render_table(rows, color);
}

std::string render_info(const json& r) {
    std::string out = fmt::format(
        "bucket   {}\nstorage  {}\nid       {}\nobjects  {} ({})\nwebsite  {}\n"
        "declared {}\n",
        r["name"].get<std::string>(), r["storage"].get<std::string>(), r["id"].get<std::string>(),
        r["objects"].get<long long>(), ui::human_bytes(r["bytes"].get<unsigned long long>()),
        yes_no(r, "website"), yes_no(r, "declared"));
    if (!r["quota"]["maxSize"].is_null())
        out += fmt::format("max size {}\n",
                           ui::human_bytes(r["quota"]["maxSize"].get<unsigned long long>()));
    for (const auto& k : r["keys"])
        out += fmt::format("key      {} {} {}\n", k["id"].get<std::string>(),
                           k["name"].get<std::string>(), permissions_text(k));
    return out;
}

std::string render_key_list(const json& r, bool color) {
    std::vector<std::vector<std::string>> rows = {{"KEY ID", "NAME", "PERMISSIONS"}};
    for (const auto& k : r)
        rows.push_back({k["id"], k["name"], permissions_text(k)});
    return ui::render_table(rows, color);
}

// The new key as environment lines a script can source (the secret is shown only now).
std::string render_key_created(const json& r) {
    return fmt::format("AWS_ACCESS_KEY_ID={}\nAWS_SECRET_ACCESS_KEY={}\nS3_ENDPOINT={}\n"
                       "S3_REGION={}\nS3_BUCKET={}\n",
                       r["accessKeyId"].get<std::string>(), r["secretAccessKey"].get<std::string>(),
                       r["s3Endpoint"].get<std::string>(), r["region"].get<std::string>(),
                       r["bucket"].get<std::string>());
}

std::string render_permissions(const json& r) {
    return fmt::format("key {} on bucket {}: {}{}\n", r["key"].get<std::string>(),
                       r["bucket"].get<std::string>(), permissions_text(r),
                       r["changed"].get<bool>() ? "" : " (unchanged)");
}

// What create and delete did, one line each.
std::string render_changes(const json& r) {
    std::string out;
    for (const auto& c : r.value("changes", json::array()))
        out += c.get<std::string>() + "\n";
    if (r.value("deleted", false))
        out += "deleted " + r.value("name", r.value("key", std::string())) + "\n";
    if (out.empty())
        out = "nothing to do\n";
    return out;
}

} // namespace

json run_bucket_command(session::Session& s, const BucketOptions& opts) {
    return BucketCommand(s, opts).run();
}

json run_bucket_command(const BucketOptions& opts, ui::Events& events) {
    auto options = opts.session;
    options.state_mode =
        mutates(opts.action) ? session::StateMode::Locked : session::StateMode::ReadOnly;
    auto s = session::open_session(options, events);
    return run_bucket_command(*s, opts);
}

std::string render_bucket_result(BucketAction action, const json& r, bool color) {
    switch (action) {
    case BucketAction::List:
        return render_list(r, color);
    case BucketAction::Info:
        return render_info(r);
    case BucketAction::KeyList:
        return render_key_list(r, color);
    case BucketAction::KeyCreate:
        return render_key_created(r);
    case BucketAction::Allow:
    case BucketAction::Deny:
        return render_permissions(r);
    default:
        return render_changes(r);
    }
}

} // namespace fedi::storage
