// The transfer (substitute, fetch from the cache, push) and secrets steps of a machine's
// deploy.
#include "deploy/machine_steps.hpp"

#include "core/error.hpp"
#include "host/substitute.hpp"
#include "ui/output.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <set>

namespace fedi::deploy {

namespace {

void report_secret_sync(ui::Events& events, const std::string& machine,
                        const host::SecretSyncResult& r) {
    if (!r.written.empty())
        events.info(machine, fmt::format("secrets written: {}", fmt::join(r.written, ", ")));
    if (!r.removed.empty())
        events.info(machine, fmt::format("secrets removed (no longer declared): {}",
                                         fmt::join(r.removed, ", ")));
    if (!r.pending_owner.empty())
        events.detail(machine, fmt::format("secrets owned by root until activation creates "
                                           "their owner: {}",
                                           fmt::join(r.pending_owner, ", ")));
}

// The machine's Nix refused what the cache served: not pushed over, the machine fails.
struct CacheRefused : Error {
    using Error::Error;
};

// What a realise on the machine got: the paths it lacked that it has now.
struct Fetched {
    host::RealiseLog log;
    std::vector<std::string> paths;   // fetched now
    std::vector<std::string> missing; // still lacking
    std::uint64_t nar_bytes = 0;      // of the fetched paths
};

Fetched fetch(const MachineRun& run, host::Host& host, const std::string& system,
              const std::vector<std::string>& lacking, const std::optional<host::Substituter>& from,
              const MachineStatus& show, const std::string& doing) {
    Fetched f;
    std::size_t started = 0;
    f.log = host::realise_paths(host, lacking, from, [&](const std::string&) {
        show(fmt::format("{}: {} of {} paths", doing, ++started, lacking.size()), false);
    });
    f.missing = run.closures.missing(host, system);
    std::set<std::string> still(f.missing.begin(), f.missing.end());
    for (const auto& p : lacking)
        if (!still.count(p))
            f.paths.push_back(p);
    f.nar_bytes = run.closures.nar_bytes(system, f.paths);
    return f;
}

std::string some_paths(const std::vector<std::string>& paths) {
    if (paths.size() <= 3)
        return fmt::format("{}", fmt::join(paths, ", "));
    return fmt::format("{}, … ({} paths)", fmt::join(paths.begin(), paths.begin() + 3, ", "),
                       paths.size());
}

// Why the cache's paths that the machine did not take were refused. What the machine's
// Nix refused for its signature or its content is not pushed in its place: the cache
// holds something fedi did not sign, and the operator must know.
void check_refusals(const Fetched& f, const host::Substituter& cache) {
    const auto& log = f.log;
    if (!log.unsigned_paths.empty())
        throw CacheRefused(fmt::format(
            "the machine's Nix refused {} from the binary cache {}: not signed by the "
            "deployment's key {} (the cache holds what fedi did not sign: tampered with, or "
            "signed with another key); nothing was pushed in its place",
            some_paths({log.unsigned_paths.begin(), log.unsigned_paths.end()}), cache.url,
            cache.public_key.substr(0, cache.public_key.find(':'))));
    if (!log.corrupt.empty()) {
        std::vector<std::string> refused;
        for (const auto& p : f.missing)
            if (log.copying.count(p))
                refused.push_back(p);
        throw CacheRefused(fmt::format(
            "the machine's Nix refused what the binary cache {} served{}: "
            "{} (its contents do not match what fedi signed: tampered "
            "with?); nothing was pushed in its place",
            cache.url, refused.empty() ? "" : " for " + some_paths(refused), log.corrupt.front()));
    }
}

// Why the machine still lacks paths after a fetch, for the warning before the push.
std::string why_missing(const host::RealiseLog& log) {
    if (log.unsupported)
        return "the machine's Nix has no S3 support, so it cannot read an s3:// cache: NixOS's "
               "Nix has it, Debian's does not; Nix said \"" +
               *log.unsupported + "\"";
    if (log.unreachable)
        return "cannot reach it: " + *log.unreachable;
    if (!log.errors.empty())
        return log.errors.front();
    return "it does not have them";
}

// --substitute-on-target: the machine fetches what its own substituters have.
void substitute_step(const MachineRun& run, host::Host& host, MachineReport& report,
                     const MachineStatus& show) {
    show("asking its substituters");
    auto lacking = run.closures.missing(host, report.system);
    if (lacking.empty())
        return;
    auto f = fetch(run, host, report.system, lacking, std::nullopt, show,
                   "fetching from its substituters");
    report.substituter_paths = f.paths.size();
    report.substituter_bytes = f.nar_bytes;
    run.session.events().info(
        report.name, fmt::format("{} of {} missing paths from its own substituters ({}){}",
                                 f.paths.size(), lacking.size(), ui::human_bytes(f.nar_bytes),
                                 f.missing.empty() ? "" : "; the rest: " + why_missing(f.log)));
}

// The deployment's cache holds what the machine lacks (uploaded once for all machines),
// and the machine fetches it from there. What it could not get is pushed.
void cache_fetch_step(const MachineRun& run, host::Host& host, MachineReport& report,
                      const MachineStatus& show) {
    auto& events = run.session.events();
    auto lacking = run.closures.missing(host, report.system);
    if (lacking.empty())
        return;
    show("uploading to the binary cache");
    try {
        run.cache->upload(run.closures, report.system, lacking,
                          [&](const cache::UploadProgress& p) {
                              show(fmt::format("uploading to the binary cache: {} of {} paths, {}",
                                               p.paths_present + p.paths_uploaded, p.paths_total,
                                               ui::human_bytes(p.bytes_uploaded)),
                                   false);
                          });
    } catch (const Error& e) {
        events.warn(report.name,
                    "could not upload to the binary cache, pushing instead: " + e.describe());
        return;
    }
    const auto& cache = run.cache->substituter();
    auto f = fetch(run, host, report.system, lacking, cache, show, "fetching from the cache");
    report.cache_paths = f.paths.size();
    report.cache_bytes = f.nar_bytes;
    check_refusals(f, cache);
    events.info(report.name,
                fmt::format("fetched {} of {} missing paths from the binary cache "
                            "({})",
                            f.paths.size(), lacking.size(), ui::human_bytes(f.nar_bytes)));
    if (!f.missing.empty())
        events.warn(report.name,
                    fmt::format("the binary cache {} did not provide {} paths ({}); pushing them",
                                cache.url, f.missing.size(), why_missing(f.log)));
}

// What the machine can fetch itself before the push. A fetch that could not be made (its
// commands failed) leaves the paths to the push; a refusal fails the machine.
void fetch_steps(const MachineRun& run, host::Host& host, MachineReport& report,
                 const MachineStatus& show) {
    auto& events = run.session.events();
    if (run.opts.substitute_on_target ||
        run.session.deployment().machines.at(report.name).substitute_on_target) {
        try {
            substitute_step(run, host, report, show);
        } catch (const Error& e) {
            events.warn(report.name, "could not fetch from its substituters: " + e.describe());
        }
    }
    if (!run.cache)
        return;
    try {
        cache_fetch_step(run, host, report, show);
    } catch (const CacheRefused&) {
        throw;
    } catch (const Error& e) {
        events.warn(report.name,
                    "could not fetch from the binary cache, pushing instead: " + e.describe());
    }
}

} // namespace

void push_step(const MachineRun& run, host::Host& host, MachineReport& report,
               const MachineStatus& show) {
    report.phase = Phase::Push;
    fetch_steps(run, host, report, show);
    show("waiting for a push slot");
    host::PushProgress pushed;
    {
        session::Slots::Held slot(run.session.push_slots());
        show("pushing");
        pushed = run.closures.push(host, report.system, [&](const host::PushProgress& p) {
            show(fmt::format("pushing: {} paths, {}", p.paths_sent, ui::human_bytes(p.bytes_sent)),
                 false);
        });
    }
    report.paths_sent = pushed.paths_sent;
    report.bytes_sent = pushed.bytes_sent;
    report.nar_bytes = pushed.nar_bytes;
    run.session.events().info(
        report.name,
        pushed.paths_sent == 0
            ? fmt::format("closure complete on the machine ({} paths)", pushed.paths_total)
            : fmt::format("sent {} of {} paths ({})", pushed.paths_sent, pushed.paths_total,
                          ui::human_bytes(pushed.bytes_sent)));
}

std::vector<std::string> secrets_step(const MachineRun& run, host::Host& host,
                                      MachineReport& report, const MachineStatus& show) {
    if (!goal_delivers_secrets(run.opts.goal))
        return {};
    report.phase = Phase::Secrets;
    show("writing secrets");
    auto synced = host.sync_secrets(run.secrets.of(report.name));
    report_secret_sync(run.session.events(), report.name, synced);
    return synced.pending_owner;
}

void settle_secret_owners(const MachineRun& run, host::Host& host, MachineReport& report,
                          const std::vector<std::string>& pending_owner) {
    if (pending_owner.empty())
        return;
    report.phase = Phase::Secrets;
    auto synced = host.sync_secrets(run.secrets.of(report.name));
    report_secret_sync(run.session.events(), report.name, synced);
    if (!synced.pending_owner.empty())
        throw Error(fmt::format("the owner of secret(s) {} does not exist on the machine "
                                "even after activation; they are owned by root",
                                fmt::join(synced.pending_owner, ", ")));
}

void finish_unchanged(const MachineRun& run, host::Host& host, MachineReport& report,
                      const host::SystemStatus& status) {
    auto& events = run.session.events();
    auto synced = host.sync_secrets(run.secrets.of(report.name));
    report_secret_sync(events, report.name, synced);
    // Nothing will activate to create the owner: it is missing from this system.
    if (!synced.pending_owner.empty())
        throw Error(fmt::format("the owner of secret(s) {} does not exist on the machine, "
                                "whose running system is this deployment's; they are owned "
                                "by root",
                                fmt::join(synced.pending_owner, ", ")));
    report.outcome = Outcome::Unchanged;
    report.generation = status.generation;
    events.info(report.name, "already running this system; nothing to push or activate");
    if (goal_sets_profile(run.opts.goal))
        record_unchanged(run, host, report, status);
}

} // namespace fedi::deploy
