// What a deploy leaves in state for the next one: the failures not fixed yet.
#include "deploy/pending.hpp"
#include "deploy/phases.hpp"

#include "core/error.hpp"

namespace fedi::deploy {

namespace {

// Failures stay in state until a run fixes them, so the next run retries them and does
// not call the machine unchanged.
void record_outcomes(state::State& s, const DeployReport& report) {
    for (const auto& m : report.machines) {
        auto key = "machines." + m.name;
        if (m.outcome == Outcome::Failed)
            record_failure(s, key, {to_string(m.phase), m.error, m.system, state::now_utc()});
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
}

} // namespace

// Only goals that leave the machine on the new system (switch, boot, test) settle them;
// build, push and dry-activate leave them as they are.
void remember_failures(session::Session& s, DeployReport& report) {
    if (report.goal != Goal::Switch && report.goal != Goal::Boot && report.goal != Goal::Test)
        return;
    try {
        s.state().change([&](state::State& st) { record_outcomes(st, report); });
    } catch (const Error& e) {
        // The results above stand; only the record of them for the next run is missing.
        report.errors.push_back("the state file could not record this run's failures (the next "
                                "deploy may call a failed machine unchanged): " +
                                e.describe());
        s.events().error("", report.errors.back());
    }
}

} // namespace fedi::deploy
