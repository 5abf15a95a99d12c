#include "account/records.hpp"

#include "core/error.hpp"

namespace fedi::account {

namespace {

const nlohmann::json& object_at(const nlohmann::json& j, const char* key) {
    static const nlohmann::json empty = nlohmann::json::object();
    auto it = j.find(key);
    if (it == j.end())
        return empty;
    if (!it->is_object())
        throw Error(std::string("state: \"") + key + "\" is not a JSON object");
    return *it;
}

void hide(std::string& secret, const std::string& mask) {
    if (!secret.empty())
        secret = mask;
}

} // namespace

nlohmann::json to_json(const AccountRecord& r) {
    return {{"service", r.service},
            {"machine", r.machine},
            {"username", r.username},
            {"password", r.password},
            {"present", r.present},
            {"created", r.created},
            {"passwordChanged", r.password_changed}};
}

AccountRecord account_from_json(const nlohmann::json& j) {
    AccountRecord r;
    r.service = j.value("service", "");
    r.machine = j.value("machine", "");
    r.username = j.value("username", "");
    r.password = j.value("password", "");
    r.present = j.value("present", false);
    r.created = j.value("created", "");
    r.password_changed = j.value("passwordChanged", "");
    return r;
}

std::string user_key(const std::string& uid) {
    return "users." + uid;
}

std::string service_key(const std::string& name) {
    return "services." + name;
}

Records load_records(const state::State& s) {
    Records r;
    try {
        for (const auto& [name, j] : object_at(s.extra, "secrets").items())
            r.secrets[name] = {j.value("value", ""), j.value("created", "")};
        for (const auto& [name, j] : object_at(s.extra, "accounts").items())
            r.accounts[name] = account_from_json(j);
        for (const auto& [dir, entries] : object_at(s.extra, "identity").items())
            for (const auto& [key, j] : entries.items())
                r.identity[dir][key] = {j.value("dn", ""), j.value("password", ""),
                                        j.value("present", false)};
    } catch (const nlohmann::json::exception& e) {
        throw Error(std::string("state: damaged secrets, accounts or identity records: ") +
                    e.what());
    }
    return r;
}

void store_records(state::State& s, const Records& r) {
    nlohmann::json secrets = nlohmann::json::object();
    for (const auto& [name, rec] : r.secrets)
        secrets[name] = {{"value", rec.value}, {"created", rec.created}};
    nlohmann::json accounts = nlohmann::json::object();
    for (const auto& [name, rec] : r.accounts)
        accounts[name] = to_json(rec);
    nlohmann::json identity = nlohmann::json::object();
    for (const auto& [dir, entries] : r.identity)
        for (const auto& [key, e] : entries)
            identity[dir][key] = {{"dn", e.dn}, {"password", e.password}, {"present", e.present}};
    // Fields a newer fedi added to a record that still exists stay as they were.
    const auto old = [&](const char* key) {
        auto it = s.extra.find(key);
        return it != s.extra.end() ? *it : nlohmann::json::object();
    };
    auto old_identity = old("identity");
    for (auto& [dir, entries] : identity.items())
        if (old_identity.contains(dir))
            entries = state::with_unknown_fields_of_entries(old_identity[dir], std::move(entries));
    s.extra["secrets"] = state::with_unknown_fields_of_entries(old("secrets"), std::move(secrets));
    s.extra["accounts"] =
        state::with_unknown_fields_of_entries(old("accounts"), std::move(accounts));
    s.extra["identity"] = std::move(identity);
}

void mask_secrets(state::State& s, const std::string& mask) {
    Records r = load_records(s);
    for (auto& [name, rec] : r.secrets)
        hide(rec.value, mask);
    for (auto& [name, rec] : r.accounts)
        hide(rec.password, mask);
    for (auto& [dir, entries] : r.identity)
        for (auto& [key, e] : entries)
            hide(e.password, mask);
    const auto before = s.extra;
    store_records(s, r);
    for (const char* key : {"secrets", "accounts", "identity"})
        if (!before.contains(key))
            s.extra.erase(key);
}

} // namespace fedi::account
