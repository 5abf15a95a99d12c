// The provisioning part of a plan: the providers asked read-only (the provisioning dry
// run), each machine mapped to create / update / replace / none, and the machines fedi
// provisioned that left the deployment.
#include "plan/parts.hpp"

#include "deploy/provision.hpp"
#include "provider/provider.hpp"
#include "s3/hash.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace fedi::plan {

namespace {

std::string field_text(const nlohmann::json& v) {
    if (v.is_string())
        return v.get<std::string>();
    if (!v.is_array())
        return v.dump();
    std::vector<std::string> items;
    for (const auto& i : v)
        items.push_back(i.is_string() ? i.get<std::string>() : i.dump());
    return fmt::format("{}", fmt::join(items, ", "));
}

// The fields a new machine would be made with: its provision settings, "" → value.
std::vector<FieldChange> create_fields(const model::Machine& m) {
    std::vector<FieldChange> out;
    const auto settings = m.provision->settings->to_json();
    for (const auto& [key, value] : settings.items())
        if (!value.is_null() && !(value.is_array() && value.empty()))
            out.push_back({key, "", field_text(value)});
    return out;
}

std::vector<FieldChange> field_changes(const std::vector<provider::Change>& changes) {
    std::vector<FieldChange> out;
    for (const auto& c : changes)
        out.push_back({c.what, c.from, c.to});
    return out;
}

std::string replace_why(const deploy::ProvisionedMachine& pm) {
    std::vector<std::string> what;
    for (const auto& c : pm.fixed)
        what.push_back(c.what);
    return fmt::format("{} cannot change in place: the machine must be destroyed and provisioned "
                       "again to apply (fedi provision --destroy {}); a deploy does not do it",
                       fmt::join(what, ", "), pm.name);
}

ProvisionPlan plan_of(const model::Machine& m, const deploy::ProvisionedMachine& pm) {
    ProvisionPlan p;
    p.provider = pm.provider;
    p.type = pm.outcome == deploy::ProvisionOutcome::Existing ? "existing" : pm.type;
    p.id = pm.id;
    if (pm.outcome == deploy::ProvisionOutcome::Existing)
        return p;
    if (!pm.found) { // the provider found no machine: a deploy makes one
        p.action = Action::Create;
        p.changes = create_fields(m);
        return p;
    }
    p.changes = field_changes(pm.changes);
    p.fixed = field_changes(pm.fixed);
    if (!p.fixed.empty()) {
        p.action = Action::Replace;
        p.why = replace_why(pm);
    } else if (pm.outcome == deploy::ProvisionOutcome::Planned) {
        p.action = Action::Update;
        if (p.changes.empty()) // found without a complete record: its outputs are read
            p.changes.push_back({"outputs", "not recorded", "read from the machine"});
    }
    return p;
}

// What the provider read, as a digest: the VM's id and every compared field (the
// declared settings and how the machine differs from them).
std::string observed_digest(const model::Machine& m, const deploy::ProvisionedMachine& pm) {
    nlohmann::json changes = nlohmann::json::array();
    for (const auto* list : {&pm.changes, &pm.fixed})
        for (const auto& c : *list)
            changes.push_back({c.what, c.from, c.to});
    nlohmann::json j = {{"id", pm.id},
                        {"exists", pm.found},
                        {"settings", m.provision->settings->to_json()},
                        {"differences", changes}};
    return "sha256:" + storage::hex(storage::sha256(j.dump()));
}

} // namespace

ProvisionParts plan_provisioning(session::Session& s, const std::vector<std::string>& on) {
    // The dry run changes nothing and saves no record: the session keeps the deployment
    // as evaluated with the outputs state has, the outputs of the machines that exist.
    auto report = deploy::run_provision(s, on, true);
    ProvisionParts out;
    out.destroyed = report.orphans;
    for (const auto& pm : report.machines) {
        const auto& m = s.deployment().machines.at(pm.name);
        if (pm.outcome == deploy::ProvisionOutcome::Failed) {
            out.errors.push_back(fmt::format("machine {}: provisioning: {}", pm.name, pm.error));
            ProvisionPlan p;
            p.provider = pm.provider;
            p.type = pm.type;
            out.machines[pm.name] = p;
            continue;
        }
        out.machines[pm.name] = plan_of(m, pm);
        if (m.provision)
            out.observed["vm." + pm.name] = observed_digest(m, pm);
    }
    return out;
}

} // namespace fedi::plan
