#include "storage/converge.hpp"

#include "core/error.hpp"
#include "storage/backend.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace fedi::storage {

namespace {

std::string perms_text(const model::BucketKey& k) {
    std::vector<std::string> p;
    if (k.read)
        p.push_back("read");
    if (k.write)
        p.push_back("write");
    if (k.owner)
        p.push_back("owner");
    return fmt::format("{}", fmt::join(p, "+"));
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
        for (auto& c : be_.apply_settings(*view, b_, opts_.dry_run))
            change((opts_.dry_run ? "would set " : "set ") + c);
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
        if (!view) {
            if (opts_.dry_run) {
                change(fmt::format("would create the bucket and {} key(s)", b_.keys.size()));
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
        if (be_.set_permissions(view, key.id, {k.read, k.write, k.owner}, opts_.dry_run))
            change(fmt::format("{}gave key {} {}", opts_.dry_run ? "would have " : "", name,
                               perms_text(k)));
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
