#include "deploy/deploy.hpp"

#include "account/deploy_phase.hpp"
#include "core/error.hpp"
#include "deploy/health.hpp"
#include "deploy/pending.hpp"
#include "deploy/provision.hpp"
#include "deploy/selection.hpp"
#include "deploy/storage_phase.hpp"
#include "host/host.hpp"
#include "host/prune.hpp"
#include "nix/build.hpp"
#include "nix/store.hpp"
#include "state/state.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <map>
#include <mutex>
#include <semaphore>
#include <set>
#include <thread>

namespace fedi::deploy {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kTailLines = 20;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// Machines in flight at once: they mostly wait on the network and the remote side.
constexpr int kDefaultParallel = 16;
// Closures streamed at once: each costs deployer CPU (NAR, encryption) and shares one
// uplink, so more at once only slows each down.
constexpr int kDefaultMaxPushes = 4;

// RAII for a counting semaphore slot.
class Slot {
  public:
    explicit Slot(std::counting_semaphore<>& s) : s_(s) { s_.acquire(); }
    ~Slot() { s_.release(); }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;

  private:
    std::counting_semaphore<>& s_;
};

// Shared by the machine threads: their results, so dependents can wait, and the state,
// saved after every change so a crash loses nothing already done.
class Run {
  public:
    Run(const session::Project& project, const DeployOptions& opts, ui::Events& reporter,
        state::State state)
        : project_(project), opts_(opts), reporter_(reporter),
          machine_slots(opts.parallel > 0 ? opts.parallel : kDefaultParallel),
          push_slots(opts.max_pushes > 0 ? opts.max_pushes : kDefaultMaxPushes),
          state_(std::move(state)) {}

    void finish(const std::string& name, MachineReport report) {
        std::lock_guard<std::mutex> lock(mutex_);
        done_[name] = std::move(report);
        cv_.notify_all();
    }

    // Blocks until every machine in `deps` is done; returns the first that failed.
    std::optional<std::string> wait_for(const std::vector<std::string>& deps) {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [&] {
            return std::all_of(deps.begin(), deps.end(),
                               [&](const std::string& d) { return done_.count(d) > 0; });
        });
        for (const auto& d : deps)
            if (!done_[d].ok())
                return d;
        return std::nullopt;
    }

    void update_state(const std::function<void(state::State&)>& change) {
        std::lock_guard<std::mutex> lock(mutex_);
        change(state_);
        state::save(project_.state_file, state_);
    }

    std::vector<std::string> trusted_keys(const std::string& machine) {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = state_.machines.find(machine);
        return it == state_.machines.end() ? std::vector<std::string>{} : it->second.host_keys;
    }

    // Secret files each machine must hold; resource phases add theirs before the
    // machines that receive them start.
    void add_secrets(const std::string& machine, std::vector<host::SecretFile> files) {
        std::lock_guard<std::mutex> lock(mutex_);
        auto& mine = secrets_[machine];
        for (auto& f : files)
            mine.push_back(std::move(f));
    }

    std::vector<host::SecretFile> secrets_for(const std::string& machine) {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = secrets_.find(machine);
        return it == secrets_.end() ? std::vector<host::SecretFile>{} : it->second;
    }

    state::State state_snapshot() {
        std::lock_guard<std::mutex> lock(mutex_);
        return state_;
    }

    // Why a machine that finished in this run did not deploy; nullopt otherwise.
    std::optional<std::string> failure_of(const std::string& name) {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = done_.find(name);
        if (it == done_.end() || it->second.ok())
            return std::nullopt;
        return it->second.error.empty() ? to_string(it->second.outcome) : it->second.error;
    }

    bool is_done(const std::string& name) {
        std::lock_guard<std::mutex> lock(mutex_);
        return done_.count(name) > 0;
    }

    MachineReport result(const std::string& name) {
        std::lock_guard<std::mutex> lock(mutex_);
        return done_[name];
    }

    const session::Project& project_;
    const DeployOptions& opts_;
    ui::Events& reporter_;
    std::counting_semaphore<> machine_slots;
    std::counting_semaphore<> push_slots;
    // One per system, shared by the machines that run it: queried once, started while
    // the machines connect.
    std::map<std::string, std::unique_ptr<nix::LocalClosure>> closures;

  private:
    std::mutex mutex_;
    std::condition_variable cv_;
    std::map<std::string, MachineReport> done_;
    std::map<std::string, std::vector<host::SecretFile>> secrets_;
    state::State state_;
};

// The tail of a command's output, kept while it streams.
class Tail {
  public:
    void add(const std::string& line) {
        lines_.push_back(line);
        if (lines_.size() > kTailLines)
            lines_.pop_front();
    }
    std::vector<std::string> lines() const { return {lines_.begin(), lines_.end()}; }

  private:
    std::deque<std::string> lines_;
};

// How long the machine waits for fedi's confirmation before it reverts by itself: the
// operator's setting, stretched to cover the machine's health checks.
int confirmation_seconds(const DeployOptions& opts, const model::Machine& m, Goal goal) {
    if (goal != Goal::Switch && goal != Goal::Test)
        return 0;
    int seconds = opts.confirm_seconds;
    if (!m.health_checks.empty()) {
        int checks = 15;
        for (const auto& h : m.health_checks)
            checks += h.attempts * (h.interval_seconds + h.timeout_seconds);
        seconds = std::max(seconds, checks);
    }
    return seconds;
}

// What a rollback did, from the lines the machine's activation script printed while it
// reverted: the profile and the running system are reverted separately, and either may
// have had nothing to go back to.
std::string describe_revert(const std::vector<std::string>& lines) {
    std::vector<std::string> done, not_done;
    for (const auto& l : lines) {
        static const std::string profile_back = "fedi: setting the profile back to generation ";
        static const std::string activating = "fedi: activating the previous system ";
        if (l.rfind(profile_back, 0) == 0)
            done.push_back("the system profile was set back to generation " +
                           l.substr(profile_back.size()));
        else if (l.rfind("fedi: there was no earlier generation", 0) == 0)
            not_done.push_back("the system profile still points at the failed system (it had no "
                               "earlier generation)");
        else if (l.rfind(activating, 0) == 0)
            done.push_back("the previously running system " + l.substr(activating.size()) +
                           " was activated again");
        else if (l.rfind("fedi: no previous running system", 0) == 0)
            not_done.push_back("what the failed system's activation changed was not undone (no "
                               "system ran before it: the machine had no /run/current-system)");
    }
    if (done.empty() && not_done.empty())
        return "the machine went back to its previous system";
    std::string out;
    for (const auto& d : done)
        out += (out.empty() ? "" : "; ") + d;
    for (const auto& n : not_done)
        out += (out.empty() ? "" : "; but ") + n;
    return out;
}

std::string describe_failed_activation(Goal goal, const host::ActivationOutcome& outcome,
                                       const std::optional<std::string>& health_failure,
                                       const std::vector<std::string>& revert_lines) {
    const auto& r = outcome.result;
    std::string what;
    if (health_failure)
        what = *health_failure;
    else if (r.rfind("failed", 0) == 0)
        what = fmt::format("switch-to-configuration {} failed (exit status {})", to_string(goal),
                           r.substr(7, r.find_first_of(", ", 7) - 7));
    else if (r.rfind("unconfirmed", 0) == 0)
        what = "the new system could not be confirmed over a new SSH connection in time";
    else
        what = "activation " + r;
    if (r.find("rollback failed") != std::string::npos)
        return what + "; rolling back failed too: the machine needs attention";
    if (outcome.rolled_back())
        return what + "; rolled back: " + describe_revert(revert_lines);
    return what + "; the failed system was left in place (--no-rollback)";
}

// Why the built system of `m` cannot be activated, or nullopt: every goal past push runs
// its bin/switch-to-configuration, so a system without one (not a NixOS toplevel) would
// be pushed and set as the profile before failing.
std::optional<std::string> not_activatable(const model::Machine& m) {
    auto script = std::filesystem::path(m.system.out_path) / "bin" / "switch-to-configuration";
    std::error_code ec;
    auto st = std::filesystem::status(script, ec);
    if (!ec && std::filesystem::is_regular_file(st) &&
        (st.permissions() & std::filesystem::perms::owner_exec) != std::filesystem::perms::none)
        return std::nullopt;
    return fmt::format("machines.{}.system: {} has no executable bin/switch-to-configuration, so "
                       "it cannot be activated (is it a NixOS system, i.e. "
                       "config.system.build.toplevel?); nothing was sent to the machine",
                       m.name, m.system.out_path);
}

bool up_to_date(Goal goal, const host::SystemStatus& s, const std::string& system) {
    switch (goal) {
    case Goal::Switch:
        return s.profile == system && s.current == system;
    case Goal::Boot:
        return s.profile == system;
    case Goal::Test:
        return s.current == system;
    default:
        return false;
    }
}

void report_secret_sync(ui::Events& ui, const std::string& machine,
                        const host::SecretSyncResult& r) {
    if (!r.written.empty())
        ui.info(machine, fmt::format("secrets written: {}", fmt::join(r.written, ", ")));
    if (!r.removed.empty())
        ui.info(machine, fmt::format("secrets removed (no longer declared): {}",
                                     fmt::join(r.removed, ", ")));
    if (!r.pending_owner.empty())
        ui.detail(machine, fmt::format("secrets owned by root until activation creates their "
                                       "owner: {}",
                                       fmt::join(r.pending_owner, ", ")));
}

// Keeps the machine's history bounded (--keep-generations) and says what went. A
// failure here leaves only more history than wanted: a warning, not a failed machine.
void prune_history(Run& run, host::Host& host, const std::string& machine) {
    int keep = run.opts_.keep_generations;
    if (keep <= 0)
        return;
    try {
        auto removed = host::prune_machine(host, keep);
        if (!removed.generations.empty())
            run.reporter_.info(machine, fmt::format("removed system generation(s) {} (keeping "
                                                    "the last {})",
                                                    fmt::join(removed.generations, ", "), keep));
        if (removed.activation_logs > 0)
            run.reporter_.info(machine, fmt::format("removed {} old activation log(s) (keeping "
                                                    "the last {})",
                                                    removed.activation_logs, keep));
    } catch (const Error& e) {
        run.reporter_.warn(machine, "could not remove old generations: " + e.describe());
    }
}

// Records the machine's new generation in state. The machine runs it whatever happens
// here: a state that cannot be written is an error of the run, not of the machine, and
// the next run records what it finds (late = true).
void record_generation(Run& run, const std::string& machine, MachineReport& report, Goal goal,
                       bool late) {
    try {
        run.update_state([&](state::State& s) {
            s.machines[machine].generations.push_back(
                {report.system, state::now_utc(), to_string(goal), report.generation});
        });
        if (late)
            run.reporter_.info(
                machine, fmt::format("recorded generation {} in state: an earlier "
                                     "run deployed it without recording it",
                                     report.generation ? std::to_string(*report.generation) : "?"));
    } catch (const Error& e) {
        report.state_error = fmt::format(
            "the machine runs {} (generation {}), but the state file could not record it: {}; "
            "the next deploy records it",
            report.system, report.generation ? std::to_string(*report.generation) : "?",
            e.describe());
        report.error = report.state_error;
        run.reporter_.error(machine, report.state_error);
    }
}

// What the machine runs once no earlier activation waits for its confirmation: one
// whose fedi died is let run out (it reverts), so the machine is judged on what it keeps.
host::SystemStatus settled_status(host::Host& host, ui::Events& ui, const std::string& machine) {
    auto status = host.system_status();
    if (!status.reverts_in)
        return status;
    ui.warn(machine, fmt::format("an earlier activation waits for a confirmation that will not "
                                 "come (it reverts in {} s); waiting for it to end",
                                 std::max(0L, *status.reverts_in)));
    // Its window, then time for the revert itself.
    auto until = Clock::now() + std::chrono::seconds(std::max(0L, *status.reverts_in) + 120);
    while (status.reverts_in) {
        if (Clock::now() > until)
            throw Error("an earlier activation on the machine is still reverting after its "
                        "confirmation window and 120 s more; see /var/lib/fedi/activations "
                        "there");
        std::this_thread::sleep_for(std::chrono::seconds(1));
        status = host.system_status();
    }
    return status;
}

host::ConnectSettings connect_settings(Run& run, const model::Machine& m) {
    auto settings = host::settings_for(m, run.trusted_keys(m.name));
    settings.accept_new_host_key = run.opts_.accept_new_host_keys;
    settings.compress = run.opts_.compress;
    return settings;
}

// A machine already running the deployment's system: its secrets are written, and a
// generation a run could not record (its state write failed, or it died just before) is
// recorded now, so rollback and status know it.
void finish_unchanged(Run& run, host::Host& host, const std::string& machine, MachineReport& report,
                      const host::SystemStatus& status) {
    auto& ui = run.reporter_;
    Goal goal = run.opts_.goal;
    auto synced = host.sync_secrets(run.secrets_for(machine));
    report_secret_sync(ui, machine, synced);
    // Nothing will activate to create the owner: it is missing from this system.
    if (!synced.pending_owner.empty())
        throw Error(fmt::format("the owner of secret(s) {} does not exist on the machine, "
                                "whose running system is this deployment's; they are owned "
                                "by root",
                                fmt::join(synced.pending_owner, ", ")));
    report.outcome = Outcome::Unchanged;
    report.generation = status.generation;
    ui.info(machine, "already running this system; nothing to push or activate");
    if (!goal_sets_profile(goal))
        return;
    const auto& recorded = run.state_snapshot().machines;
    auto it = recorded.find(machine);
    if (it == recorded.end() || it->second.generations.empty() ||
        it->second.generations.back().system != status.profile)
        record_generation(run, machine, report, goal, true);
    prune_history(run, host, machine);
}

void deploy_machine(Run& run, const model::Machine& m, MachineReport& report,
                    Clock::time_point start) {
    auto& ui = run.reporter_;
    auto show = [&](const std::string& text, bool force = true) {
        ui.status_since(m.name, text, start, force);
    };
    Goal goal = run.opts_.goal;
    std::string system = m.system.out_path;

    report.phase = "connect";
    show("connecting");
    auto settings = connect_settings(run, m);
    ui.detail(m.name, fmt::format("connecting to {}@{}:{}", m.ssh.user, m.ssh.host, m.ssh.port));
    auto host = host::Host::connect(settings);
    if (auto key = host->newly_trusted_host_key()) {
        ui.warn(m.name, fmt::format("trusting new host key {} (recorded in state)", *key));
        run.update_state([&](state::State& s) {
            auto& keys = s.machines[m.name].host_keys;
            if (std::find(keys.begin(), keys.end(), *key) == keys.end())
                keys.push_back(*key);
        });
    }

    // A machine already running this system needs no push (0 bytes sent), only its
    // secrets; unless the last deploy of it failed, which is retried until it passes.
    auto status = settled_status(*host, ui, m.name);
    std::optional<PendingFailure> pending;
    if (goal_sets_profile(goal) || goal == Goal::Test)
        pending = pending_failure(run.state_snapshot(), "machines." + m.name);
    // Only what failed on the machine itself needs doing again; a build, connection or
    // push that failed and now went through leaves nothing behind to retry.
    if (pending && (pending->system != system ||
                    (pending->phase != "secrets" && pending->phase != "activate")))
        pending.reset();
    if (up_to_date(goal, status, system) && !pending) {
        report.phase = "secrets";
        show("writing secrets");
        finish_unchanged(run, *host, m.name, report, status);
        return;
    }
    if (pending)
        ui.warn(m.name, fmt::format("the last deploy of this system failed ({}: {}); trying again",
                                    pending->phase, pending->error));

    report.phase = "push";
    show("waiting for a push slot");
    host::PushProgress pushed;
    {
        Slot slot(run.push_slots);
        show("pushing");
        pushed = host->push_closure(*run.closures.at(system), [&](const host::PushProgress& p) {
            show(fmt::format("pushing: {} paths, {}", p.paths_sent, ui::human_bytes(p.bytes_sent)),
                 false);
        });
    }
    report.paths_sent = pushed.paths_sent;
    report.bytes_sent = pushed.bytes_sent;
    report.nar_bytes = pushed.nar_bytes;
    ui.info(m.name,
            pushed.paths_sent == 0
                ? fmt::format("closure complete on the machine ({} paths)", pushed.paths_total)
                : fmt::format("sent {} of {} paths ({})", pushed.paths_sent, pushed.paths_total,
                              ui::human_bytes(pushed.bytes_sent)));
    if (goal == Goal::Push) {
        report.outcome = Outcome::Pushed;
        return;
    }

    // Secrets go before activation: the new system's services may read them at start.
    std::vector<std::string> pending_owner;
    if (goal_delivers_secrets(goal)) {
        report.phase = "secrets";
        show("writing secrets");
        auto synced = host->sync_secrets(run.secrets_for(m.name));
        report_secret_sync(ui, m.name, synced);
        pending_owner = synced.pending_owner;
    }

    report.phase = "activate";
    show("activating (" + to_string(goal) + ")");
    host::ActivationRequest request;
    request.system = system;
    request.goal = goal;
    request.rollback = run.opts_.rollback;
    request.confirm_seconds = confirmation_seconds(run.opts_, m, goal);
    Tail tail;
    std::vector<std::string> script_lines; // the activation script's own ("fedi: ...")
    request.on_line = [&](const std::string& l) {
        tail.add(l);
        if (l.rfind("fedi: ", 0) == 0)
            script_lines.push_back(l);
        ui.info(m.name, "| " + l);
    };
    std::optional<std::string> health_failure;
    request.on_waiting = [&]() -> std::optional<std::string> {
        if (m.health_checks.empty())
            return std::nullopt;
        show("health checks");
        health_failure = run_health_checks(
            m, [&] { return host::Host::connect(settings); },
            [&](const std::string& line) { ui.info(m.name, line); });
        return health_failure;
    };
    auto outcome = host->activate(request);
    report.log_tail = tail.lines();
    for (const auto& w : outcome.warnings)
        ui.warn(m.name, w);
    if (outcome.reconnects > 0)
        ui.warn(m.name, fmt::format("the connection dropped during activation; reconnected {} "
                                    "time(s) and followed it to its end",
                                    outcome.reconnects));
    if (!outcome.ok())
        throw Error(describe_failed_activation(goal, outcome, health_failure, script_lines));
    report.outcome = goal == Goal::DryActivate ? Outcome::DryActivated : Outcome::Activated;
    if (!pending_owner.empty()) {
        // The new system created the owners: give the files to them now.
        report.phase = "secrets";
        auto synced = host->sync_secrets(run.secrets_for(m.name));
        report_secret_sync(ui, m.name, synced);
        if (!synced.pending_owner.empty())
            throw Error(fmt::format("the owner of secret(s) {} does not exist on the machine "
                                    "even after activation; they are owned by root",
                                    fmt::join(synced.pending_owner, ", ")));
    }
    if (goal_sets_profile(goal)) {
        report.generation = host->system_status().generation;
        record_generation(run, m.name, report, goal, false);
        prune_history(run, *host, m.name);
    }
}

void machine_thread(Run& run, const model::Machine& m, const std::vector<std::string>& deps) {
    MachineReport report;
    report.name = m.name;
    report.system = m.system.out_path;
    if (!deps.empty())
        run.reporter_.status(m.name, "waiting for " + fmt::format("{}", fmt::join(deps, ", ")),
                             true);
    if (auto failed = run.wait_for(deps)) {
        report.outcome = Outcome::Skipped;
        report.error =
            fmt::format("not deployed: it comes after {}, which did not deploy", *failed);
        run.reporter_.warn(m.name, report.error);
        run.finish(m.name, std::move(report));
        return;
    }
    run.reporter_.status(m.name, "waiting for a slot", true);
    Slot slot(run.machine_slots);
    auto start = Clock::now();
    try {
        deploy_machine(run, m, report, start);
    } catch (const Error& e) {
        report.outcome = Outcome::Failed;
        report.error = e.describe();
    } catch (const std::exception& e) {
        report.outcome = Outcome::Failed;
        report.error = e.what();
    }
    report.seconds = seconds_since(start);
    run.reporter_.status(
        m.name,
        fmt::format("{:<40} {}", to_string(report.outcome), ui::human_duration(report.seconds)),
        true);
    if (report.outcome == Outcome::Failed) {
        run.reporter_.error(m.name, fmt::format("{} failed: {}", report.phase, report.error));
        // The activation log was streamed as it came (info); repeat it only where it was not.
        if (!run.reporter_.shows(ui::Level::Info))
            for (const auto& l : report.log_tail)
                run.reporter_.error(m.name, "| " + l);
    } else {
        report.phase.clear();
    }
    run.finish(m.name, std::move(report));
}

// One thread per machine in `names` not already finished (failed build, storage).
void run_machine_threads(Run& run, const model::Deployment& d,
                         const std::vector<std::string>& names,
                         const std::set<std::string>& selected_set) {
    std::vector<std::thread> threads;
    for (const auto& name : names) {
        if (run.is_done(name))
            continue;
        const auto& m = d.machines.at(name);
        std::vector<std::string> deps;
        for (const auto& a : m.after)
            if (selected_set.count(a))
                deps.push_back(a);
        threads.emplace_back([&run, &m, deps] { machine_thread(run, m, deps); });
    }
    for (auto& t : threads)
        t.join();
}

// Storage after its machines: converge, hand each key to the machines that receive it,
// fail the machines whose keys could not be made.
void storage_phase(Run& run, const model::Deployment& d, const std::set<std::string>& storages,
                   const std::set<std::string>& selected_set, DeployReport& report) {
    StoragePhaseIO io;
    io.load_state = [&] { return run.state_snapshot(); };
    io.update_state = [&](const std::function<void(state::State&)>& c) { run.update_state(c); };
    io.connect = [&](const model::Machine& m) {
        return host::Host::connect(connect_settings(run, m));
    };
    io.failed = [&](const std::string& m) { return run.failure_of(m); };
    auto converged = run_storage_phase(d, storages, run.opts_.dry_run, io, run.reporter_);
    report.storage = storage::to_json(converged);
    report.storage_ok = converged.ok();
    if (run.opts_.dry_run)
        return;
    for (auto& delivery : converged.deliveries) {
        if (!selected_set.count(delivery.machine))
            continue;
        if (run.is_done(delivery.machine))
            run.reporter_.warn(delivery.machine,
                               fmt::format("{} is delivered on the next deploy (the machine "
                                           "deployed before the storage phase)",
                                           delivery.file.name));
        run.add_secrets(delivery.machine, {delivery.file});
    }
    for (const auto& [machine, why] : converged.blocked) {
        if (!selected_set.count(machine) || run.is_done(machine))
            continue;
        MachineReport r;
        r.name = machine;
        r.system = d.machines.at(machine).system.out_path;
        r.outcome = Outcome::Failed;
        r.phase = "storage";
        r.error = why;
        run.reporter_.error(machine, "storage failed: " + why);
        run.finish(machine, r);
    }
}

// Failures stay in state until a run fixes them, so the next run retries them and does
// not call the machine unchanged. Only goals that leave the machine on the new system
// (switch, boot, test) settle them; build, push and dry-activate leave them as they are.
void record_outcomes(Run& run, const DeployReport& report) {
    run.update_state([&](state::State& s) {
        for (const auto& m : report.machines) {
            auto key = "machines." + m.name;
            if (m.outcome == Outcome::Failed)
                record_failure(s, key, {m.phase, m.error, m.system, state::now_utc()});
            else if (m.ok())
                clear_failure(s, key);
        }
        for (const auto& a : report.accounts) {
            if (a.name.empty() || a.name[0] == '(') // "(secrets)": a delivery, not an account
                continue;
            auto key = "accounts." + a.name;
            if (!a.ok())
                record_failure(s, key, {"account", a.error, "", state::now_utc()});
            else
                clear_failure(s, key);
        }
    });
}

void remember_failures(Run& run, DeployReport& report) {
    if (report.goal != Goal::Switch && report.goal != Goal::Boot && report.goal != Goal::Test)
        return;
    try {
        record_outcomes(run, report);
    } catch (const Error& e) {
        // The results above stand; only the record of them for the next run is missing.
        report.errors.push_back("the state file could not record this run's failures (the next "
                                "deploy may call a failed machine unchanged): " +
                                e.describe());
        run.reporter_.error("", report.errors.back());
    }
}

} // namespace

std::string to_string(Outcome o) {
    switch (o) {
    case Outcome::Planned:
        return "planned";
    case Outcome::Built:
        return "built";
    case Outcome::Pushed:
        return "pushed";
    case Outcome::Activated:
        return "deployed";
    case Outcome::DryActivated:
        return "dry-activated";
    case Outcome::Unchanged:
        return "unchanged";
    case Outcome::Failed:
        return "failed";
    case Outcome::Skipped:
        return "skipped";
    case Outcome::RolledBack:
        return "rolled back";
    }
    return "?";
}

bool DeployReport::ok() const {
    return storage_ok && errors.empty() &&
           std::all_of(machines.begin(), machines.end(),
                       [](const MachineReport& m) { return m.ok() && m.state_error.empty(); }) &&
           std::all_of(accounts.begin(), accounts.end(),
                       [](const account::AccountResult& a) { return a.ok(); }) &&
           std::all_of(identity.begin(), identity.end(),
                       [](const account::IdentityResult& i) { return i.ok(); });
}

DeployReport run_deploy(const DeployOptions& opts, ui::Events& reporter) {
    DeployReport report;
    report.goal = opts.goal;
    // The lock comes first: a second deploy must stop before doing any work.
    session::SessionOptions so;
    so.project = opts.project;
    if (!opts.dry_run && goal_needs_machine(opts.goal))
        so.state_mode = session::StateMode::Locked;
    so.command_line = opts.command_line;
    auto s = session::open_session(so, reporter);
    if (goal_needs_machine(opts.goal)) // machines to deploy to must exist first
        provision_for_deploy(*s, opts.on, opts.dry_run);
    auto project = s->project();
    const auto& d = project.deployment;
    auto selected = select_machines(d, opts.on);
    std::set<std::string> selected_set(selected.begin(), selected.end());

    if (opts.dry_run) {
        auto storages = storages_needed(d, selected_set);
        if (!storages.empty()) {
            Run run(project, opts, reporter, state::load(project.state_file));
            storage_phase(run, d, storages, selected_set, report);
        }
        for (const auto& name : selected) {
            MachineReport r;
            r.name = name;
            r.outcome = Outcome::Planned;
            r.system = d.machines.at(name).system.out_path;
            report.machines.push_back(r);
        }
        return report;
    }

    // Build every selected system in one Nix invocation.
    std::vector<std::string> drvs, outs;
    for (const auto& name : selected) {
        const auto& sys = d.machines.at(name).system;
        if (std::find(drvs.begin(), drvs.end(), sys.drv_path) == drvs.end()) {
            drvs.push_back(sys.drv_path);
            outs.push_back(sys.out_path);
        }
    }
    reporter.info(
        "", fmt::format("building {} system(s) for {} machine(s)", drvs.size(), selected.size()));
    auto build_start = Clock::now();
    auto built = nix::build_systems(
        drvs, outs, [&](const std::string& line) { reporter.detail("build", line); }, 25,
        [&](const nix::BuildProgress& p) {
            reporter.status_since(
                "build",
                fmt::format("building: {}/{} derivations{}", p.done, p.expected,
                            p.running ? fmt::format(", {} running", p.running) : ""),
                build_start, false);
        });
    reporter.remove_status("build");
    std::set<std::string> failed_outs(built.failed.begin(), built.failed.end());

    state::State st = state::load(project.state_file);
    Run run(project, opts, reporter, std::move(st));
    // Secrets, accounts and identity directories (lib/account) read and change state here.
    account::StateAccess access{[&] {
                                    state::State copy;
                                    run.update_state([&](state::State& s) { copy = s; });
                                    return copy;
                                },
                                [&](const auto& change) { run.update_state(change); }};

    // Machines whose system did not build fail here, with the log of what broke.
    for (const auto& name : selected) {
        const auto& m = d.machines.at(name);
        if (!failed_outs.count(m.system.out_path))
            continue;
        MachineReport r;
        r.name = name;
        r.system = m.system.out_path;
        r.outcome = Outcome::Failed;
        r.phase = "build";
        r.seconds = seconds_since(build_start);
        auto closure = nix::derivation_closure(m.system.drv_path);
        std::set<std::string> mine(closure.begin(), closure.end());
        for (const auto& f : built.failures)
            if (mine.count(f.drv_path)) {
                r.error += (r.error.empty() ? "" : "\n") + f.message;
                r.log_tail.insert(r.log_tail.end(), f.log_tail.begin(), f.log_tail.end());
            }
        for (const auto& e : built.other_errors)
            r.error += (r.error.empty() ? "" : "\n") + e;
        if (r.error.empty())
            r.error = fmt::format("the system {} was not built", m.system.drv_path);
        reporter.error(name, "build failed: " + r.error);
        // With -v the build log was streamed already (detail).
        for (const auto& l :
             reporter.shows(ui::Level::Detail) ? std::vector<std::string>{} : r.log_tail)
            reporter.error(name, "| " + l);
        run.finish(name, r);
    }

    if (opts.goal == Goal::Build) {
        for (const auto& name : selected) {
            auto r = run.result(name);
            if (r.name.empty()) {
                r.name = name;
                r.system = d.machines.at(name).system.out_path;
                r.outcome = Outcome::Built;
                r.seconds = seconds_since(build_start);
            }
            report.machines.push_back(r);
        }
        return report;
    }

    // A system fedi could push but never activate is refused before anything is sent.
    for (const auto& name : selected) {
        const auto& m = d.machines.at(name);
        if (failed_outs.count(m.system.out_path) || run.is_done(name))
            continue;
        if (auto why = not_activatable(m)) {
            MachineReport r;
            r.name = name;
            r.system = m.system.out_path;
            r.outcome = Outcome::Failed;
            r.phase = "build";
            r.error = *why;
            reporter.error(name, "build failed: " + r.error);
            run.finish(name, r);
        }
    }

    for (const auto& name : selected) {
        const auto& out = d.machines.at(name).system.out_path;
        if (!failed_outs.count(out) && !run.closures.count(out) && !run.is_done(name)) {
            auto closure = std::make_unique<nix::LocalClosure>(std::vector<std::string>{out});
            closure->start();
            run.closures.emplace(out, std::move(closure));
        }
    }
    account::BeforeMachines declared;
    if (goal_delivers_secrets(opts.goal)) {
        declared = account::before_machines(d, selected_set, access, reporter);
        for (auto& [machine, files] : declared.files)
            run.add_secrets(machine, std::move(files));
        report.identity = declared.identity;
    }

    // Storage machines first, then the storage itself, then the machines using it.
    auto storages = goal_delivers_secrets(opts.goal) ? storages_needed(d, selected_set)
                                                     : std::set<std::string>{};
    if (!storages.empty()) {
        run_machine_threads(run, d, deploy_before_storage(d, selected, storages), selected_set);
        storage_phase(run, d, storages, selected_set, report);
    }
    run_machine_threads(run, d, selected, selected_set);
    reporter.end_status();
    for (const auto& name : selected)
        report.machines.push_back(run.result(name));
    // Accounts need the services running: after switch/test, on the machines that made it.
    if (opts.goal == Goal::Switch || opts.goal == Goal::Test) {
        std::set<std::string> activated;
        for (const auto& m : report.machines)
            if (m.ok())
                activated.insert(m.name);
        report.accounts = account::after_machines(
            d, activated, declared,
            [&](const std::string& m) {
                return account::connect_machine(d.machines.at(m), access.read());
            },
            access, [&](const std::string& m) { return run.secrets_for(m); }, reporter);
    }
    remember_failures(run, report);
    return report;
}

nlohmann::json to_json(const DeployReport& r) {
    nlohmann::json machines = nlohmann::json::array();
    for (const auto& m : r.machines) {
        nlohmann::json j = {{"name", m.name},
                            {"result", to_string(m.outcome)},
                            {"system", m.system},
                            {"pathsSent", m.paths_sent},
                            {"bytesSent", m.bytes_sent},
                            {"narBytes", m.nar_bytes},
                            {"seconds", m.seconds}};
        j["generation"] = m.generation ? nlohmann::json(*m.generation) : nlohmann::json();
        if (!m.phase.empty())
            j["failedPhase"] = m.phase;
        if (!m.error.empty())
            j["error"] = m.error;
        if (!m.log_tail.empty() && m.outcome == Outcome::Failed)
            j["logTail"] = m.log_tail;
        machines.push_back(j);
    }
    nlohmann::json j = {{"goal", to_string(r.goal)}, {"ok", r.ok()}, {"machines", machines}};
    if (!r.accounts.empty() || !r.identity.empty()) {
        j["accounts"] = nlohmann::json::array();
        for (const auto& a : r.accounts)
            j["accounts"].push_back(account::to_json(a, false)); // passwords: fedi account show
        j["identity"] = nlohmann::json::array();
        for (const auto& i : r.identity)
            j["identity"].push_back(account::to_json(i));
    }
    if (!r.storage.is_null())
        j["storage"] = r.storage;
    if (!r.errors.empty())
        j["errors"] = r.errors;
    return j;
}

std::string render_summary(const DeployReport& r, bool color) {
    std::vector<std::vector<std::string>> rows = {
        {"MACHINE", "RESULT", "PATHS SENT", "BYTES SENT", "TIME", "DETAIL"}};
    for (const auto& m : r.machines) {
        std::string detail;
        if (m.outcome == Outcome::Failed)
            detail = m.phase + ": " + m.error.substr(0, m.error.find('\n'));
        else if (m.outcome == Outcome::Skipped)
            detail = m.error;
        else if (!m.state_error.empty())
            detail = "not recorded in state: " + m.state_error.substr(0, m.state_error.find('\n'));
        else if (m.generation)
            detail = fmt::format("generation {}", *m.generation);
        rows.push_back({m.name, to_string(m.outcome), std::to_string(m.paths_sent),
                        ui::human_bytes(m.bytes_sent), ui::human_duration(m.seconds), detail});
    }
    std::string out = ui::render_table(rows, color);
    if (r.storage.is_object()) {
        for (const auto& kind : {"storages", "buckets"})
            for (const auto& item : r.storage[kind]) {
                std::string subject =
                    fmt::format("{} {}", std::string(kind) == "storages" ? "storage" : "bucket",
                                item["name"].get<std::string>());
                if (!item["ok"].get<bool>())
                    out += fmt::format("{}: FAILED: {}\n", subject,
                                       item.value("error", std::string()));
                for (const auto& c : item["changes"])
                    out += fmt::format("{}: {}\n", subject, c.get<std::string>());
            }
        for (const auto& u : r.storage["undeclared"])
            out += "note: " + u.get<std::string>() + "\n";
    }
    if (!r.accounts.empty()) {
        std::vector<std::vector<std::string>> acc = {
            {"ACCOUNT", "SERVICE", "MACHINE", "USERNAME", "RESULT", "DETAIL"}};
        for (const auto& a : r.accounts)
            acc.push_back({a.name, a.service, a.machine, a.username, a.result,
                           a.error.substr(0, a.error.find('\n'))});
        out += "\n" + ui::render_table(acc, color);
    }
    if (!r.identity.empty()) {
        std::vector<std::vector<std::string>> ids = {{"DIRECTORY", "ENTRY", "RESULT", "DETAIL"}};
        for (const auto& i : r.identity)
            ids.push_back({i.directory, i.dn, i.result, i.error.substr(0, i.error.find('\n'))});
        out += "\n" + ui::render_table(ids, color);
    }
    for (const auto& e : r.errors)
        out += "error: " + e + "\n";
    return out;
}

} // namespace fedi::deploy
