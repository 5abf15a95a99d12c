// `fedi deploy --plan`: a saved plan is checked against a fresh one, then deployed.
#include "plan/apply.hpp"

#include "core/error.hpp"
#include "core/io.hpp"
#include "plan/drift.hpp"
#include "plan/plan_json.hpp"
#include "plan/planner.hpp"
#include "state/state.hpp"

#include <fmt/format.h>

namespace fedi::plan {

namespace {

std::string lines(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& i : items)
        out += "\n  " + i;
    return out;
}

std::vector<std::string> errors_of(const Plan& p) {
    auto out = p.errors;
    for (const auto& m : p.machines)
        for (const auto& e : m.errors)
            out.push_back(m.name + ": " + e);
    return out;
}

} // namespace

void write_plan_file(const std::string& file, const Plan& p) {
    // The state's atomic write: temporary file (0600) in the same directory, fsync, rename.
    with_context("while writing the plan to " + file,
                 [&] { state::write_file(file, to_json(p).dump(2) + "\n", "plan file"); });
}

Plan read_plan_file(const std::string& file) {
    auto text = read_whole_file(file, "--plan");
    auto doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object())
        throw Error(fmt::format("plan file {}: not a JSON plan document", file));
    auto version = doc.value("schemaVersion", nlohmann::json());
    if (version != kSchemaVersion)
        throw Error(fmt::format("plan file {} has schemaVersion {}, this fedi reads {}: make the "
                                "plan again with this fedi",
                                file, version.dump(), kSchemaVersion));
    return with_context("while reading the plan file " + file, [&] { return from_json(doc); });
}

deploy::DeployReport apply_plan(session::Session& s, const Plan& saved, const std::string& file,
                                deploy::DeployOptions opts) {
    const auto& deployment = s.deployment().file;
    if (saved.deployment != deployment)
        throw Error(fmt::format("plan file {} was made for the deployment {}, not {}", file,
                                saved.deployment, deployment));
    if (!saved.ok())
        throw Error(fmt::format("plan file {} is incomplete; make a new plan:{}", file,
                                lines(errors_of(saved))));
    s.events().info("plan", "checking that nothing moved since the plan in " + file);
    auto now = make_plan(s, {saved.on, saved.goal});
    if (!now.ok())
        throw Error(fmt::format("cannot check the plan in {}: planning again failed:{}", file,
                                lines(errors_of(now))));
    if (auto moved = drift(saved, now); !moved.empty())
        throw Error(
            fmt::format("the plan in {} no longer holds; make a new plan:{}", file, lines(moved)));
    opts.on = saved.on;
    opts.goal = saved.goal;
    return deploy::run_deploy(s, opts);
}

} // namespace fedi::plan
