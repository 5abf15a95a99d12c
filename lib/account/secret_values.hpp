#pragma once
// From declared secrets to the files each machine receives: values fedi chooses are
// created and recorded first; files and commands on the deployer are read when a deploy
// needs them (never cached in state); account and directory passwords come from state.
#include "account/records.hpp"
#include "host/secrets.hpp"
#include "model/deployment.hpp"

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace fedi::account {

// Creates what fedi chooses and has not chosen yet: generated secret values, the
// passwords of accounts whose service takes its password from fedi (Pixelfed, PeerTube)
// and of directory entries. Returns true when `r` changed (save it before using them).
bool choose_missing(const model::Deployment& d, Records& r);

// The first half of choose_missing, choosing nothing: forgets what no longer matches the
// declarations (generated values no longer declared or of another length, accounts
// declared differently, directory entries whose DN moved). Returns true when `r` changed.
// A plan applies it to a copy of the records to see which values a deploy would choose.
bool forget_stale(const model::Deployment& d, Records& r);

struct MachineSecrets {
    std::map<std::string, std::vector<host::SecretFile>> files; // by machine
    // Secrets whose value is not known yet (an account the service has not created):
    // left out now, delivered once it is.
    std::vector<std::string> unresolved;
    // Every file left out because its value is not known: machine -> (file name, origin).
    std::map<std::string, std::vector<std::pair<std::string, std::string>>> unknown;
};

// The secret files of `machines`. Throws (naming the secret) when a file or command
// source fails; its output is never part of the message.
MachineSecrets secret_files(const model::Deployment& d, const std::set<std::string>& machines,
                            const Records& r);

// The same, reading `r` as it is: a generated value not chosen yet is left out (listed
// unknown) instead of being an error. For plans, which choose nothing.
MachineSecrets planned_secret_files(const model::Deployment& d,
                                    const std::set<std::string>& machines, const Records& r);

// The file a PeerTube account's password reaches its service through:
// PT_INITIAL_ROOT_PASSWORD in the service's EnvironmentFile.
std::string peertube_env_file(const std::string& account);

// "NAME=value\n" for an EnvironmentFile (systemd) or a dotenv file; the value is quoted
// when it needs to be. Throws for a value with a newline.
std::string environment_line(const std::string& variable, const std::string& value,
                             const std::string& origin);

} // namespace fedi::account
