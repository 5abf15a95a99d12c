#pragma once
// Identity directories: fedi makes the people and the services' bind accounts it is
// told about exist in the provider's LDAP directory, with the passwords kept in state.
#include "account/ldap.hpp"
#include "account/records.hpp"
#include "model/accounts.hpp"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace fedi::account {

struct IdentityResult {
    std::string directory;
    std::string dn;
    std::string kind;   // user, service, unit
    std::string result; // created, exists, updated, failed
    std::string error;
    bool ok() const { return result != "failed"; }
};

// Converges one directory. `records` must hold the entries' passwords (choose_missing);
// entries found or made are marked present in it.
std::vector<IdentityResult> converge_directory(const model::IdentityDirectory& dir,
                                               Records& records);

// What converging a directory would change, asked read-only (a search, and a bind when
// a password is stored in a scheme fedi cannot check itself): the units and entries
// missing, and the entries whose attributes or password differ. Entries already as
// declared are left out. Throws when the directory cannot be reached or bound to.
struct EntryDrift {
    std::string directory;
    std::string dn;
    std::string kind;                 // user, service, unit
    bool exists = false;              // false: it would be created
    std::vector<std::string> differs; // attribute names ("mail"; "userPassword")
};
std::vector<EntryDrift> directory_drift(const model::IdentityDirectory& dir,
                                        const Records& records);

// The declared attributes an existing entry lacks or has other values of (objectClass
// aside: structural classes cannot change in place). Exposed for tests.
LdapAttrs attributes_to_change(const LdapAttrs& wanted, const LdapAttrs& have);

nlohmann::json to_json(const IdentityResult& r);

} // namespace fedi::account
