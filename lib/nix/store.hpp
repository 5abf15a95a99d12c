#pragma once
// Queries on the local Nix store, through the `nix-store` CLI (commands that exist in
// Nix 2.8 as in current Nix), for what a closure transfer needs to know.
#include <cstdint>
#include <string>
#include <vector>

namespace fedi::nix {

struct PathInfo {
    std::string path;                    // /nix/store/...
    std::string nar_hash;                // sha256 of the NAR, base16 (as the database gives it)
    std::uint64_t nar_size = 0;          // bytes of the NAR
    std::string deriver;                 // the .drv, or empty
    std::vector<std::string> references; // sorted; may contain `path` itself
    bool operator==(const PathInfo&) const = default;
};

// Every path of the closure of `roots` (store paths, or symlinks to them such as
// ./result), references before referrers. Two `nix-store` invocations whatever the
// closure size (more only past ~1 MB of paths, the command-line limit).
std::vector<PathInfo> query_closure(const std::vector<std::string>& roots);

// Parses `nix-store --dump-db PATHS` output: per path, its path, narHash, narSize,
// deriver (empty line if none), the number of references, then the references.
std::vector<PathInfo> parse_dump_db(const std::string& text);

// Orders paths so that each comes after its references (self-references are fine);
// ties keep path-name order so the result is deterministic. References outside the
// set are ignored; a cycle throws fedi::Error.
std::vector<PathInfo> topo_sort(std::vector<PathInfo> infos);

} // namespace fedi::nix
