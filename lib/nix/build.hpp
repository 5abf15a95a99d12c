#pragma once
// Building systems: every selected derivation in one Nix invocation, with the build
// log of each derivation kept apart so a failure can be shown for the machine it hurts.
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace fedi::nix {

struct BuildFailure {
    std::string drv_path;              // the derivation whose builder failed
    std::string message;               // Nix's error line
    std::vector<std::string> log_tail; // last lines of its build log
};

struct BuildOutcome {
    std::vector<std::string> built;        // output paths that are now valid
    std::vector<std::string> failed;       // output paths that are not
    std::vector<BuildFailure> failures;    // builder failures Nix reported
    std::vector<std::string> other_errors; // errors not tied to a derivation
};

// Where a build is, from Nix's own count of the derivations it has to build.
struct BuildProgress {
    long long done = 0;
    long long expected = 0; // done + still to build
    long long running = 0;
    long long failed = 0;
};

// Realises `drv_paths` (all at once, --keep-going) and checks which of `out_paths`
// became valid. `on_log` receives progress lines ("building foo") and every line the
// builders write ("foo> line"); `on_progress` each change of Nix's count. When the
// two lists pair up (out_paths[i] is an output of drv_paths[i]), derivations whose
// output is already valid are not realised: a deploy of built systems runs no build.
BuildOutcome build_systems(const std::vector<std::string>& drv_paths,
                           const std::vector<std::string>& out_paths,
                           const std::function<void(const std::string&)>& on_log = {},
                           std::size_t log_tail_lines = 25,
                           const std::function<void(const BuildProgress&)>& on_progress = {});

// The derivations a derivation depends on, itself included (to find which failure
// broke which machine).
std::vector<std::string> derivation_closure(const std::string& drv_path);

} // namespace fedi::nix
