#pragma once
// The command lines fedi runs on a machine, built by small pure functions so that each
// is tested to the exact string (test_host_remote_commands.cpp). Paths come from
// paths.hpp; the longer scripts are files (remote_scripts.hpp).
#include <cstddef>
#include <string>
#include <string_view>

namespace fedi::host {

// Where the script `file` ("activate.sh") with this content is installed:
// content-addressed names, so an old fedi's scripts never get in the way of a newer one's.
std::string installed_script_path(std::string_view file, const std::string& content);
// Installs stdin at `path` (atomically; nothing when it exists already), making the
// activation directory on the way.
std::string install_script_command(const std::string& path);

struct ActivationCommand {
    std::string script; // the installed activate.sh
    std::string id;     // the activation's id (activation_id())
    std::string system; // the store path, or "-" for the "rollback" goal
    std::string goal;   // switch, boot, test, dry-activate, rollback
    bool rollback = true;
    int confirm_seconds = 0;
};
// Starts activate.sh detached from the SSH session: under systemd-run where the machine
// has systemd, else in a session of its own.
std::string start_activation_command(const ActivationCommand& a);
// Runs the installed follow.sh for activation `id`, from log line `lines` + 1 on (its
// token goes on stdin).
std::string follow_command(const std::string& script, const std::string& id, std::size_t lines);
// Confirms activation `id`; or asks it to revert, with the reason on stdin.
std::string confirm_command(const std::string& id);
std::string abort_command(const std::string& id);

// Prints "profile=...", "link=...", "current=..." lines (parse_system_status).
std::string system_status_command();
// system_status_command, a marker line, then what `pending_script` prints (the script of
// pending_confirmations_command()): one command, so one channel and its round trips
// instead of two. Its exit status is the script's.
std::string machine_status_command(const std::string& pending_script);
struct MachineStatusOutput {
    std::string status;  // for parse_system_status
    std::string pending; // for parse_pending_confirmations
};
// Splits the output of machine_status_command; throws when the marker is missing.
MachineStatusOutput split_machine_status(const std::string& out);
// Prints how full /var/lib and /run are ("/var/lib 100% in use, /run 3% in use").
std::string disk_usage_command();

// Runs secrets-sync.sh; with no files to write, only where the directory exists (so a
// machine that never had secrets gets no directory).
std::string secret_sync_command(bool any_files);

} // namespace fedi::host
