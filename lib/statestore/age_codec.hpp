#pragma once
// State encrypted at rest with the age format (https://age-encryption.org/v1), to one or
// more X25519 recipients, by running the `age` tool: an operator reads the same bytes by
// hand with `age -d -i KEY`. Identities come from a file or from the environment; a key
// given in the environment reaches age on its stdin, never in its arguments or a file.
#include "statestore/codec.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace fedi::statestore {

// An identity file and who named it ("FEDI_AGE_IDENTITY_FILE",
// "meta.state.encryption.identityFile"), for messages.
struct AgeIdentityFile {
    std::string path;
    std::string origin;
};

// What can decrypt the state. All of them are offered to age.
struct AgeIdentities {
    std::optional<std::string> key; // the identity itself (FEDI_AGE_IDENTITY)
    std::vector<AgeIdentityFile> files;
    bool empty() const { return !key && files.empty(); }
};

struct AgeOptions {
    std::vector<std::string> recipients; // "age1…"; at least one
    AgeIdentities identities;
    // Told once when plain state is read: the next write encrypts it.
    std::function<void(const std::string&)> on_notice;
};

// FEDI_AGE_IDENTITY and FEDI_AGE_IDENTITY_FILE from the environment, then `deployment_file`
// (meta.state.encryption.identityFile) when the deployment names one.
AgeIdentities age_identities_from_environment(const std::optional<std::string>& deployment_file);

// What to give to read an encrypted state, for messages.
std::string age_identity_hint();

std::unique_ptr<Codec> age_codec(AgeOptions options);

} // namespace fedi::statestore
