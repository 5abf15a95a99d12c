#include "account/identity.hpp"

#include "account/ldap.hpp"
#include "account/password.hpp"
#include "core/error.hpp"
#include "core/io.hpp"

#include <fmt/format.h>
#include <fstream>
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

// Creates or corrects one entry; the password is checked against the one in state.
IdentityResult converge_entry(LdapConnection& ldap, const LdapOptions& opts,
                              const std::string& directory, const Wanted& w, EntryRecord& rec) {
    IdentityResult r{directory, w.dn, w.kind, "", ""};
    std::vector<std::string> names = {"userPassword"};
    for (const auto& [k, v] : w.attrs)
        names.push_back(k);
    auto have = ldap.read(w.dn, names);
    if (!have) {
        auto attrs = w.attrs;
        attrs["userPassword"] = {ssha_hash(rec.password)};
        ldap.add(w.dn, attrs);
        rec.present = true;
        r.result = "created";
        return r;
    }
    LdapAttrs change;
    for (const auto& [k, v] : w.attrs) {
        if (k == "objectClass")
            continue; // structural classes cannot change in place; left as found
        auto it = have->find(k);
        if (it == have->end() || it->second != v)
            change[k] = v;
    }
    bool password_ok = false;
    if (auto it = have->find("userPassword"); it != have->end() && it->second.size() == 1) {
        const auto& stored = it->second.front();
        if (stored.rfind("{SSHA}", 0) == 0)
            password_ok = ssha_matches(stored, rec.password);
        else { // another scheme: ask the server
            LdapConnection probe(opts);
            password_ok = probe.try_bind(w.dn, rec.password);
        }
    }
    if (!password_ok)
        change["userPassword"] = {ssha_hash(rec.password)};
    if (!change.empty())
        ldap.replace(w.dn, change);
    rec.present = true;
    r.result = change.empty() ? "exists" : "updated";
    return r;
}

} // namespace

std::vector<IdentityResult> converge_directory(const model::IdentityDirectory& dir,
                                               Records& records) {
    std::vector<IdentityResult> out;
    LdapOptions opts;
    opts.url = dir.url;
    opts.ca_file = dir.ca_file;
    opts.start_tls = dir.start_tls;
    try {
        std::string origin = fmt::format("identity.{}.bindPasswordFile", dir.name);
        auto admin_password = read_password_file(dir.bind_password_file, origin);
        LdapConnection ldap(opts);
        ldap.bind(dir.bind_dn, admin_password);

        std::vector<Wanted> wanted;
        auto unit = [&](const std::string& ou) {
            std::string dn = fmt::format("ou={},{}", ou, dir.base_dn);
            if (!ldap.read(dn, {"ou"})) {
                ldap.add(dn, {{"objectClass", {"organizationalUnit"}}, {"ou", {ou}}});
                out.push_back({dir.name, dn, "unit", "created", ""});
            }
        };
        if (!dir.users.empty())
            unit(dir.people_ou);
        if (!dir.services.empty())
            unit(dir.services_ou);
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
        for (const auto& w : wanted) {
            auto& rec = records.identity[dir.name][w.key];
            try {
                out.push_back(converge_entry(ldap, opts, dir.name, w, rec));
            } catch (const Error& e) {
                out.push_back({dir.name, w.dn, w.kind, "failed", e.describe()});
            }
        }
    } catch (const Error& e) {
        out.push_back({dir.name, dir.base_dn, "directory", "failed", e.describe()});
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
