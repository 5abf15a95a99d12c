#include "account/identity.hpp"

#include "account/ldap.hpp"
#include "account/password.hpp"
#include "core/error.hpp"
#include "core/io.hpp"

#include <fmt/format.h>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>

namespace fedi::account {

namespace {

std::string read_password_file(const std::string& path, const std::string& origin) {
    std::string s = read_whole_file(path, origin);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
        s.pop_back();
    return s;
}

std::string first_rdn_value(const std::string& dn) {
    auto eq = dn.find('=');
    auto comma = dn.find(',');
    return dn.substr(eq + 1, comma - eq - 1);
}

struct Wanted {
    std::string dn;
    std::string kind;
    std::string key; // in Records::identity[dir]
    LdapAttrs attrs; // without userPassword
};

// The people and bind accounts the directory declares, as entries.
std::vector<Wanted> wanted_entries(const model::IdentityDirectory& dir) {
    std::vector<Wanted> wanted;
    for (const auto& [uid, u] : dir.users)
        wanted.push_back({dir.user_dn(uid),
                          "user",
                          user_key(uid),
                          {{"objectClass", {"inetOrgPerson"}},
                           {"uid", {uid}},
                           {"cn", {u.display_name}},
                           {"sn", {u.display_name}},
                           {"mail", {u.email}}}});
    for (const auto& s : dir.services)
        wanted.push_back({dir.service_dn(s),
                          "service",
                          service_key(s),
                          {{"objectClass", {"applicationProcess", "simpleSecurityObject"}},
                           {"cn", {first_rdn_value(dir.service_dn(s))}},
                           {"description", {"bind account of " + s + " (made by fedi)"}}}});
    return wanted;
}

// The organisational units the entries go in: (DN, ou).
std::vector<std::pair<std::string, std::string>> wanted_units(const model::IdentityDirectory& dir) {
    std::vector<std::pair<std::string, std::string>> units;
    if (!dir.users.empty())
        units.emplace_back(fmt::format("ou={},{}", dir.people_ou, dir.base_dn), dir.people_ou);
    if (!dir.services.empty())
        units.emplace_back(fmt::format("ou={},{}", dir.services_ou, dir.base_dn), dir.services_ou);
    return units;
}

std::optional<LdapAttrs> read_entry(LdapConnection& ldap, const Wanted& w) {
    std::vector<std::string> names = {"userPassword"};
    for (const auto& [k, v] : w.attrs)
        names.push_back(k);
    return ldap.read(w.dn, names);
}

// Whether the entry's userPassword is `password` (asking the server for a scheme other
// than {SSHA}: a bind, which changes nothing). An unknown password never matches.
bool password_matches(const LdapOptions& opts, const std::string& dn, const LdapAttrs& have,
                      const std::string& password) {
    auto it = have.find("userPassword");
    if (password.empty() || it == have.end() || it->second.size() != 1)
        return false;
    const auto& stored = it->second.front();
    if (stored.rfind("{SSHA}", 0) == 0)
        return ssha_matches(stored, password);
    LdapConnection probe(opts);
    return probe.try_bind(dn, password);
}

// Creates or corrects one entry; the password is checked against the one in state.
IdentityResult converge_entry(LdapConnection& ldap, const LdapOptions& opts,
                              const std::string& directory, const Wanted& w, EntryRecord& rec) {
    IdentityResult r{directory, w.dn, w.kind, "", ""};
    auto have = read_entry(ldap, w);
    if (!have) {
        auto attrs = w.attrs;
        attrs["userPassword"] = {ssha_hash(rec.password)};
        ldap.add(w.dn, attrs);
        rec.present = true;
        r.result = "created";
        return r;
    }
    LdapAttrs change = attributes_to_change(w.attrs, *have);
    if (!password_matches(opts, w.dn, *have, rec.password))
        change["userPassword"] = {ssha_hash(rec.password)};
    if (!change.empty())
        ldap.replace(w.dn, change);
    rec.present = true;
    r.result = change.empty() ? "exists" : "updated";
    return r;
}

LdapOptions options_of(const model::IdentityDirectory& dir) {
    LdapOptions opts;
    opts.url = dir.url;
    opts.ca_file = dir.ca_file;
    opts.start_tls = dir.start_tls;
    return opts;
}

// Connects and binds as the directory's administrator.
std::unique_ptr<LdapConnection> bind_admin(const model::IdentityDirectory& dir,
                                           const LdapOptions& opts) {
    std::string origin = fmt::format("identity.{}.bindPasswordFile", dir.name);
    auto admin_password = read_password_file(dir.bind_password_file, origin);
    auto ldap = std::make_unique<LdapConnection>(opts);
    ldap->bind(dir.bind_dn, admin_password);
    return ldap;
}

} // namespace

LdapAttrs attributes_to_change(const LdapAttrs& wanted, const LdapAttrs& have) {
    LdapAttrs change;
    for (const auto& [k, v] : wanted) {
        if (k == "objectClass")
            continue; // structural classes cannot change in place; left as found
        auto it = have.find(k);
        if (it == have.end() || it->second != v)
            change[k] = v;
    }
    return change;
}

std::vector<IdentityResult> converge_directory(const model::IdentityDirectory& dir,
                                               Records& records) {
    std::vector<IdentityResult> out;
    auto opts = options_of(dir);
    try {
        auto ldap = bind_admin(dir, opts);
        for (const auto& [dn, ou] : wanted_units(dir)) {
            if (!ldap->read(dn, {"ou"})) {
                ldap->add(dn, {{"objectClass", {"organizationalUnit"}}, {"ou", {ou}}});
                out.push_back({dir.name, dn, "unit", "created", ""});
            }
        }
        for (const auto& w : wanted_entries(dir)) {
            auto& rec = records.identity[dir.name][w.key];
            try {
                out.push_back(converge_entry(*ldap, opts, dir.name, w, rec));
            } catch (const Error& e) {
                out.push_back({dir.name, w.dn, w.kind, "failed", e.describe()});
            }
        }
    } catch (const Error& e) {
        out.push_back({dir.name, dir.base_dn, "directory", "failed", e.describe()});
    }
    return out;
}

std::vector<EntryDrift> directory_drift(const model::IdentityDirectory& dir,
                                        const Records& records) {
    std::vector<EntryDrift> out;
    auto opts = options_of(dir);
    auto ldap = bind_admin(dir, opts);
    for (const auto& [dn, ou] : wanted_units(dir))
        if (!ldap->read(dn, {"ou"}))
            out.push_back({dir.name, dn, "unit", false, {}});
    const auto entries = records.identity.find(dir.name);
    for (const auto& w : wanted_entries(dir)) {
        std::string password;
        if (entries != records.identity.end())
            if (auto e = entries->second.find(w.key); e != entries->second.end())
                password = e->second.password;
        auto have = read_entry(*ldap, w);
        if (!have) {
            out.push_back({dir.name, w.dn, w.kind, false, {}});
            continue;
        }
        EntryDrift d{dir.name, w.dn, w.kind, true, {}};
        for (const auto& [k, v] : attributes_to_change(w.attrs, *have))
            d.differs.push_back(k);
        if (!password_matches(opts, w.dn, *have, password))
            d.differs.push_back("userPassword");
        if (!d.differs.empty())
            out.push_back(std::move(d));
    }
    return out;
}

nlohmann::json to_json(const IdentityResult& r) {
    nlohmann::json j = {
        {"directory", r.directory}, {"dn", r.dn}, {"kind", r.kind}, {"result", r.result}};
    if (!r.error.empty())
        j["error"] = r.error;
    return j;
}

} // namespace fedi::account
