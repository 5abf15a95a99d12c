#pragma once
// Which Nix fedi would run: the `nix` found on PATH, as it names itself.
#include <optional>
#include <string>

namespace fedi::nix {

// The first line of `nix --version` (e.g. "nix (Nix) 2.8.0"), or nothing when no `nix`
// can be run or it fails.
std::optional<std::string> installed_nix_version();

} // namespace fedi::nix
