#pragma once
// A machine fedi can reach: the one place where an evaluated machine becomes a
// transport (an SSH session), and the operations every goal is made of.
#include "host/activation_protocol.hpp"
#include "host/machine_lock.hpp"
#include "host/secrets.hpp"
#include "model/deployment.hpp"
#include "model/goal.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace fedi::nix {
class LocalClosure;
}

namespace fedi::host {

struct ConnectSettings {
    model::SshTarget target;
    std::string label;                          // machine name, for messages
    std::vector<std::string> trusted_keys;      // recorded in state earlier
    std::vector<std::string> known_hosts_files; // empty: ~/.ssh/known_hosts
    bool accept_new_host_key = false;
    bool compress = false; // zlib on the SSH connection (slow links)
    std::chrono::seconds connect_timeout{15};
    std::chrono::seconds idle_timeout{300};
};

struct PushProgress {
    std::size_t paths_total = 0;  // paths of the closure (known once the push ends)
    std::size_t paths_sent = 0;   // paths the machine lacked and received
    std::uint64_t bytes_sent = 0; // everything written, protocol included
    std::uint64_t nar_bytes = 0;  // store path contents among them
};

// What the machine runs now, as far as fedi's business goes.
struct SystemStatus {
    std::string profile;           // what /nix/var/nix/profiles/system resolves to ("" if none)
    std::optional<int> generation; // its generation number
    std::string current;           // what /run/current-system resolves to ("" if none)
    // An activation waits for its confirmation (or fedi died before it came): the machine
    // reverts to what ran before in this many seconds (<= 0: it is reverting now).
    std::optional<long> reverts_in;
};

// The output of the command system_status() runs on the machine ("profile=...",
// "link=...", "current=..." lines), parsed.
SystemStatus parse_system_status(const std::string& out);

using LineHandler = std::function<void(const std::string&)>;

struct CommandResult {
    int exit_status = -1;
    std::string out;
    std::string err;
};

struct ActivationRequest {
    std::string system;                     // store path, already on the machine
    model::Goal goal = model::Goal::Switch; // switch, boot, test or dry-activate
    bool rollback = true;                   // a failed switch puts the previous generation back
    // switch/test: seconds the machine waits for a confirmation over a new connection
    // before it reverts by itself (0: no confirmation).
    int confirm_seconds = 0;
    LineHandler on_line; // activation output, line by line
    // Called once the new system runs and waits for confirmation (e.g. to run health
    // checks). Returns nothing to confirm, or why to abort (the machine then reverts).
    std::function<std::optional<std::string>()> on_waiting;
};

struct ActivationOutcome {
    // What the machine wrote ("ok", "failed 1, rolled back", ...), parsed.
    ActivationResult result;
    bool ok() const { return result.ok(); }
    bool rolled_back() const { return result.rolled_back; }
    std::size_t reconnects = 0; // times the connection was lost and taken up again
    // What the operator should know although the outcome is clear (e.g. the machine's
    // /var/lib could not be written, so the log and result were kept under /run).
    std::vector<std::string> warnings;
};

// The one place a deployment's machine becomes connection settings: its SSH target
// (given, or filled from its provider's outputs) and the host keys state trusts for it.
ConnectSettings settings_for(const model::Machine& m, std::vector<std::string> trusted_keys);

class Host {
  public:
    virtual ~Host() = default;
    // Connects, verifying the host key as settings say. Throws fedi::Error.
    static std::unique_ptr<Host> connect(const ConnectSettings& settings);

    // The host key, when it was accepted only because accept_new_host_key was set:
    // the caller records it in state so later runs trust it.
    virtual std::optional<std::string> newly_trusted_host_key() const = 0;

    // Sends the store paths of the closure that the machine lacks, in one stream. The
    // closure may be shared with other machines' pushes (queried once).
    virtual PushProgress push_closure(nix::LocalClosure& closure,
                                      const std::function<void(const PushProgress&)>& progress) = 0;
    PushProgress push_closure(const std::vector<std::string>& roots,
                              const std::function<void(const PushProgress&)>& progress);

    virtual SystemStatus system_status() = 0;

    // Makes kSecretsDir hold exactly `files` (each written atomically with its owner and
    // mode; undeclared files removed). With no files and no directory, does nothing.
    virtual SecretSyncResult sync_secrets(const std::vector<SecretFile>& files) = 0;

    // Runs a shell command on the machine.
    virtual CommandResult run(const std::string& command) = 0;
    // The same, handing over each output line as it arrives (still collected).
    virtual CommandResult run_streaming(const std::string& command, const LineHandler& on_out,
                                        const LineHandler& on_err) = 0;

    // Runs a shell command with `input` on its stdin: how secrets reach a command
    // (never in its command line, which `ps` shows).
    virtual CommandResult run_with_input(const std::string& command, const std::string& input) = 0;

    // What kSecretsDir holds: names, owners, modes (never contents).
    virtual std::vector<SecretInfo> list_secrets() = 0;

    // Activates a system detached from the SSH session (under systemd-run where the
    // machine has systemd, else in a session of its own), so a dropped connection does
    // not kill it: fedi follows its log, reconnects when the connection drops and picks
    // up the result the machine wrote. Throws only when the outcome cannot be known.
    virtual ActivationOutcome activate(const ActivationRequest& request) = 0;

    // Goes back to the generation before the current one (`fedi rollback`), detached
    // and followed like activate(); the outcome's result is "ok" or "failed ...".
    virtual ActivationOutcome rollback_generation(const LineHandler& on_line) = 0;

    // Takes the machine's lock (resources/host/lock.sh, on a connection of its own), held
    // until this Host is destroyed; `on_held` hears who holds it before fedi waits up to
    // `timeout` for it. Returns lock.sh's answer (a stale holder taken over, activations
    // still running); throws MachineLockHeld when it is not free in time. See
    // take_machine() (machine_lock.hpp), which callers use.
    virtual LockAnswer lock(const LockHolderRecord& me, std::chrono::seconds timeout,
                            const std::function<void(const LockHolderRecord&)>& on_held) = 0;

    // Follows activation `id`, started by another run, to its result without confirming
    // it; with `abort_reason`, asks it first to revert (it does while it waits for its
    // confirmation).
    virtual ActivationOutcome settle_activation(const std::string& id,
                                                const std::optional<std::string>& abort_reason,
                                                const LineHandler& on_line) = 0;
};

} // namespace fedi::host
