#pragma once
// The parts a plan is made of, each found without changing anything: provisioning,
// storage, declared secrets, accounts, and each machine's system and secret files. The
// planner (planner.cpp) puts them together; each part lives in a file of its own.
#include "host/host.hpp"
#include "nix/store.hpp"
#include "plan/plan.hpp"
#include "session/session.hpp"

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace fedi::plan {

// --- provisioning (provision_part.cpp) ---
struct ProvisionParts {
    std::map<std::string, ProvisionPlan> machines; // every selected machine
    std::vector<std::string> destroyed; // provisioned by fedi, no longer in the deployment
    std::map<std::string, std::string>
        observed; // "vm.<machine>" → digest of what the provider read
    std::vector<std::string> errors;
};
// Asks the providers about the machines `on` selects (changing nothing) and gives the
// session the deployment evaluated with the outputs of the machines that exist.
ProvisionParts plan_provisioning(session::Session& s, const std::vector<std::string>& on);

// --- storage (storage_part.cpp) ---
struct StorageParts {
    StoragePlan plan;
    // Key files machines would receive for keys that exist already (compared with what
    // the machine has), and the names of the files of keys that would be made first.
    std::map<std::string, std::vector<host::SecretFile>> key_files;
    std::map<std::string, std::vector<std::string>> keys_to_make; // machine → file names
    std::map<std::string, std::string> observed; // "bucket.<storage>.<name>", "cluster.<storage>"
    std::vector<std::string> errors;
};
StorageParts plan_storage(session::Session& s, const std::set<std::string>& storages);

// --- declared secrets and accounts (secrets_part.cpp, accounts_part.cpp) ---
struct DeclaredSecrets {
    std::map<std::string, std::vector<host::SecretFile>> files; // by machine, values known
    // Files whose value a deploy would choose or learn first (a generated secret not
    // made yet, a password a service makes up): machine → (file name, origin).
    std::map<std::string, std::vector<std::pair<std::string, std::string>>> made_at_deploy;
    std::vector<std::string> errors;
};
// What deploying `machines` would put in their secrets directories, without choosing or
// saving any value.
DeclaredSecrets declared_secrets(session::Session& s, const std::set<std::string>& machines);

// A file of the machine's secrets directory, as the machine describes it.
struct SecretFacts {
    std::string name;
    std::string owner;
    std::string group;
    unsigned mode = 0;
    std::string sha256; // of the content, computed on the machine (hex)
};
// The secrets plan of one machine: `declared` files (values known), the ones made at
// deploy, against what it has.
std::vector<SecretPlan>
diff_secrets(const std::vector<host::SecretFile>& declared,
             const std::vector<std::pair<std::string, std::string>>& made_at_deploy,
             const std::vector<SecretFacts>& present);

// Service accounts of `machines` a deploy would create (asking the machines, changing
// nothing), and why a machine could not be asked (machine → error): the others' accounts
// are planned all the same.
struct AccountsPart {
    std::vector<AccountPlan> accounts;
    std::map<std::string, std::string> machine_errors;
};
AccountsPart plan_accounts(session::Session& s, const std::set<std::string>& machines);
std::vector<AccountPlan> plan_directory(session::Session& s);

// --- one machine's system (machine_probe.cpp, system_part.cpp) ---
struct MachineFacts {
    host::SystemStatus status;
    // The closure of what it runs now: path → NAR size.
    std::map<std::string, std::uint64_t> current_closure;
    std::vector<std::string> missing; // paths of the new closure it lacks
    std::vector<SecretFacts> secrets; // its secrets directory
};
// Everything the plan needs from a machine, in one remote command (one round trip).
MachineFacts probe_machine(host::Host& h, const std::vector<std::string>& new_closure);
// The same, knowing the system planned: a machine that runs it already answers with one
// store query instead of three (and no running closure: no diff is needed then).
MachineFacts probe_machine(host::Host& h, const std::string& system,
                           const std::vector<std::string>& new_closure);

// The system plan of a machine from what it said (`facts`: nullopt for a machine that
// does not exist yet: everything is sent, nothing to compare with).
SystemPlan plan_system(const std::string& system, model::Goal goal,
                       const std::optional<MachineFacts>& facts, nix::LocalClosure& closure);

} // namespace fedi::plan
