#pragma once
// Evaluating deployment.nix with the Nix on this machine (`nix eval`, which Debian's
// Nix 2.8 and current releases both have behind the nix-command feature flag).
#include <nlohmann/json.hpp>
#include <string>

namespace fedi::nix {

// Evaluates the deployment file (an attribute set, or a function `{ resources, ... }:`
// that receives `resources`) into plain JSON: derivations become
// {"__fedi":"derivation","drvPath","outputPath","name"} (their .drv files are written to
// the store), Nix paths become {"__fedi":"path","value"} WITHOUT being copied to the
// store (they may name secrets), functions become {"__fedi":"function"}.
// A Nix error (syntax, type, missing file) is a usage error carrying Nix's message.
nlohmann::json evaluate_deployment(const std::string& file, const nlohmann::json& resources);

// meta.state of the deployment file alone (null when it has none), evaluated before the
// state is read: a deployment function is called with empty resources.
nlohmann::json evaluate_state_settings(const std::string& file);

// Options every Nix call of fedi's uses (experimental features for `nix`).
std::vector<std::string> nix_command(std::vector<std::string> args);

} // namespace fedi::nix
