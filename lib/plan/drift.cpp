// Drift between a saved plan and a fresh one: what the plan was computed from (its
// `observed` keys), which machines it covers, and what it would do to each.
#include "plan/drift.hpp"

#include "plan/plan_json.hpp"

#include <fmt/format.h>
#include <set>

namespace fedi::plan {

namespace {

std::string shown(const std::string& value) {
    return value.empty() ? "none" : value;
}

const std::string kMachinePrefix = "machine.";

// "machine.web.generation" → "web"; "" for keys not about a machine.
std::string machine_of_key(const std::string& key) {
    if (key.rfind(kMachinePrefix, 0) != 0)
        return "";
    return key.substr(kMachinePrefix.size(), key.rfind('.') - kMachinePrefix.size());
}

// "machine.web.generation" → a sentence for the operator; others by their key.
std::string moved(const std::string& key, const std::string& from, const std::string& to) {
    if (auto machine = machine_of_key(key); !machine.empty()) {
        auto what = key.substr(key.rfind('.') + 1);
        auto why = what == "system" ? "the deployment changed" : "changed by someone else";
        if (what == "current")
            what = "running system";
        return fmt::format("{}: {} {} → {} ({})", machine, what, shown(from), shown(to), why);
    }
    return key + " changed";
}

const MachinePlan* find(const Plan& p, const std::string& name) {
    for (const auto& m : p.machines)
        if (m.name == name)
            return &m;
    return nullptr;
}

// Keys of machines in one plan only are said once, as that machine (see drift).
bool in_both(const Plan& saved, const Plan& now, const std::string& key) {
    auto machine = machine_of_key(key);
    return machine.empty() || (find(saved, machine) && find(now, machine));
}

void observed_drift(const Plan& saved, const Plan& now, std::vector<std::string>& out) {
    for (const auto& [key, value] : saved.observed) {
        if (!in_both(saved, now, key))
            continue;
        auto it = now.observed.find(key);
        if (it == now.observed.end())
            out.push_back(key + ": planned, now missing");
        else if (it->second != value)
            out.push_back(moved(key, value, it->second));
    }
    for (const auto& [key, value] : now.observed)
        if (!saved.observed.count(key) && in_both(saved, now, key))
            out.push_back(key + ": new since the plan");
}

// What the plan would do to a machine besides its system (which `observed` covers).
void machine_drift(const MachinePlan& saved, const MachinePlan& now,
                   std::vector<std::string>& out) {
    auto was = to_json(Plan{.machines = {saved}})["machines"][0];
    auto is = to_json(Plan{.machines = {now}})["machines"][0];
    for (const auto* part : {"provision", "secrets", "accounts"})
        if (was[part] != is[part])
            out.push_back(fmt::format("{}: its {} changed", saved.name, part));
}

void fleet_drift(const Plan& saved, const Plan& now, std::vector<std::string>& out) {
    auto was = to_json(saved);
    auto is = to_json(now);
    const std::pair<const char*, const char*> parts[] = {
        {"storage", "the storage plan changed"},
        {"directory", "the directory plan changed"},
        {"destroyed", "the machines to destroy changed"}};
    for (const auto& [part, sentence] : parts)
        if (was[part] != is[part])
            out.push_back(sentence);
}

} // namespace

std::vector<std::string> drift(const Plan& saved, const Plan& now) {
    std::vector<std::string> out;
    for (const auto& m : saved.machines)
        if (!find(now, m.name))
            out.push_back(m.name + ": planned, no longer selected");
    for (const auto& m : now.machines) {
        const auto* was = find(saved, m.name);
        if (!was)
            out.push_back(m.name + ": selected now, not in the plan");
        else
            machine_drift(*was, m, out);
    }
    observed_drift(saved, now, out);
    fleet_drift(saved, now, out);
    return out;
}

} // namespace fedi::plan
