#pragma once
// The one place a deployment's machine becomes a connected host, with the same trust
// and transport settings for every command and phase (deploy, health checks, storage,
// accounts, exec, status, rollback).
#include "host/host.hpp"
#include "model/deployment.hpp"
#include "session/state_store.hpp"
#include "ui/events.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace fedi::session {

struct ConnectOptions {
    bool accept_new_host_keys = false; // trust a machine's first key and record it
    bool compress = false;             // zlib on the SSH connections (slow links)
    // How long to wait for a machine to answer; unset: the host's default. `fedi status`
    // waits less, so one unreachable machine does not hold up the table.
    std::optional<std::chrono::seconds> connect_timeout;
    // How long to wait for a machine another deployer holds locked (0: not at all).
    std::chrono::seconds lock_timeout{0};
    std::string command_line; // this fedi, recorded in the machines' locks
};

class Connector {
  public:
    virtual ~Connector() = default;
    // Connects to `m`, trusting the host keys state records for it. Throws fedi::Error.
    virtual std::unique_ptr<host::Host> connect(const model::Machine& m) = 0;
    // Connects to `m` to change it: its lock taken (held until the host is destroyed),
    // and activations an earlier fedi left running there settled first (see
    // host::take_machine; `system`: what this command activates). Throws
    // host::MachineLockHeld when another deployer holds it. Fakes need no lock.
    virtual std::unique_ptr<host::Host> connect_to_change(const model::Machine& m,
                                                          const std::optional<std::string>& system);
};

// SSH connections. A host key accepted only because accept_new_host_keys is set is
// recorded in `state` (when it is writable) and reported on `events`.
std::unique_ptr<Connector> ssh_connector(StateStore& state, ui::Events& events,
                                         ConnectOptions options);

} // namespace fedi::session
