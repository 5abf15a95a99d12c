#pragma once
// Service admin accounts: converged by `fedi deploy` on the machines it deployed, and
// handled one at a time by `fedi account ...`. Passwords live in state (0600); results
// carry a new password only for the caller to show once (on a terminal, or --reveal).
#include "account/records.hpp"
#include "account/services.hpp"
#include "host/host.hpp"
#include "model/deployment.hpp"
#include "session/project.hpp"
#include "session/session.hpp"
#include "state/state.hpp"
#include "ui/output.hpp"

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace fedi::account {

struct AccountResult {
    std::string name;
    std::string service;
    std::string machine;
    std::string username;
    // created, exists, failed, skipped, password reset, deleted
    std::string result;
    std::string error;
    std::optional<std::string> new_password; // never logged; printed only as asked
    bool ok() const { return result != "failed"; }
};

// A result naming the account, its service, machine and username (no outcome yet).
AccountResult result_for(const model::Account& a);

// Records in state what a driver did to an account.
void record_ensured(session::StateStore& st, const model::Account& a, const Ensured& e);

// Converges one account on its connected machine and records it; a failure is the
// result's (reported on `ui`), not thrown.
AccountResult converge_one(host::Host& h, const model::Account& a, session::StateStore& st,
                           ui::Events& ui);

// Converges the accounts declared on `machines` (one connection per machine, through
// the session's connector; machines at once within its limits), recording each in state
// as soon as it is done.
std::vector<AccountResult> converge_accounts(session::Session& s,
                                             const std::set<std::string>& machines);

nlohmann::json to_json(const AccountResult& r, bool reveal);

} // namespace fedi::account
