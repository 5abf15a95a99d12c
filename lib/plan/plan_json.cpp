// The plan's JSON document: field names are a contract (doc/plan.schema.json).
#include "plan/plan_json.hpp"

#include "core/error.hpp"

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

namespace {

// Reading back: each function mirrors its *_json writer above.

Action action_of(const json& j) {
    static const Action all[] = {Action::None, Action::Create, Action::Update, Action::Replace,
                                 Action::Destroy};
    auto text = j.get<std::string>();
    for (auto a : all)
        if (to_string(a) == text)
            return a;
    throw Error("unknown action '" + text + "'");
}

Activation activation_of(const json& j) {
    static const Activation all[] = {Activation::None, Activation::Activate,
                                     Activation::BootLoader};
    auto text = j.get<std::string>();
    for (auto a : all)
        if (to_string(a) == text)
            return a;
    throw Error("unknown activation '" + text + "'");
}

std::vector<FieldChange> changes_of(const json& j) {
    std::vector<FieldChange> out;
    for (const auto& c : j)
        out.push_back({c.at("what"), c.at("from"), c.at("to")});
    return out;
}

ProvisionPlan provision_of(const json& j) {
    ProvisionPlan p;
    p.action = action_of(j.at("action"));
    p.provider = j.at("provider");
    p.type = j.at("type");
    p.id = j.at("id");
    p.changes = changes_of(j.at("changes"));
    p.fixed = changes_of(j.at("fixed"));
    p.why = j.at("why");
    return p;
}

SystemPlan system_of(const json& j) {
    SystemPlan s;
    s.system = j.at("system");
    s.current = j.at("current");
    s.profile = j.at("profile");
    if (!j.at("generation").is_null())
        s.generation = j.at("generation").get<int>();
    s.observed = j.at("observed");
    s.activation = activation_of(j.at("activation"));
    for (const auto& pc : j.at("packages"))
        s.packages.push_back({pc.at("name"), pc.at("from"), pc.at("to"), pc.at("sizeDelta")});
    s.paths_total = j.at("pathsTotal");
    s.paths_to_send = j.at("pathsToSend");
    s.bytes_to_send = j.at("bytesToSend");
    return s;
}

std::vector<SecretPlan> secrets_of(const json& j) {
    std::vector<SecretPlan> out;
    for (const auto& s : j)
        out.push_back({s.at("name"), action_of(s.at("action")), s.at("origin"), s.at("reasons")});
    return out;
}

std::vector<AccountPlan> accounts_of(const json& j) {
    std::vector<AccountPlan> out;
    for (const auto& a : j)
        out.push_back({a.at("kind"), a.at("name"), a.at("machine"), action_of(a.at("action")),
                       a.at("reasons")});
    return out;
}

StoragePlan storage_of(const json& j) {
    StoragePlan s;
    for (const auto& i : j.at("items"))
        s.items.push_back({i.at("storage"), i.at("kind"), i.at("name"), action_of(i.at("action")),
                           changes_of(i.at("changes"))});
    s.undeclared = j.at("undeclared");
    return s;
}

MachinePlan machine_of(const json& j) {
    MachinePlan m;
    m.name = j.at("name");
    m.provision = provision_of(j.at("provision"));
    m.system = system_of(j.at("system"));
    m.secrets = secrets_of(j.at("secrets"));
    m.accounts = accounts_of(j.at("accounts"));
    m.errors = j.at("errors");
    return m;
}

Plan plan_of(const json& j) {
    Plan p;
    p.schema_version = j.at("schemaVersion");
    p.deployment = j.at("deployment");
    auto goal = model::parse_goal(j.at("goal"));
    if (!goal)
        throw Error("unknown goal " + j.at("goal").dump());
    p.goal = *goal;
    p.on = j.at("on");
    p.created = j.at("created");
    for (const auto& m : j.at("machines"))
        p.machines.push_back(machine_of(m));
    p.destroyed = j.at("destroyed");
    p.storage = storage_of(j.at("storage"));
    p.directory = accounts_of(j.at("directory"));
    p.errors = j.at("errors");
    p.observed = j.at("observed");
    return p;
}

} // namespace

Plan from_json(const json& j) {
    try {
        return plan_of(j);
    } catch (const json::exception& e) {
        throw Error(std::string("not a plan document: ") + e.what());
    }
}

} // namespace fedi::plan
