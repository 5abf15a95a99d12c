#pragma once
// The shell scripts fedi runs on machines. Their text is resources/host/*.sh, embedded
// into the binary at build time (cmake/EmbedFiles.cmake); the paths they use are
// placeholders ("@ACTIVATION_DIR@") filled in here from paths.hpp, so each path is
// defined once.
#include "host/paths.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace fedi::host {

enum class RemoteScript {
    Activate,             // activate.sh: runs one activation detached, writes its result
    Follow,               // follow.sh: follows an activation's log to its result
    SecretsSync,          // secrets-sync.sh: makes the secrets directory hold a stream's files
    PendingConfirmations, // pending-confirmations.sh: activations waiting to be confirmed
    PruneList,            // prune-list.sh: generations and activation logs, for pruning
    Lock,                 // lock.sh: takes and holds the machine's lock
    PlanProbe,            // plan-probe.sh: what `fedi plan` asks a machine, in one go
};

// Every script, and its file name in resources/host/.
const std::vector<RemoteScript>& all_remote_scripts();
std::string_view file_name(RemoteScript script);

// The values of the placeholders: fedi's paths on the machine (tests point them at
// scratch directories).
struct ScriptPaths {
    std::string activation_dir = kActivationDir;     // @ACTIVATION_DIR@
    std::string runtime_dir = kRuntimeActivationDir; // @RUNTIME_DIR@
    std::string lock_file = kMachineLock;            // @LOCK_FILE@
    std::string secrets_dir = kSecretsDir;           // @SECRETS_DIR@
    std::string profiles_dir = kProfilesDir;         // @PROFILES_DIR@
    std::string system_profile = kSystemProfile;     // @SYSTEM_PROFILE@
    std::string current_system = kCurrentSystem;     // @CURRENT_SYSTEM@
    std::string booted_system = kBootedSystem;       // @BOOTED_SYSTEM@
};

// The script's text with every placeholder replaced by its value, shell-quoted (each
// placeholder stands for one shell word). Throws fedi::Error naming the file when it
// uses a placeholder fedi does not know (a bug, caught by the unit tests).
std::string remote_script(RemoteScript script, const ScriptPaths& paths = {});

// The embedded text as it is in resources/host/ (placeholders left in).
std::string_view embedded_script_text(RemoteScript script);

} // namespace fedi::host
