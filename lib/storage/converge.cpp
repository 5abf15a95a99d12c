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
        auto st = hooks_.load_state();
        auto it = st.buckets.find(b_.name);
        BucketRecord rec;
        if (it != st.buckets.end())
            rec = it->second;
        rec.storage = b_.storage;
        rec.adhoc = false;

        auto view = be_.find_bucket(b_.name);
        if (!view) {
            if (opts_.dry_run) {
                change(fmt::format("would create the bucket and {} key(s)", b_.keys.size()));
                return;
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
        for (auto& c : be_.apply_settings(*view, b_, opts_.dry_run))
            change((opts_.dry_run ? "would set " : "set ") + c);

        std::map<std::string, NewKey> keys;
        bool created = false;
        for (const auto& [name, k] : b_.keys) {
            auto key = ensure_key(rec, name, created);
            if (key)
                keys[name] = *key;
        }
        if (created)
            view = be_.find_bucket(b_.name);
        for (const auto& [name, key] : keys) {
            const auto& k = b_.keys.at(name);
            if (be_.set_permissions(*view, key.id, {k.read, k.write, k.owner}, opts_.dry_run))
                change(fmt::format("{}gave key {} {}", opts_.dry_run ? "would have " : "", name,
                                   perms_text(k)));
            for (const auto& d : k.deliver_to) {
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
        for (const auto& [name, kr] : rec.keys)
            if (!b_.keys.count(name) && !kr.adhoc)
                undeclared_.push_back(fmt::format(
                    "key {} of bucket {} (id {}) is in state but no longer declared: kept (delete "
                    "it with `fedi bucket key delete {} {}`)",
                    name, b_.name, kr.id, b_.name, name));
    }

  private:
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

ConvergeReport converge(const model::Deployment& d, const ConvergeOptions& opts,
                        const ConvergeHooks& hooks) {
    ConvergeReport report;
    auto wanted = [&](const std::string& storage) {
        return opts.storages.empty() || opts.storages.count(storage);
    };
    auto block = [&](const model::Bucket& b, const std::string& why) {
        for (const auto& [kname, k] : b.keys)
            for (const auto& del : k.deliver_to)
                report.blocked.emplace(del.machine, why);
    };
    for (const auto& [sname, s] : d.storage) {
        if (!wanted(sname))
            continue;
        ItemResult sr;
        sr.name = sname;
        sr.storage = sname;
        std::unique_ptr<Backend> be;
        try {
            be = open_backend(s);
            if (opts.cluster)
                sr.changes = with_context(fmt::format("converging storage {}", sname), [&] {
                    return be->converge_cluster(hooks.node_id_of, opts.dry_run);
                });
            for (const auto& c : sr.changes)
                hooks.info("storage " + sname, c);
        } catch (const std::exception& e) {
            sr.ok = false;
            sr.error = describe(e);
            hooks.warn("storage " + sname, "failed: " + sr.error);
        }
        report.storages.push_back(sr);
        for (const auto& [bname, b] : d.buckets) {
            if (b.storage != sname || (!opts.buckets.empty() && !opts.buckets.count(bname)))
                continue;
            ItemResult br;
            br.name = bname;
            br.storage = sname;
            if (!sr.ok) {
                br.ok = false;
                br.error = fmt::format("storage {} failed", sname);
                block(b, fmt::format("storage {} failed: {}", sname,
                                     sr.error.substr(0, sr.error.find('\n'))));
                report.buckets.push_back(br);
                continue;
            }
            std::vector<KeyDelivery> deliveries;
            try {
                // A named copy: clang 14 cannot capture a structured binding in a lambda.
                const auto& bucket = b;
                with_context(fmt::format("converging bucket {} on storage {}", bname, sname), [&] {
                    BucketConverger(*be, bucket, opts, hooks, br, deliveries, report.undeclared)
                        .run();
                });
                report.deliveries.insert(report.deliveries.end(), deliveries.begin(),
                                         deliveries.end());
            } catch (const std::exception& e) {
                br.ok = false;
                br.error = describe(e);
                hooks.warn("bucket " + bname, "failed: " + br.error);
                block(b, fmt::format("bucket {} failed: {}", bname,
                                     br.error.substr(0, br.error.find('\n'))));
            }
            report.buckets.push_back(br);
        }
    }
    for (const auto& [bname, rec] : hooks.load_state().buckets)
        if (!d.buckets.count(bname) && !rec.adhoc && wanted(rec.storage) && opts.buckets.empty())
            report.undeclared.push_back(fmt::format(
                "bucket {} (storage {}, id {}) is in state but no longer declared: kept (delete it "
                "with `fedi bucket delete {}`)",
                bname, rec.storage, rec.id, bname));
    for (const auto& u : report.undeclared)
        hooks.warn("storage", u);
    return report;
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
