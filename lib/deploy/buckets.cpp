#include "deploy/buckets.hpp"

#include "core/error.hpp"
#include "state/state.hpp"
#include "storage/backend.hpp"
#include "storage/converge.hpp"
#include "storage/s3.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace fedi::deploy {

namespace {

using nlohmann::json;

bool mutates(BucketAction a) {
    return a != BucketAction::List && a != BucketAction::Info && a != BucketAction::KeyList;
}

class BucketCommand {
  public:
    BucketCommand(const BucketOptions& opts, ui::Events& reporter)
        : opts_(opts), reporter_(reporter) {
        auto file = session::resolve_state_file(opts.project);
        if (mutates(opts.action))
            lock_ = state::Lock::acquire(file, opts.command_line);
        project_ = session::load_project(opts.project);
        state_ = state::load(project_.state_file);
        records_ = storage::storage_state_of(state_);
    }

    json run() {
        const auto& d = project_.deployment;
        if (d.storage.empty())
            throw usage_error(
                fmt::format("{} declares no storage (storage.<name>)", project_.deployment.file));
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
    const model::Bucket* declared() const {
        auto it = project_.deployment.buckets.find(opts_.bucket);
        return it == project_.deployment.buckets.end() ? nullptr : &it->second;
    }

    const storage::BucketRecord* record() const {
        auto it = records_.buckets.find(opts_.bucket);
        return it == records_.buckets.end() ? nullptr : &it->second;
    }

    std::string storage_name() const {
        const auto& all = project_.deployment.storage;
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

    storage::Backend& backend() {
        if (!backend_)
            backend_ = storage::open_backend(project_.deployment.storage.at(storage_name()));
        return *backend_;
    }

    std::optional<storage::BucketView> require_bucket(storage::Backend& be) {
        auto v = be.find_bucket(opts_.bucket);
        if (!v)
            throw Error(fmt::format("storage {} has no bucket {}", storage_name(), opts_.bucket));
        return v;
    }

    void save() {
        storage::set_storage_state(state_, records_);
        state::save(project_.state_file, state_);
    }

    json view_json(const storage::BucketView& v, const std::string& storage) const {
        const storage::BucketRecord* rec = nullptr;
        if (auto it = records_.buckets.find(v.name); it != records_.buckets.end())
            rec = &it->second;
        json keys = json::array();
        for (const auto& k : v.keys) {
            std::string name = k.name;
            if (rec)
                for (const auto& [kname, kr] : rec->keys)
                    if (kr.id == k.id)
                        name = kname;
            keys.push_back({{"id", k.id},
                            {"name", name},
                            {"read", k.permissions.read},
                            {"write", k.permissions.write},
                            {"owner", k.permissions.owner}});
        }
        auto opt = [](const std::optional<std::uint64_t>& n) { return n ? json(*n) : json(); };
        return {{"name", v.name},
                {"storage", storage},
                {"id", v.id},
                {"objects", v.objects},
                {"bytes", v.bytes},
                {"quota", {{"maxSize", opt(v.max_size)}, {"maxObjects", opt(v.max_objects)}}},
                {"website", v.website},
                {"declared", project_.deployment.buckets.count(v.name) > 0},
                {"adhoc", rec && rec->adhoc},
                {"keys", keys}};
    }

    json list() {
        json out = json::array();
        for (const auto& [name, s] : project_.deployment.storage) {
            if (!opts_.storage.empty() && opts_.storage != name)
                continue;
            auto be = storage::open_backend(s);
            for (const auto& v : be->list_buckets())
                out.push_back(view_json(v, name));
        }
        return out;
    }

    storage::ConvergeHooks hooks() {
        storage::ConvergeHooks h;
        h.load_state = [this] { return records_; };
        h.update_state = [this](const std::function<void(storage::StorageState&)>& change) {
            change(records_);
            save();
        };
        h.node_id_of = [](const std::string& m) -> std::string {
            throw Error("node ids are read by fedi deploy, not here (machine " + m + ")");
        };
        h.info = [this](const std::string& s, const std::string& m) { reporter_.info(s, m); };
        h.warn = [this](const std::string& s, const std::string& m) { reporter_.warn(s, m); };
        return h;
    }

    json create() {
        auto storage = storage_name();
        if (auto b = declared()) {
            if (b->storage != storage)
                throw usage_error(
                    fmt::format("bucket {} is declared on storage {}", opts_.bucket, b->storage));
            storage::ConvergeOptions o;
            o.storages = {storage};
            o.buckets = {opts_.bucket};
            o.cluster = false;
            auto r = storage::converge(project_.deployment, o, hooks());
            for (const auto& s : r.storages)
                if (!s.ok)
                    throw Error(s.error);
            for (const auto& b : r.buckets)
                if (!b.ok)
                    throw Error(b.error);
            json changes = r.buckets.empty() ? json::array() : json(r.buckets.front().changes);
            reporter_.info("bucket " + opts_.bucket,
                           "declared: its keys are delivered to machines by `fedi deploy`");
            return {{"name", opts_.bucket},
                    {"storage", storage},
                    {"declared", true},
                    {"changes", changes}};
        }
        storage::check_bucket_name(opts_.bucket);
        auto& be = backend();
        storage::BucketRecord rec;
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
                                          opts_.bucket, project_.deployment.file, opts_.bucket));
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
        storage::Permissions now;
        for (const auto& k : v->keys)
            if (k.id == id)
                now = k.permissions;
        bool allow = opts_.action == BucketAction::Allow;
        storage::Permissions wanted{
            allow ? (now.read || opts_.read) : (now.read && !opts_.read),
            allow ? (now.write || opts_.write) : (now.write && !opts_.write),
            allow ? (now.owner || opts_.owner) : (now.owner && !opts_.owner)};
        if (auto b = declared(); b && record())
            for (const auto& [kname, k] : b->keys)
                if (record()->keys.count(kname) && record()->keys.at(kname).id == id)
                    reporter_.warn("bucket " + opts_.bucket,
                                   fmt::format("key {} is declared: the next deploy sets its "
                                               "permissions back to what the deployment says",
                                               kname));
        bool changed = be.set_permissions(*v, id, wanted, false);
        return {{"bucket", opts_.bucket}, {"key", id},
                {"changed", changed},     {"read", wanted.read},
                {"write", wanted.write},  {"owner", wanted.owner}};
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
        auto key =
            be.create_key(opts_.bucket, rec, storage::garage_key_name(opts_.bucket, opts_.key));
        rec.keys[opts_.key] = {key.id, key.secret, true};
        save();
        bool any = opts_.read || opts_.write || opts_.owner;
        storage::Permissions p{any ? opts_.read : true, any ? opts_.write : true, opts_.owner};
        be.set_permissions(*be.find_bucket(opts_.bucket), key.id, p, false);
        const auto& s = project_.deployment.storage.at(storage_name());
        return {{"bucket", opts_.bucket},
                {"name", opts_.key},
                {"accessKeyId", key.id},
                {"secretAccessKey", key.secret},
                {"s3Endpoint", s.s3_endpoint},
                {"region", s.region},
                {"read", p.read},
                {"write", p.write},
                {"owner", p.owner}};
    }

    json key_delete() {
        if (auto b = declared(); b && b->keys.count(opts_.key))
            throw usage_error(fmt::format("key {} of bucket {} is declared in {}: remove it there "
                                          "first, or the next deploy creates it again",
                                          opts_.key, opts_.bucket, project_.deployment.file));
        auto& be = backend();
        storage::BucketRecord rec;
        if (auto r = record())
            rec = *r;
        std::string id = opts_.key, name;
        for (const auto& [kname, k] : rec.keys)
            if (kname == opts_.key || k.id == opts_.key)
                id = k.id, name = kname;
        if (rec.owner_user.empty() &&
            project_.deployment.storage.at(storage_name()).type == model::StorageType::Rgw)
            rec.owner_user = "fedi-" + opts_.bucket;
        be.delete_key(rec, id);
        if (!name.empty()) {
            records_.buckets[opts_.bucket].keys.erase(name);
            save();
        }
        return {{"bucket", opts_.bucket}, {"key", id}, {"deleted", true}};
    }

    const BucketOptions& opts_;
    ui::Events& reporter_;
    std::unique_ptr<state::Lock> lock_;
    session::Project project_;
    state::State state_;
    storage::StorageState records_;
    std::unique_ptr<storage::Backend> backend_;
};

std::string yes_no(const json& j, const char* name) {
    return j.value(name, false) ? "yes" : "no";
}

} // namespace

json run_bucket_command(const BucketOptions& opts, ui::Events& reporter) {
    return BucketCommand(opts, reporter).run();
}

std::string render_bucket_result(BucketAction action, const json& r, bool color) {
    auto perms = [](const json& k) {
        std::string p;
        for (const char* f : {"read", "write", "owner"})
            if (k.value(f, false))
                p += (p.empty() ? "" : "+") + std::string(f);
        return p.empty() ? std::string("none") : p;
    };
    switch (action) {
    case BucketAction::List: {
        std::vector<std::vector<std::string>> rows = {
            {"BUCKET", "STORAGE", "OBJECTS", "SIZE", "KEYS", "DECLARED"}};
        for (const auto& b : r)
            rows.push_back({b["name"], b["storage"], std::to_string(b["objects"].get<long long>()),
                            ui::human_bytes(b["bytes"].get<unsigned long long>()),
                            std::to_string(b["keys"].size()), yes_no(b, "declared")});
        return ui::render_table(rows, color);
    }
    case BucketAction::Info: {
        std::string out =
            fmt::format("bucket   {}\nstorage  {}\nid       {}\nobjects  {} ({})\nwebsite  {}\n"
                        "declared {}\n",
                        r["name"].get<std::string>(), r["storage"].get<std::string>(),
                        r["id"].get<std::string>(), r["objects"].get<long long>(),
                        ui::human_bytes(r["bytes"].get<unsigned long long>()), yes_no(r, "website"),
                        yes_no(r, "declared"));
        if (!r["quota"]["maxSize"].is_null())
            out += fmt::format("max size {}\n",
                               ui::human_bytes(r["quota"]["maxSize"].get<unsigned long long>()));
        for (const auto& k : r["keys"])
            out += fmt::format("key      {} {} {}\n", k["id"].get<std::string>(),
                               k["name"].get<std::string>(), perms(k));
        return out;
    }
    case BucketAction::KeyList: {
        std::vector<std::vector<std::string>> rows = {{"KEY ID", "NAME", "PERMISSIONS"}};
        for (const auto& k : r)
            rows.push_back({k["id"], k["name"], perms(k)});
        return ui::render_table(rows, color);
    }
    case BucketAction::KeyCreate:
        return fmt::format("AWS_ACCESS_KEY_ID={}\nAWS_SECRET_ACCESS_KEY={}\nS3_ENDPOINT={}\n"
                           "S3_REGION={}\nS3_BUCKET={}\n",
                           r["accessKeyId"].get<std::string>(),
                           r["secretAccessKey"].get<std::string>(),
                           r["s3Endpoint"].get<std::string>(), r["region"].get<std::string>(),
                           r["bucket"].get<std::string>());
    case BucketAction::Allow:
    case BucketAction::Deny:
        return fmt::format("key {} on bucket {}: {}{}\n", r["key"].get<std::string>(),
                           r["bucket"].get<std::string>(), perms(r),
                           r["changed"].get<bool>() ? "" : " (unchanged)");
    default: {
        std::string out;
        for (const auto& c : r.value("changes", json::array()))
            out += c.get<std::string>() + "\n";
        if (r.value("deleted", false))
            out += "deleted " + r.value("name", r.value("key", std::string())) + "\n";
        if (out.empty())
            out = "nothing to do\n";
        return out;
    }
    }
}

} // namespace fedi::deploy
