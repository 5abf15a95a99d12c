#include "storage/converge.hpp"

#include "core/error.hpp"
#include "storage/backend.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <set>

namespace fedi::storage {

namespace {

std::string perms_text(const Permissions& k) {
    std::vector<std::string> p;
    if (k.read)
        p.push_back("read");
    if (k.write)
        p.push_back("write");
    if (k.owner)
        p.push_back("owner");
    return p.empty() ? "none" : fmt::format("{}", fmt::join(p, "+"));
}

std::string perms_text(const model::BucketKey& k) {
    return perms_text(Permissions{k.read, k.write, k.owner});
}

std::string size_text(const std::optional<std::uint64_t>& v) {
    return v ? std::to_string(*v) : std::string("none");
}

std::string on_off(bool on) {
    return on ? "enabled" : "disabled";
}

// Adds old → new to `c` when they differ.
void add_field(TypedChange& c, const std::string& field, const std::string& from,
               const std::string& to) {
    if (from != to)
        c.fields.push_back({field, from, to});
}

// What the backend said about a bucket, without secrets and without what use changes
// (object counts).
nlohmann::json observed_of(const std::optional<BucketView>& v) {
    if (!v)
        return {{"exists", false}};
    nlohmann::json keys = nlohmann::json::array();
    for (const auto& k : v->keys)
        keys.push_back(
            {{"id", k.id}, {"name", k.name}, {"permissions", perms_text(k.permissions)}});
    auto opt = [](const std::optional<std::uint64_t>& q) {
        return q ? nlohmann::json(*q) : nlohmann::json();
    };
    return {{"exists", true},
            {"id", v->id},
            {"maxSize", opt(v->max_size)},
            {"maxObjects", opt(v->max_objects)},
            {"website", v->website},
            {"keys", keys}};
}

class BucketConverger {
  public:
    BucketConverger(Backend& be, const model::Bucket& b, const ConvergeOptions& opts,
                    const ConvergeHooks& hooks, ItemResult& result,
                    std::vector<KeyDelivery>& deliveries, std::vector<std::string>& undeclared)
        : be_(be), b_(b), opts_(opts), hooks_(hooks), result_(result), deliveries_(deliveries),
          undeclared_(undeclared) {}

    void run() {
        auto rec = load_record();
        auto view = ensure_bucket(rec);
        if (!view)
            return;
        auto settings = be_.apply_settings(*view, b_, opts_.dry_run);
        for (auto& c : settings)
            change((opts_.dry_run ? "would set " : "set ") + c);
        if (!settings.empty())
            typed_settings(*view);
        bool created = false;
        auto keys = ensure_keys(rec, created);
        if (created)
            view = be_.find_bucket(b_.name);
        for (const auto& [name, key] : keys) {
            grant(*view, name, key);
            deliver(name, key);
        }
        report_undeclared_keys(rec);
    }

  private:
    std::string key_name(const std::string& key) const { return b_.name + "/" + key; }

    // The settings apply_settings changes, old → new.
    void typed_settings(const BucketView& v) {
        TypedChange t{"bucket", b_.name, "update", {}};
        add_field(t, "max size", size_text(v.max_size), size_text(b_.max_size));
        add_field(t, "max objects", size_text(v.max_objects), size_text(b_.max_objects));
        add_field(t, "website", on_off(v.website), on_off(b_.website));
        if (t.fields.empty()) // the flag is as declared: its documents differ
            t.fields.push_back(
                {"website documents", "",
                 fmt::format("index {}, error {}", b_.index_document,
                             b_.error_document.empty() ? "none" : b_.error_document)});
        result_.typed.push_back(t);
    }

    // A bucket that does not exist: made with its settings and every declared key.
    void typed_new_bucket() {
        TypedChange t{"bucket", b_.name, "create", {}};
        if (b_.max_size)
            t.fields.push_back({"max size", "", size_text(b_.max_size)});
        if (b_.max_objects)
            t.fields.push_back({"max objects", "", size_text(b_.max_objects)});
        if (b_.website)
            t.fields.push_back({"website", "", on_off(true)});
        result_.typed.push_back(t);
        for (const auto& [name, k] : b_.keys)
            typed_new_key(name);
    }

    void typed_new_key(const std::string& name) {
        result_.typed.push_back(
            {"key", key_name(name), "create", {{"permissions", "", perms_text(b_.keys.at(name))}}});
    }

    BucketRecord load_record() {
        auto st = hooks_.load_state();
        auto it = st.buckets.find(b_.name);
        BucketRecord rec;
        if (it != st.buckets.end())
            rec = it->second;
        rec.storage = b_.storage;
        rec.adhoc = false;
        return rec;
    }

    // The bucket on the backend: found (and recorded), or created; nothing in a dry run
    // when it is missing.
    std::optional<BucketView> ensure_bucket(BucketRecord& rec) {
        auto view = be_.find_bucket(b_.name);
        result_.observed = observed_of(view);
        if (!view) {
            if (opts_.dry_run) {
                change(fmt::format("would create the bucket and {} key(s)", b_.keys.size()));
                typed_new_bucket();
                return std::nullopt;
            }
            if (!rec.id.empty())
                hooks_.warn("bucket " + b_.name,
                            fmt::format("the bucket recorded in state (id {}) is gone from "
                                        "storage {}; creating it again",
                                        rec.id, b_.storage));
            view = be_.create_bucket(b_.name, rec);
            save(rec);
            change(fmt::format("created bucket (id {})", view->id));
        } else if (rec.id != view->id) {
            if (!opts_.dry_run) {
                rec.id = view->id;
                save(rec);
            }
            change(fmt::format("{}recorded the existing bucket (id {})",
                               opts_.dry_run ? "would have " : "", view->id));
        }
        return view;
    }

    // Every declared key that exists (or now does); `created` tells whether one was made.
    std::map<std::string, NewKey> ensure_keys(BucketRecord& rec, bool& created) {
        std::map<std::string, NewKey> keys;
        for (const auto& [name, k] : b_.keys)
            if (auto key = ensure_key(rec, name, created))
                keys[name] = *key;
        return keys;
    }

    void grant(const BucketView& view, const std::string& name, const NewKey& key) {
        const auto& k = b_.keys.at(name);
        if (!be_.set_permissions(view, key.id, {k.read, k.write, k.owner}, opts_.dry_run))
            return;
        change(fmt::format("{}gave key {} {}", opts_.dry_run ? "would have " : "", name,
                           perms_text(k)));
        Permissions had;
        for (const auto& access : view.keys)
            if (access.id == key.id)
                had = access.permissions;
        result_.typed.push_back(
            {"key", key_name(name), "update", {{"permissions", perms_text(had), perms_text(k)}}});
    }

    void deliver(const std::string& name, const NewKey& key) {
        for (const auto& d : b_.keys.at(name).deliver_to) {
            host::SecretFile f;
            f.name = model::key_file_name(b_.name, name);
            f.owner = d.owner;
            f.group = d.group;
            f.mode = d.mode;
            f.content = key_env_file(be_.config(), b_.name, key.id, key.secret);
            f.origin = fmt::format("buckets.{}.keys.{}", b_.name, name);
            deliveries_.push_back({d.machine, f});
        }
    }

    void report_undeclared_keys(const BucketRecord& rec) {
        for (const auto& [name, kr] : rec.keys)
            if (!b_.keys.count(name) && !kr.adhoc)
                undeclared_.push_back(fmt::format(
                    "key {} of bucket {} (id {}) is in state but no longer declared: kept (delete "
                    "it with `fedi bucket key delete {} {}`)",
                    name, b_.name, kr.id, b_.name, name));
    }

    // The key's id and secret: the one recorded in state when the backend still has it,
    // else one of that name found on the backend, else a new one (recorded at once).
    std::optional<NewKey> ensure_key(BucketRecord& rec, const std::string& name, bool& created) {
        auto it = rec.keys.find(name);
        if (it != rec.keys.end()) {
            auto secret = be_.key_secret(rec, it->second.id);
            if (secret) {
                if (!secret->empty() && *secret != it->second.secret && !opts_.dry_run) {
                    it->second.secret = *secret; // rotated outside fedi: deliver the new one
                    save(rec);
                }
                return NewKey{it->second.id, secret->empty() ? it->second.secret : *secret};
            }
            hooks_.warn("bucket " + b_.name,
                        fmt::format("key {} (id {}) recorded in state is gone from storage {}; "
                                    "creating another",
                                    name, it->second.id, b_.storage));
        }
        auto found = be_.keys_named(garage_key_name(b_.name, name));
        if (found.size() > 1)
            throw Error(fmt::format("storage {} has {} keys named {}; delete the extra ones "
                                    "(fedi bucket key delete) so that fedi knows which to use",
                                    b_.storage, found.size(), garage_key_name(b_.name, name)));
        if (found.size() == 1) {
            auto secret = be_.key_secret(rec, found.front());
            if (secret && !secret->empty()) {
                if (!opts_.dry_run) {
                    rec.keys[name] = {found.front(), *secret, false};
                    save(rec);
                }
                change(fmt::format("{}recorded the existing key {} (id {})",
                                   opts_.dry_run ? "would have " : "", name, found.front()));
                return NewKey{found.front(), *secret};
            }
        }
        if (opts_.dry_run) {
            change("would create key " + name);
            typed_new_key(name);
            return std::nullopt;
        }
        auto key = be_.create_key(b_.name, rec, garage_key_name(b_.name, name));
        rec.keys[name] = {key.id, key.secret, false};
        save(rec);
        created = true;
        change(fmt::format("created key {} (id {})", name, key.id));
        return key;
    }

    void save(const BucketRecord& rec) {
        hooks_.update_state([&](StorageState& s) { s.buckets[b_.name] = rec; });
    }

    void change(const std::string& c) {
        result_.changes.push_back(c);
        hooks_.info("bucket " + b_.name, c);
    }

    Backend& be_;
    const model::Bucket& b_;
    const ConvergeOptions& opts_;
    const ConvergeHooks& hooks_;
    ItemResult& result_;
    std::vector<KeyDelivery>& deliveries_;
    std::vector<std::string>& undeclared_;
};

std::string describe(const std::exception& e) {
    if (auto* fe = dynamic_cast<const Error*>(&e))
        return fe->describe();
    return e.what();
}

} // namespace

bool ConvergeReport::ok() const {
    for (const auto& v : {&storages, &buckets})
        for (const auto& r : *v)
            if (!r.ok)
                return false;
    return true;
}

std::string key_env_file(const model::Storage& s, const std::string& bucket,
                         const std::string& access_key, const std::string& secret) {
    return fmt::format("AWS_ACCESS_KEY_ID={}\nAWS_SECRET_ACCESS_KEY={}\nS3_ENDPOINT={}\n"
                       "S3_REGION={}\nS3_BUCKET={}\n",
                       access_key, secret, s.s3_endpoint, s.region, bucket);
}

namespace {

std::string capacity_text(const std::optional<std::uint64_t>& c) {
    return c ? std::to_string(*c) : std::string("gateway");
}

std::string tags_text(const std::vector<std::string>& tags) {
    return fmt::format("{}", fmt::join(tags, ","));
}

// The applied role that is the declared node's: by node id, else (id unknown) by its tag.
const NodeRole* applied_role(const LayoutView& v, const NodeRole& wanted) {
    for (const auto& r : v.current) {
        bool tagged = std::find(r.tags.begin(), r.tags.end(), wanted.machine) != r.tags.end();
        if (wanted.id.empty() ? tagged : r.id == wanted.id)
            return &r;
    }
    return nullptr;
}

TypedChange node_change(const NodeRole* from, const NodeRole& to, const std::string& name) {
    TypedChange c{"node", name, !from ? "create" : to.machine.empty() ? "destroy" : "update", {}};
    auto field = [&](const NodeRole* r, auto&& text) { return r ? text(*r) : std::string(); };
    const NodeRole* wanted = to.machine.empty() ? nullptr : &to;
    add_field(c, "zone", field(from, [](const NodeRole& r) { return r.zone; }),
              field(wanted, [](const NodeRole& r) { return r.zone; }));
    add_field(c, "capacity",
              field(from, [](const NodeRole& r) { return capacity_text(r.capacity); }),
              field(wanted, [](const NodeRole& r) { return capacity_text(r.capacity); }));
    add_field(c, "tags", field(from, [](const NodeRole& r) { return tags_text(r.tags); }),
              field(wanted, [](const NodeRole& r) { return tags_text(r.tags); }));
    return c;
}

} // namespace

std::vector<TypedChange> layout_changes(const LayoutView& v) {
    std::vector<TypedChange> out;
    std::set<std::string> matched;
    for (const auto& w : v.wanted) {
        const auto* from = applied_role(v, w);
        if (from)
            matched.insert(from->id);
        auto c = node_change(from, w, w.machine);
        if (auto it = v.unknown.find(w.machine); it != v.unknown.end())
            c.fields.push_back({"node id", "", "not known yet: " + it->second});
        if (!c.fields.empty())
            out.push_back(std::move(c));
    }
    for (const auto& r : v.current)
        if (!matched.count(r.id))
            out.push_back(
                node_change(&r, NodeRole{}, r.tags.empty() ? r.id.substr(0, 16) : r.tags.front()));
    return out;
}

namespace {

nlohmann::json observed_of(const LayoutView& v) {
    nlohmann::json roles = nlohmann::json::array();
    for (const auto& r : v.current)
        roles.push_back({{"id", r.id},
                         {"zone", r.zone},
                         {"capacity", capacity_text(r.capacity)},
                         {"tags", r.tags}});
    return {{"version", v.version}, {"roles", roles}};
}

// Converges the storages and their buckets one after the other into one report.
class DeploymentConverger {
  public:
    DeploymentConverger(const model::Deployment& d, const ConvergeOptions& opts,
                        const ConvergeHooks& hooks)
        : d_(d), opts_(opts), hooks_(hooks) {}

    ConvergeReport run() {
        for (const auto& [sname, s] : d_.storage) {
            if (!wanted(sname))
                continue;
            std::unique_ptr<Backend> be;
            auto sr = converge_storage(sname, s, be);
            report_.storages.push_back(sr);
            for (const auto& [bname, b] : d_.buckets)
                if (b.storage == sname && (opts_.buckets.empty() || opts_.buckets.count(bname)))
                    report_.buckets.push_back(converge_bucket(sr, be.get(), b));
        }
        report_undeclared_buckets();
        return std::move(report_);
    }

  private:
    bool wanted(const std::string& storage) const {
        return opts_.storages.empty() || opts_.storages.count(storage);
    }

    // The machines that wait for keys of `b` are blocked: they would start without them.
    void block(const model::Bucket& b, const std::string& why) {
        for (const auto& [kname, k] : b.keys)
            for (const auto& del : k.deliver_to)
                report_.blocked.emplace(del.machine, why);
    }

    ItemResult converge_storage(const std::string& sname, const model::Storage& s,
                                std::unique_ptr<Backend>& be) {
        ItemResult sr;
        sr.name = sname;
        sr.storage = sname;
        try {
            be = open_backend(s);
            if (opts_.cluster)
                sr.changes = with_context(fmt::format("converging storage {}", sname), [&] {
                    return be->converge_cluster(hooks_.node_id_of, opts_.dry_run);
                });
            for (const auto& c : sr.changes)
                hooks_.info("storage " + sname, c);
            if (opts_.cluster && opts_.read_layout)
                if (auto layout = be->read_layout(hooks_.node_id_of)) {
                    sr.typed = layout_changes(*layout);
                    sr.observed = observed_of(*layout);
                }
        } catch (const std::exception& e) {
            sr.ok = false;
            sr.error = describe(e);
            hooks_.warn("storage " + sname, "failed: " + sr.error);
        }
        return sr;
    }

    // `be` is the open backend of the storage whose result is `sr` (null when it failed).
    ItemResult converge_bucket(const ItemResult& sr, Backend* be, const model::Bucket& b) {
        ItemResult br;
        br.name = b.name;
        br.storage = sr.name;
        if (!sr.ok) {
            br.ok = false;
            br.error = fmt::format("storage {} failed", sr.name);
            block(b, fmt::format("storage {} failed: {}", sr.name, first_line(sr.error)));
            return br;
        }
        std::vector<KeyDelivery> deliveries;
        try {
            with_context(fmt::format("converging bucket {} on storage {}", b.name, sr.name), [&] {
                BucketConverger(*be, b, opts_, hooks_, br, deliveries, report_.undeclared).run();
            });
            report_.deliveries.insert(report_.deliveries.end(), deliveries.begin(),
                                      deliveries.end());
        } catch (const std::exception& e) {
            br.ok = false;
            br.error = describe(e);
            hooks_.warn("bucket " + b.name, "failed: " + br.error);
            block(b, fmt::format("bucket {} failed: {}", b.name, first_line(br.error)));
        }
        return br;
    }

    void report_undeclared_buckets() {
        for (const auto& [bname, rec] : hooks_.load_state().buckets)
            if (!d_.buckets.count(bname) && !rec.adhoc && wanted(rec.storage) &&
                opts_.buckets.empty())
                report_.undeclared.push_back(
                    fmt::format("bucket {} (storage {}, id {}) is in state but no longer declared: "
                                "kept (delete it with `fedi bucket delete {}`)",
                                bname, rec.storage, rec.id, bname));
        for (const auto& u : report_.undeclared)
            hooks_.warn("storage", u);
    }

    static std::string first_line(const std::string& text) {
        return text.substr(0, text.find('\n'));
    }

    const model::Deployment& d_;
    const ConvergeOptions& opts_;
    const ConvergeHooks& hooks_;
    ConvergeReport report_;
};

} // namespace

ConvergeReport converge(const model::Deployment& d, const ConvergeOptions& opts,
                        const ConvergeHooks& hooks) {
    return DeploymentConverger(d, opts, hooks).run();
}

nlohmann::json to_json(const ConvergeReport& r) {
    auto items = [](const std::vector<ItemResult>& v) {
        nlohmann::json a = nlohmann::json::array();
        for (const auto& i : v) {
            nlohmann::json j = {
                {"name", i.name}, {"storage", i.storage}, {"ok", i.ok}, {"changes", i.changes}};
            if (!i.error.empty())
                j["error"] = i.error;
            a.push_back(j);
        }
        return a;
    };
    nlohmann::json deliveries = nlohmann::json::array();
    for (const auto& d : r.deliveries)
        deliveries.push_back({{"machine", d.machine},
                              {"file", d.file.name},
                              {"owner", d.file.owner},
                              {"mode", fmt::format("{:04o}", d.file.mode)}});
    return {{"ok", r.ok()},
            {"storages", items(r.storages)},
            {"buckets", items(r.buckets)},
            {"deliveries", deliveries},
            {"undeclared", r.undeclared}};
}

} // namespace fedi::storage
