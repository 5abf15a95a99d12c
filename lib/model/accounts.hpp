#pragma once
// Declared service admin accounts (`accounts.<name>`) and identity directories
// (`identity.<name>`, an LDAP directory fedi creates bind accounts and people in).
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace fedi::model {

class AttrSet;

struct Account {
    std::string name;
    std::string machine;  // where the service (and its admin command) runs
    std::string service;  // mastodon | pixelfed | peertube
    std::string username; // PeerTube: root (the only account its tools manage)
    std::string email;
    std::string role = "Owner"; // Mastodon role name
    std::string display_name;   // Pixelfed's "name" (default: the username)
};

struct IdentityUser {
    std::string uid;
    std::string email;
    std::string display_name; // cn (default: the uid)
};

struct IdentityDirectory {
    std::string name;
    std::string type = "ldap";
    std::string url; // ldap:// (StartTLS when startTLS = true) or ldaps://
    std::string base_dn;
    std::string bind_dn;            // the directory's administrator fedi binds as
    std::string bind_password_file; // on the deployer
    std::optional<std::string> ca_file;
    bool start_tls = false;
    std::string people_ou = "people";     // users go to uid=<uid>,ou=<people>,<base>
    std::string services_ou = "services"; // bind accounts: cn=<name>,ou=<services>,<base>
    std::map<std::string, IdentityUser> users;
    std::vector<std::string> services; // bind accounts for the services' LDAP login
    std::string user_dn(const std::string& uid) const;
    std::string service_dn(const std::string& name) const;
};

std::map<std::string, Account> parse_accounts(AttrSet& top, const nlohmann::json& evaluated);
std::map<std::string, IdentityDirectory> parse_identity(AttrSet& top,
                                                        const nlohmann::json& evaluated);

const std::vector<std::string>& account_services();

nlohmann::json to_json(const Account& a);
nlohmann::json to_json(const IdentityDirectory& d);

} // namespace fedi::model
