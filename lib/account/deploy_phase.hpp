#pragma once
// What `fedi deploy` does for secrets, accounts and identity directories, in two calls
// around the machine phases (kept here so deploy.cpp stays small):
//  - before the machines: choose missing values (saved to state), converge the
//    directories, and hand back each machine's secret files;
//  - after the machines activated: converge their accounts, then deliver the secrets
//    whose value only became known then (a password Mastodon made up).
#include "account/accounts.hpp"
#include "account/identity.hpp"
#include "host/secrets.hpp"
#include "session/session.hpp"

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace fedi::account {

struct BeforeMachines {
    std::map<std::string, std::vector<host::SecretFile>> files; // by machine
    std::vector<std::string> unresolved;                        // secrets waiting on accounts
    std::vector<IdentityResult> identity;
};

BeforeMachines before_machines(session::Session& s, const std::set<std::string>& machines);

// `current_files(machine)`: every secret file the machine received in this deploy (from
// all resource types), to which the late ones are added.
std::vector<AccountResult> after_machines(
    session::Session& s, const std::set<std::string>& activated, const BeforeMachines& before,
    const std::function<std::vector<host::SecretFile>(const std::string&)>& current_files);

} // namespace fedi::account
