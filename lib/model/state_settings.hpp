#pragma once
// meta.state: where the deployment's state is kept and how it is kept at rest. It is read
// before the state (the state's location and keys come from it), so it is evaluated on its
// own, without the resources the state records.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace fedi::model {

struct StateEncryption {
    std::vector<std::string> recipients;      // age X25519 public keys, "age1…"
    std::optional<std::string> identity_file; // an age identity on the deployer
};

struct StateSettings {
    // "postgresql://…", "s3://…", or a local file (absolute); unset: .fedi/state.json
    // beside the deployment file. `--state` overrides it.
    std::optional<std::string> url;
    StateEncryption encryption;
    bool allow_plaintext = false; // a remote state kept unencrypted, on purpose
    bool encrypted() const { return !encryption.recipients.empty(); }
};

// meta.state as evaluated (nix::evaluate_state_settings or within the whole deployment),
// at attribute path `path`; relative files are taken from `base_dir` (the deployment's
// directory). A usage error names the attribute path at fault.
StateSettings parse_state_settings(const nlohmann::json& value, const std::string& path,
                                   const std::string& base_dir);

// For `fedi eval`: no secret (a password in the URL is masked).
nlohmann::json to_json(const StateSettings& s);

// Whether `text` is an age X25519 recipient: "age1" and 58 bech32 characters.
bool valid_age_recipient(const std::string& text);

} // namespace fedi::model
