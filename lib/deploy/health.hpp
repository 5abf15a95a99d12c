#pragma once
// Health checks after activation: commands run on the machine (over a connection of
// their own) and HTTP requests from the deployer, each retried until it passes.
#include "host/host.hpp"
#include "model/deployment.hpp"

#include <functional>
#include <optional>
#include <string>

namespace fedi::deploy {

// Runs every check of the machine in order. Returns nothing when all pass, else what
// failed (the check and its last answer). `connect` opens a new connection when a
// command check needs one; `log` receives progress lines.
std::optional<std::string>
run_health_checks(const model::Machine& machine,
                  const std::function<std::unique_ptr<host::Host>()>& connect,
                  const std::function<void(const std::string&)>& log);

} // namespace fedi::deploy
