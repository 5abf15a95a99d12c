// The build phase of `fedi deploy`: every selected system built in one Nix invocation,
// and the machines that cannot deploy (a failed build, a system that cannot be
// activated) failed before anything is sent.
#include "deploy/phases.hpp"

#include "nix/build.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fmt/format.h>

namespace fedi::deploy {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Systems {
    std::vector<std::string> drvs, outs; // each system once, paired
};

Systems systems_of(const model::Deployment& d, const std::vector<std::string>& selected) {
    Systems out;
    for (const auto& name : selected) {
        const auto& sys = d.machines.at(name).system;
        if (std::find(out.drvs.begin(), out.drvs.end(), sys.drv_path) == out.drvs.end()) {
            out.drvs.push_back(sys.drv_path);
            out.outs.push_back(sys.out_path);
        }
    }
    return out;
}

nix::BuildOutcome build(ui::Events& events, const Systems& systems, Clock::time_point start) {
    auto built = nix::build_systems(
        systems.drvs, systems.outs, [&](const std::string& line) { events.detail("build", line); },
        25,
        [&](const nix::BuildProgress& p) {
            events.status_since(
                "build",
                fmt::format("building: {}/{} derivations{}", p.done, p.expected,
                            p.running ? fmt::format(", {} running", p.running) : ""),
                start, false);
        });
    events.remove_status("build");
    return built;
}

MachineReport failed_machine(const model::Machine& m, const std::string& error) {
    MachineReport r;
    r.name = m.name;
    r.system = m.system.out_path;
    r.outcome = Outcome::Failed;
    r.phase = Phase::Build;
    r.error = error;
    return r;
}

// A machine whose system did not build, with the log of what broke in its closure.
MachineReport build_failure(const model::Machine& m, const nix::BuildOutcome& built) {
    auto r = failed_machine(m, "");
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
    return r;
}

void report_build_failure(ui::Events& events, const MachineReport& r) {
    events.error(r.name, "build failed: " + r.error);
    // With -v the build log was streamed already (detail).
    if (!events.shows(ui::Level::Detail))
        for (const auto& l : r.log_tail)
            events.error(r.name, "| " + l);
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

void refuse_unactivatable(ui::Events& events, const model::Deployment& d, BuiltSystems& out) {
    for (const auto& name : out.machines) {
        if (out.failed.count(name))
            continue;
        if (auto why = not_activatable(d.machines.at(name))) {
            auto r = failed_machine(d.machines.at(name), *why);
            events.error(name, "build failed: " + r.error);
            out.failed.emplace(name, std::move(r));
        }
    }
}

} // namespace

BuiltSystems build_phase(session::Session& s, const std::vector<std::string>& selected, Goal goal) {
    const auto& d = s.deployment();
    auto& events = s.events();
    auto systems = systems_of(d, selected);
    events.info("", fmt::format("building {} system(s) for {} machine(s)", systems.drvs.size(),
                                selected.size()));
    auto start = Clock::now();
    auto built = build(events, systems, start);
    std::set<std::string> failed_outs(built.failed.begin(), built.failed.end());
    BuiltSystems out;
    out.machines = selected;
    for (const auto& name : selected) {
        const auto& m = d.machines.at(name);
        if (!failed_outs.count(m.system.out_path))
            continue;
        auto r = build_failure(m, built);
        r.seconds = seconds_since(start);
        report_build_failure(events, r);
        out.failed.emplace(name, std::move(r));
    }
    out.seconds = seconds_since(start);
    // Goal push only adds store paths: any closure will do (the push benchmark's do).
    if (goal != Goal::Build && goal != Goal::Push)
        refuse_unactivatable(events, d, out);
    return out;
}

DeployReport built_report(const BuiltSystems& built, const model::Deployment& d) {
    DeployReport report;
    report.goal = Goal::Build;
    for (const auto& name : built.machines) {
        auto failed = built.failed.find(name);
        if (failed != built.failed.end()) {
            report.machines.push_back(failed->second);
            continue;
        }
        MachineReport r;
        r.name = name;
        r.system = d.machines.at(name).system.out_path;
        r.outcome = Outcome::Built;
        r.seconds = built.seconds;
        report.machines.push_back(r);
    }
    return report;
}

} // namespace fedi::deploy
