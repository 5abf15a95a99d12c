// The plan's JSON document: field names are a contract (doc/plan.schema.json).
#include "plan/plan_json.hpp"

#include "core/error.hpp"

#include <fmt/format.h>

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

std::string text(const json& j, const char* key) {
    return j.at(key).get<std::string>();
}

std::vector<std::string> texts(const json& j, const char* key) {
    return j.at(key).get<std::vector<std::string>>();
}

// The value of E named by `j` (to_string(value) == its text); `what` names E in errors.
template <typename E, std::size_t N>
E named(const json& j, const E (&values)[N], const char* what) {
    auto name = j.get<std::string>();
    for (auto v : values)
        if (to_string(v) == name)
            return v;
    throw Error(fmt::format("unknown {} '{}'", what, name));
}

Action action_of(const json& j) {
    static const Action all[] = {Action::None, Action::Create, Action::Update, Action::Replace,
                                 Action::Destroy};
    return named(j, all, "action");
}

Activation activation_of(const json& j) {
    static const Activation all[] = {Activation::None, Activation::Activate,
                                     Activation::BootLoader};
    return named(j, all, "activation");
}

std::vector<FieldChange> changes_of(const json& j) {
    std::vector<FieldChange> out;
    for (const auto& c : j)
        out.push_back({text(c, "what"), text(c, "from"), text(c, "to")});
    return out;
}

ProvisionPlan provision_of(const json& j) {
    ProvisionPlan p;
    p.action = action_of(j.at("action"));
    p.provider = text(j, "provider");
    p.type = text(j, "type");
    p.id = text(j, "id");
    p.changes = changes_of(j.at("changes"));
    p.fixed = changes_of(j.at("fixed"));
    p.why = text(j, "why");
    return p;
}

SystemPlan system_of(const json& j) {
    SystemPlan s;
    s.system = text(j, "system");
    s.current = text(j, "current");
    s.profile = text(j, "profile");
    if (!j.at("generation").is_null())
        s.generation = j.at("generation").get<int>();
    s.observed = j.at("observed").get<bool>();
    s.activation = activation_of(j.at("activation"));
    for (const auto& pc : j.at("packages"))
        s.packages.push_back({text(pc, "name"), texts(pc, "from"), texts(pc, "to"),
                              pc.at("sizeDelta").get<std::int64_t>()});
    s.paths_total = j.at("pathsTotal").get<std::size_t>();
    s.paths_to_send = j.at("pathsToSend").get<std::size_t>();
    s.bytes_to_send = j.at("bytesToSend").get<std::uint64_t>();
    return s;
}

std::vector<SecretPlan> secrets_of(const json& j) {
    std::vector<SecretPlan> out;
    for (const auto& s : j)
        out.push_back(
            {text(s, "name"), action_of(s.at("action")), text(s, "origin"), texts(s, "reasons")});
    return out;
}

std::vector<AccountPlan> accounts_of(const json& j) {
    std::vector<AccountPlan> out;
    for (const auto& a : j)
        out.push_back({text(a, "kind"), text(a, "name"), text(a, "machine"),
                       action_of(a.at("action")), texts(a, "reasons")});
    return out;
}

StoragePlan storage_of(const json& j) {
    StoragePlan s;
    for (const auto& i : j.at("items"))
        s.items.push_back({text(i, "storage"), text(i, "kind"), text(i, "name"),
                           action_of(i.at("action")), changes_of(i.at("changes"))});
    s.undeclared = texts(j, "undeclared");
    return s;
}

MachinePlan machine_of(const json& j) {
    MachinePlan m;
    m.name = text(j, "name");
    m.provision = provision_of(j.at("provision"));
    m.system = system_of(j.at("system"));
    m.secrets = secrets_of(j.at("secrets"));
    m.accounts = accounts_of(j.at("accounts"));
    m.errors = texts(j, "errors");
    return m;
}

Plan plan_of(const json& j) {
    Plan p;
    p.schema_version = j.at("schemaVersion").get<int>();
    p.deployment = text(j, "deployment");
    auto goal = model::parse_goal(text(j, "goal"));
    if (!goal)
        throw Error("unknown goal " + j.at("goal").dump());
    p.goal = *goal;
    p.on = texts(j, "on");
    p.created = text(j, "created");
    for (const auto& m : j.at("machines"))
        p.machines.push_back(machine_of(m));
    p.destroyed = texts(j, "destroyed");
    p.storage = storage_of(j.at("storage"));
    p.directory = accounts_of(j.at("directory"));
    p.errors = texts(j, "errors");
    p.observed = j.at("observed").get<std::map<std::string, std::string>>();
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
