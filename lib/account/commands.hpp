#pragma once
// `fedi account ...`: one account at a time, outside a deploy. Each command opens a
// session (the state locked for those that change an account) and reaches the account's
// machine through the session's connector, as deploy does.
#include "account/accounts.hpp"
#include "session/session.hpp"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace fedi::account {

struct AccountCommandOptions {
    session::SessionOptions session;
    std::string name;
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

// Declared accounts and the ones state records, by name.
std::vector<AccountListing> list_accounts(const session::SessionOptions& opts, ui::Events& ui);
AccountListing show_account(const AccountCommandOptions& opts, ui::Events& ui);
AccountResult create_account(const AccountCommandOptions& opts, ui::Events& ui);
AccountResult reset_account_password(const AccountCommandOptions& opts, ui::Events& ui);
AccountResult delete_account(const AccountCommandOptions& opts, ui::Events& ui);

// The same on an open session (writable for create, reset-password and delete).
std::vector<AccountListing> list_accounts(session::Session& s);
AccountResult create_account(session::Session& s, const std::string& name);
AccountResult reset_account_password(session::Session& s, const std::string& name);
AccountResult delete_account(session::Session& s, const std::string& name);

nlohmann::json to_json(const AccountListing& a, bool reveal);
std::string render_accounts(const std::vector<AccountListing>& list, bool color);
std::string render_account(const AccountListing& a, bool reveal);

} // namespace fedi::account
