#pragma once
// `fedi cache`: the deployment's binary cache for operators. `info` counts what it
// holds; `gc` removes what the last N generations of the machines recorded in state no
// longer need; `push` uploads the closures of store paths (what `fedi deploy` does for
// the paths machines lack).
#include "session/session.hpp"
#include "ui/events.hpp"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace fedi::cache {

enum class CacheAction { Info, Gc, Push };

struct CacheOptions {
    // Locked for gc and push (no deploy uploads while gc deletes), read-only for info.
    session::SessionOptions session;
    CacheAction action = CacheAction::Info;
    int keep_generations = 0;       // gc: at least 1
    bool dry_run = false;           // gc: only say what would go
    std::vector<std::string> paths; // push: store paths or links to them (./result)
};

nlohmann::json run_cache_command(const CacheOptions& opts, ui::Events& events);
// The same on an open session (writable for gc and push).
nlohmann::json run_cache_command(session::Session& s, const CacheOptions& opts);

// The result for a terminal.
std::string render_cache_result(CacheAction action, const nlohmann::json& result);

} // namespace fedi::cache
