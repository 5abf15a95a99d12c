#pragma once
// What fedi keeps in state for secrets, accounts and identity directories, under their
// own top-level keys ("secrets", "accounts", "identity") of the state file (0600).
// These records hold passwords: never log them, never print them unless asked.
#include "state/state.hpp"

#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace fedi::account {

// A value fedi generated for `secrets.<name>`.
struct SecretRecord {
    std::string value;
    std::string created;
};

// A service account fedi manages.
struct AccountRecord {
    std::string service;
    std::string machine;
    std::string username;
    std::string password; // "" when fedi does not know it (an account it did not create)
    bool present = false; // fedi saw it on the service
    std::string created;  // when fedi created it (or first saw it)
    std::string password_changed;
};

// A directory entry fedi manages (a person or a service's bind account).
struct EntryRecord {
    std::string dn;
    std::string password;
    bool present = false;
};

struct Records {
    std::map<std::string, SecretRecord> secrets;
    std::map<std::string, AccountRecord> accounts;
    // identity.<directory> -> "users.<uid>" / "services.<name>" -> entry
    std::map<std::string, std::map<std::string, EntryRecord>> identity;
};

Records load_records(const state::State& s);
void store_records(state::State& s, const Records& r);

// Replaces every secret these records hold (generated values, account and directory
// passwords) with `mask`, for `fedi state show` without --reveal. Records that are absent
// stay absent; an empty password (unknown) stays empty.
void mask_secrets(state::State& s, const std::string& mask);

nlohmann::json to_json(const AccountRecord& r);
AccountRecord account_from_json(const nlohmann::json& j);

// Keys in Records::identity.
std::string user_key(const std::string& uid);
std::string service_key(const std::string& name);

} // namespace fedi::account
