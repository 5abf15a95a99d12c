#pragma once
// A machine fedi can reach: the one place where an evaluated machine becomes a
// transport (an SSH session), and the operations every goal is made of.
#include "model/deployment.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace fedi::host {

struct ConnectSettings {
    model::SshTarget target;
    std::string label;                          // machine name, for messages
    std::vector<std::string> trusted_keys;      // recorded in state earlier
    std::vector<std::string> known_hosts_files; // empty: ~/.ssh/known_hosts
    bool accept_new_host_key = false;
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
};

struct ActivationResult {
    int exit_status = -1;
};

using LineHandler = std::function<void(const std::string&)>;

class Host {
  public:
    virtual ~Host() = default;
    // Connects, verifying the host key as settings say. Throws fedi::Error.
    static std::unique_ptr<Host> connect(const ConnectSettings& settings);

    // The host key, when it was accepted only because accept_new_host_key was set:
    // the caller records it in state so later runs trust it.
    virtual std::optional<std::string> newly_trusted_host_key() const = 0;

    // Sends the store paths of `roots`' closure that the machine lacks, in one stream.
    virtual PushProgress push_closure(const std::vector<std::string>& roots,
                                      const std::function<void(const PushProgress&)>& progress) = 0;

    virtual SystemStatus system_status() = 0;

    // Points the system profile at `system` (a new generation) without activating.
    virtual void set_profile(const std::string& system) = 0;

    // Runs `system`/bin/switch-to-configuration `goal`, streaming its output lines.
    virtual ActivationResult switch_to_configuration(const std::string& system,
                                                     const std::string& goal,
                                                     const LineHandler& on_line) = 0;
};

} // namespace fedi::host
