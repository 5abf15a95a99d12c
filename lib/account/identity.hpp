#pragma once
// Identity directories: fedi makes the people and the services' bind accounts it is
// told about exist in the provider's LDAP directory, with the passwords kept in state.
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

nlohmann::json to_json(const IdentityResult& r);

} // namespace fedi::account
