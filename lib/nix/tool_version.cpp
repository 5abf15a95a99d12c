#include "nix/tool_version.hpp"

#include "core/error.hpp"
#include "core/process.hpp"

namespace fedi::nix {

std::optional<std::string> installed_nix_version() {
    try {
        auto r = run_process({"nix", "--version"});
        std::string line = r.out.substr(0, r.out.find('\n'));
        if (!r.ok() || line.empty())
            return std::nullopt;
        return line;
    } catch (const Error&) { // not on PATH, or cannot be started
        return std::nullopt;
    }
}

} // namespace fedi::nix
