#include "cache/commands.hpp"

#include "cache/cache.hpp"
#include "cache/gc.hpp"
#include "cache/target.hpp"
#include "core/error.hpp"
#include "nix/store.hpp"
#include "ui/output.hpp"

#include <fmt/format.h>

namespace fedi::cache {

namespace {

using nlohmann::json;

json info(session::Session& s) {
    auto t = cache_target(s);
    storage::S3Client client(t.s3);
    std::size_t narinfos = 0, nars = 0;
    std::uint64_t bytes = 0;
    for (const auto& o : client.list_objects(t.bucket)) {
        narinfos += is_narinfo_key(o.key);
        nars += is_nar_key(o.key);
        bytes += o.size;
    }
    const auto& c = *s.deployment().cache;
    json doc = {{"url", t.substituter_url},
                {"publicKey", t.public_key},
                {"storage", c.storage},
                {"bucket", t.bucket},
                {"compression", c.compression},
                {"narinfos", narinfos},
                {"nars", nars},
                {"bytes", bytes}};
    if (t.reader_key) // its id only: the secret stays in state and on the machines
        doc["readKey"] = t.reader_key->id;
    return doc;
}

// Deletes narinfos first: a narinfo never names a NAR already gone.
void remove(storage::S3Client& client, const std::string& bucket, const GcPlan& plan) {
    for (const auto* keys : {&plan.remove_narinfos, &plan.remove_nars})
        for (const auto& key : *keys)
            client.delete_object(bucket, key);
}

json gc(session::Session& s, const CacheOptions& opts) {
    if (opts.keep_generations < 1)
        throw usage_error("--keep-generations must be at least 1");
    auto t = cache_target(s);
    storage::S3Client client(t.s3);
    auto roots = kept_systems(s.state().snapshot(), opts.keep_generations);
    auto plan = plan_gc(client.list_objects(t.bucket), roots,
                        [&](const std::string& key) { return client.get_object(t.bucket, key); });
    for (const auto& root : plan.missing_roots)
        s.events().warn("cache",
                        fmt::format("{} (kept by --keep-generations) is not in the cache", root));
    if (!opts.dry_run)
        remove(client, t.bucket, plan);
    return {
        {"dryRun", opts.dry_run},
        {"keepGenerations", opts.keep_generations},
        {"roots", roots},
        {"missingRoots", plan.missing_roots},
        {"removed",
         {{"narinfos", plan.remove_narinfos},
          {"nars", plan.remove_nars},
          {"bytes", plan.removed_bytes}}},
        {"kept",
         {{"narinfos", plan.kept_narinfos}, {"nars", plan.kept_nars}, {"bytes", plan.kept_bytes}}}};
}

json push(session::Session& s, const CacheOptions& opts) {
    if (opts.paths.empty())
        throw usage_error("fedi cache push: give at least one store path");
    auto cache = open_cache(s);
    if (!cache)
        throw usage_error(
            fmt::format("{} declares no binary cache (`cache`)", s.deployment().file));
    nix::LocalClosure closure(opts.paths);
    auto p = cache->upload(closure, closure.paths(), [&s](const UploadProgress& p) {
        s.events().status("cache", fmt::format("{}/{} paths ({} uploaded)",
                                               p.paths_present + p.paths_uploaded, p.paths_total,
                                               p.paths_uploaded));
    });
    s.events().remove_status("cache");
    return {{"url", cache->substituter_url()}, {"paths", p.paths_total},
            {"present", p.paths_present},      {"uploaded", p.paths_uploaded},
            {"bytes", p.bytes_uploaded},       {"narBytes", p.nar_bytes}};
}

std::string render_gc(const json& r) {
    const auto& removed = r["removed"];
    const auto& kept = r["kept"];
    return fmt::format(
        "{} {} narinfo(s) and {} NAR(s) ({}); kept {} narinfo(s) and {} NAR(s) ({}) for the "
        "last {} generation(s) of every machine\n",
        r["dryRun"].get<bool>() ? "would remove" : "removed", removed["narinfos"].size(),
        removed["nars"].size(), ui::human_bytes(removed["bytes"].get<std::uint64_t>()),
        kept["narinfos"].get<std::size_t>(), kept["nars"].get<std::size_t>(),
        ui::human_bytes(kept["bytes"].get<std::uint64_t>()), r["keepGenerations"].get<int>());
}

} // namespace

json run_cache_command(session::Session& s, const CacheOptions& opts) {
    switch (opts.action) {
    case CacheAction::Info:
        return info(s);
    case CacheAction::Gc:
        return gc(s, opts);
    case CacheAction::Push:
        return push(s, opts);
    }
    return json();
}

json run_cache_command(const CacheOptions& opts, ui::Events& events) {
    auto options = opts.session;
    options.state_mode = opts.action == CacheAction::Info ? session::StateMode::ReadOnly
                                                          : session::StateMode::Locked;
    auto s = session::open_session(options, events);
    return run_cache_command(*s, opts);
}

std::string render_cache_result(CacheAction action, const json& r) {
    switch (action) {
    case CacheAction::Info:
        return fmt::format("url          {}\npublic key   {}\n{}bucket       {} (storage {})\n"
                           "compression  {}\nnarinfos     {}\nNARs         {}\nsize         {}\n",
                           r["url"].get<std::string>(), r["publicKey"].get<std::string>(),
                           r.contains("readKey")
                               ? fmt::format("read key     {}\n", r["readKey"].get<std::string>())
                               : "",
                           r["bucket"].get<std::string>(), r["storage"].get<std::string>(),
                           r["compression"].get<std::string>(), r["narinfos"].get<std::size_t>(),
                           r["nars"].get<std::size_t>(),
                           ui::human_bytes(r["bytes"].get<std::uint64_t>()));
    case CacheAction::Gc:
        return render_gc(r);
    case CacheAction::Push:
        return fmt::format("{} path(s): {} already in the cache, {} uploaded ({})\n",
                           r["paths"].get<std::size_t>(), r["present"].get<std::size_t>(),
                           r["uploaded"].get<std::size_t>(),
                           ui::human_bytes(r["bytes"].get<std::uint64_t>()));
    }
    return "";
}

} // namespace fedi::cache
