// The plan's JSON document: field names are a contract (doc/plan.schema.json).
#include "plan/plan_json.hpp"

namespace fedi::plan {

using nlohmann::json;

namespace {

json changes_json(const std::vector<FieldChange>& changes) {
    json out = json::array();
    for (const auto& c : changes)
        out.push_back({{"what", c.what}, {"from", c.from}, {"to", c.to}});
    return out;
}

json provision_json(const ProvisionPlan& p) {
    return {{"action", to_string(p.action)},
            {"provider", p.provider},
            {"type", p.type},
            {"id", p.id},
            {"changes", changes_json(p.changes)},
            {"fixed", changes_json(p.fixed)},
            {"why", p.why}};
}

json system_json(const SystemPlan& s) {
    json packages = json::array();
    for (const auto& pc : s.packages)
        packages.push_back(
            {{"name", pc.name}, {"from", pc.from}, {"to", pc.to}, {"sizeDelta", pc.size_delta}});
    return {{"system", s.system},
            {"current", s.current},
            {"profile", s.profile},
            {"generation", s.generation ? json(*s.generation) : json(nullptr)},
            {"observed", s.observed},
            {"activation", to_string(s.activation)},
            {"packages", packages},
            {"pathsTotal", s.paths_total},
            {"pathsToSend", s.paths_to_send},
            {"bytesToSend", s.bytes_to_send}};
}

json secrets_json(const std::vector<SecretPlan>& secrets) {
    json out = json::array();
    for (const auto& s : secrets)
        out.push_back({{"name", s.name},
                       {"action", to_string(s.action)},
                       {"origin", s.origin},
                       {"reasons", s.reasons}});
    return out;
}

json accounts_json(const std::vector<AccountPlan>& accounts) {
    json out = json::array();
    for (const auto& a : accounts)
        out.push_back({{"kind", a.kind},
                       {"name", a.name},
                       {"machine", a.machine},
                       {"action", to_string(a.action)},
                       {"reasons", a.reasons}});
    return out;
}

json storage_json(const StoragePlan& s) {
    json items = json::array();
    for (const auto& i : s.items)
        items.push_back({{"storage", i.storage},
                         {"kind", i.kind},
                         {"name", i.name},
                         {"action", to_string(i.action)},
                         {"changes", changes_json(i.changes)}});
    return {{"items", items}, {"undeclared", s.undeclared}};
}

json machine_json(const MachinePlan& m) {
    return {{"name", m.name},
            {"changes", m.changes()},
            {"provision", provision_json(m.provision)},
            {"system", system_json(m.system)},
            {"secrets", secrets_json(m.secrets)},
            {"accounts", accounts_json(m.accounts)},
            {"errors", m.errors}};
}

} // namespace

json to_json(const Plan& p) {
    json machines = json::array();
    for (const auto& m : p.machines)
        machines.push_back(machine_json(m));
    return {{"schemaVersion", p.schema_version},
            {"deployment", p.deployment},
            {"goal", model::to_string(p.goal)},
            {"on", p.on},
            {"created", p.created},
            {"changes", p.changes()},
            {"ok", p.ok()},
            {"machines", machines},
            {"destroyed", p.destroyed},
            {"storage", storage_json(p.storage)},
            {"directory", accounts_json(p.directory)},
            {"errors", p.errors},
            {"observed", p.observed}};
}

} // namespace fedi::plan
