#pragma once
// Service admin accounts: converged by `fedi deploy` on the machines it deployed, and
// handled one at a time by `fedi account ...`. Passwords live in state (0600); results
// carry a new password only for the caller to show once (on a terminal, or --reveal).
#include "account/records.hpp"
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

// Converges the accounts declared on `machines` (one connection per machine, through
// the session's connector; machines at once within its limits), recording each in state
// as soon as it is done.
std::vector<AccountResult> converge_accounts(session::Session& s,
                                             const std::set<std::string>& machines);

// ---- fedi account ...

struct AccountCommandOptions {
    session::ProjectOptions project;
    std::string name;
    std::string command_line; // for the state lock
};

struct AccountListing {
    std::string name;
    bool declared = false;
    std::string service;
    std::string machine;
    std::string username;
    std::string email;
    bool present = false;
    std::string created;
    std::string password_changed;
    std::string password; // "" when unknown; shown only with --reveal
};

std::vector<AccountListing> list_accounts(const session::ProjectOptions& project);
AccountListing show_account(const AccountCommandOptions& opts);
AccountResult create_account(const AccountCommandOptions& opts, ui::Events& ui);
AccountResult reset_account_password(const AccountCommandOptions& opts, ui::Events& ui);
AccountResult delete_account(const AccountCommandOptions& opts, ui::Events& ui);

nlohmann::json to_json(const AccountListing& a, bool reveal);
nlohmann::json to_json(const AccountResult& r, bool reveal);
std::string render_accounts(const std::vector<AccountListing>& list, bool color);
std::string render_account(const AccountListing& a, bool reveal);

} // namespace fedi::account
