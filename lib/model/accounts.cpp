#include "model/accounts.hpp"

#include "model/attrs.hpp"

#include <fmt/format.h>
#include <regex>

namespace fedi::model {

namespace {

const std::regex& resource_name_re() {
    static const std::regex re("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$");
    return re;
}

Account parse_account(const std::string& name, AttrSet a) {
    Account acc;
    acc.name = name;
    acc.machine = a.required_string("machine");
    acc.service = a.required_string("service");
    const auto& services = account_services();
    if (std::find(services.begin(), services.end(), acc.service) == services.end())
        a.fail("service",
               fmt::format("unknown service \"{}\" (expected mastodon, pixelfed or peertube)",
                           acc.service));
    acc.username = a.optional_string("username").value_or(acc.service == "peertube" ? "root" : "");
    if (acc.username.empty())
        a.fail("username", "missing (a string is required)");
    // Usernames go to the services' admin commands as single shell words; keep them to
    // what every one of the three accepts.
    static const std::regex user_re("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,49}$");
    if (!std::regex_match(acc.username, user_re))
        a.fail("username", "invalid username (letters, digits, '_', '.', '-')");
    if (acc.service == "peertube" && acc.username != "root")
        a.fail("username", "PeerTube's command-line tools manage only its administrator, "
                           "\"root\" (created by the service at its first start)");
    auto email = a.optional_string("email");
    if (!email && acc.service != "peertube")
        a.fail("email", "missing (the service requires an e-mail address)");
    acc.email = email.value_or(""); // syntax: model/checks
    acc.role = a.optional_string("role").value_or("Owner");
    if (acc.service != "mastodon" && a.has("role"))
        a.fail("role", "only Mastodon accounts take a role");
    if (!std::regex_match(acc.role, std::regex("^[A-Za-z][A-Za-z0-9 _-]{0,63}$")))
        a.fail("role", "invalid role name");
    acc.display_name = a.optional_string("displayName").value_or(acc.username);
    if (acc.display_name.find('\n') != std::string::npos)
        a.fail("displayName", "must be one line");
    a.finish();
    return acc;
}

std::string rdn_value(AttrSet& a, const std::string& attr, const std::string& fallback) {
    auto v = a.optional_string(attr).value_or(fallback);
    static const std::regex re("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$");
    if (!std::regex_match(v, re))
        a.fail(attr, "expected a plain name (letters, digits, '.', '_', '-')");
    return v;
}

IdentityDirectory parse_directory(const std::string& name, AttrSet a) {
    IdentityDirectory d;
    d.name = name;
    d.type = a.optional_string("type").value_or("ldap");
    if (d.type != "ldap")
        a.fail("type", fmt::format("unknown type \"{}\" (expected ldap)", d.type));
    d.url = a.required_string("url");
    if (d.url.rfind("ldap://", 0) != 0 && d.url.rfind("ldaps://", 0) != 0)
        a.fail("url", "expected an ldap:// or ldaps:// URL");
    d.base_dn = a.required_string("baseDN");
    d.bind_dn = a.required_string("bindDN");
    auto pw = a.optional_file("bindPasswordFile");
    if (!pw)
        a.fail("bindPasswordFile", "missing (a file on the deployer holding the password of "
                                   "bindDN; never the password itself)");
    d.bind_password_file = *pw;
    d.ca_file = a.optional_file("caFile");
    d.start_tls = a.optional_bool("startTLS").value_or(false);
    if (d.start_tls && d.url.rfind("ldaps://", 0) == 0)
        a.fail("startTLS", "ldaps:// is TLS already");
    d.people_ou = rdn_value(a, "peopleOU", "people");
    d.services_ou = rdn_value(a, "servicesOU", "services");
    if (auto users = a.optional_set("users")) {
        for (const auto& [uid, value] : (*a.get("users")).items()) {
            users->get(uid);
            if (!std::regex_match(uid, std::regex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")))
                users->fail(uid, "invalid uid (letters, digits, '.', '_', '-')");
            AttrSet u(value, users->child_path(uid));
            IdentityUser user;
            user.uid = uid;
            user.email = u.required_string("email");
            user.display_name = u.optional_string("displayName").value_or(uid);
            u.finish();
            d.users.emplace(uid, user);
        }
        users->finish();
    }
    d.services = a.string_list("services");
    for (std::size_t i = 0; i < d.services.size(); ++i)
        if (!std::regex_match(d.services[i], resource_name_re()))
            a.fail(fmt::format("services.{}", i), "invalid name (letters, digits, '.', '_', '-')");
    a.finish();
    return d;
}

} // namespace

const std::vector<std::string>& account_services() {
    static const std::vector<std::string> s = {"mastodon", "pixelfed", "peertube"};
    return s;
}

std::string IdentityDirectory::user_dn(const std::string& uid) const {
    return fmt::format("uid={},ou={},{}", uid, people_ou, base_dn);
}

std::string IdentityDirectory::service_dn(const std::string& n) const {
    return fmt::format("cn={},ou={},{}", n, services_ou, base_dn);
}

namespace {

// Every `<section>.<name>` parsed by `parse`; `what` names an entry in errors.
template <typename T>
std::map<std::string, T> parse_section(AttrSet& top, const nlohmann::json& evaluated,
                                       const std::string& section, const std::string& what,
                                       T (*parse)(const std::string&, AttrSet)) {
    std::map<std::string, T> out;
    auto set = top.optional_set(section);
    if (!set)
        return out;
    for (const auto& [name, value] : evaluated[section].items()) {
        set->get(name);
        if (!std::regex_match(name, resource_name_re()))
            set->fail(name, "invalid " + what + " name (letters, digits, '.', '_' and '-')");
        out.emplace(name, parse(name, AttrSet(value, set->child_path(name))));
    }
    return out;
}

} // namespace

std::map<std::string, Account> parse_accounts(AttrSet& top, const nlohmann::json& evaluated) {
    return parse_section(top, evaluated, "accounts", "account", parse_account);
}

std::map<std::string, IdentityDirectory> parse_identity(AttrSet& top,
                                                        const nlohmann::json& evaluated) {
    return parse_section(top, evaluated, "identity", "directory", parse_directory);
}

nlohmann::json to_json(const Account& a) {
    nlohmann::json j = {{"machine", a.machine},
                        {"service", a.service},
                        {"username", a.username},
                        {"email", a.email}};
    if (a.service == "mastodon")
        j["role"] = a.role;
    if (a.service == "pixelfed")
        j["displayName"] = a.display_name;
    return j;
}

nlohmann::json to_json(const IdentityDirectory& d) {
    nlohmann::json users = nlohmann::json::object();
    for (const auto& [uid, u] : d.users)
        users[uid] = {{"dn", d.user_dn(uid)}, {"email", u.email}, {"displayName", u.display_name}};
    nlohmann::json services = nlohmann::json::object();
    for (const auto& s : d.services)
        services[s] = {{"dn", d.service_dn(s)}};
    nlohmann::json j = {{"type", d.type},          {"url", d.url},
                        {"baseDN", d.base_dn},     {"bindDN", d.bind_dn},
                        {"startTLS", d.start_tls}, {"bindPasswordFile", d.bind_password_file},
                        {"users", users},          {"services", services}};
    j["caFile"] = d.ca_file ? nlohmann::json(*d.ca_file) : nlohmann::json();
    return j;
}

} // namespace fedi::model
