// State records of provisioned machines and the `resources` built from them.
#include "core/error.hpp"
#include "provider/provider.hpp"
#include "state/state.hpp"

#include <fmt/format.h>

namespace fedi::provider {

namespace {
constexpr const char* kStateKey = "provisioned";
}

void wrong_settings(const Request& req, const std::string& provider) {
    throw Error(
        fmt::format("machine {}: provision settings are not for {}", req.machine, provider));
}

std::string Change::describe() const {
    if (from.empty())
        return fmt::format("{}: add {}", what, to);
    if (to.empty())
        return fmt::format("{}: {}", what, from);
    return fmt::format("{}: {} -> {}", what, from, to);
}

nlohmann::json to_json(const Outputs& o) {
    nlohmann::json j = o.extra.is_object() ? o.extra : nlohmann::json::object();
    j["host"] = o.host;
    j["port"] = o.port;
    j["user"] = o.user;
    j["hostKeys"] = o.host_keys;
    j["hostKey"] = o.host_keys.empty() ? nlohmann::json() : nlohmann::json(o.host_keys.front());
    if (o.identity_file)
        j["identityFile"] = *o.identity_file;
    return j;
}

Outputs outputs_from_json(const nlohmann::json& j) {
    Outputs o;
    if (!j.is_object())
        return o;
    o.host = j.value("host", "");
    o.port = j.value("port", 22);
    o.user = j.value("user", "root");
    o.host_keys = j.value("hostKeys", std::vector<std::string>{});
    if (j.contains("identityFile") && j["identityFile"].is_string())
        o.identity_file = j["identityFile"].get<std::string>();
    o.extra = j;
    for (const char* k : {"host", "port", "user", "hostKeys", "hostKey", "identityFile"})
        o.extra.erase(k);
    return o;
}

nlohmann::json to_json(const Record& r) {
    return {{"provider", r.provider},
            {"type", r.type},
            {"id", r.id},
            {"data", r.data},
            {"outputs", to_json(r.outputs)},
            {"created", r.created},
            {"complete", r.complete},
            {"protect", r.protect}};
}

Record record_from_json(const nlohmann::json& j, const std::string& machine) {
    try {
        Record r;
        r.provider = j.at("provider").get<std::string>();
        r.type = j.at("type").get<std::string>();
        r.id = j.at("id").get<std::string>();
        r.data = j.value("data", nlohmann::json::object());
        r.outputs = outputs_from_json(j.value("outputs", nlohmann::json::object()));
        r.created = j.value("created", "");
        r.complete = j.value("complete", false);
        r.protect = j.value("protect", false);
        return r;
    } catch (const nlohmann::json::exception& e) {
        throw Error(fmt::format("the state's record of provisioned machine {} is damaged: {}",
                                machine, e.what()));
    }
}

std::map<std::string, Record> records(const state::State& s) {
    std::map<std::string, Record> out;
    auto it = s.extra.find(kStateKey);
    if (it == s.extra.end() || !it->is_object())
        return out;
    for (const auto& [name, j] : it->items())
        out.emplace(name, record_from_json(j, name));
    return out;
}

std::optional<Record> find_record(const state::State& s, const std::string& machine) {
    auto it = s.extra.find(kStateKey);
    if (it == s.extra.end() || !it->is_object() || !it->contains(machine))
        return std::nullopt;
    return record_from_json((*it)[machine], machine);
}

void set_record(state::State& s, const std::string& machine, const Record& r) {
    if (!s.extra.contains(kStateKey) || !s.extra[kStateKey].is_object())
        s.extra[kStateKey] = nlohmann::json::object();
    // Fields a newer fedi added to this record stay as they were.
    auto& slot = s.extra[kStateKey][machine];
    slot = state::with_unknown_fields(slot, to_json(r));
}

void erase_record(state::State& s, const std::string& machine) {
    if (s.extra.contains(kStateKey) && s.extra[kStateKey].is_object())
        s.extra[kStateKey].erase(machine);
}

nlohmann::json resources(const state::State& s) {
    nlohmann::json machines = nlohmann::json::object();
    for (const auto& [name, r] : records(s)) {
        if (!r.complete)
            continue;
        auto j = to_json(r.outputs);
        j["provider"] = r.provider;
        machines[name] = j;
    }
    return {{"machines", machines}};
}

} // namespace fedi::provider
