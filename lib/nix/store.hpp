#pragma once
// Queries on the local Nix store, through the `nix-store` CLI (commands that exist in
// Nix 2.8 as in current Nix), for what a closure transfer needs to know.
#include <cstdint>
#include <future>
#include <map>
#include <mutex>
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

// The paths of the closure of `roots`, sorted by name (`nix-store -qR`).
std::vector<std::string> query_requisites(const std::vector<std::string>& roots);

// The database facts of `paths`, in the order given (`nix-store --dump-db`).
std::vector<PathInfo> query_path_infos(const std::vector<std::string>& paths);

// One closure, queried once for every push of it (a deploy pushes one system to many
// machines): the path list can be asked for in the background while SSH connects, and
// the database facts are read only for paths some target lacks, once each.
// Thread-safe.
class LocalClosure {
  public:
    explicit LocalClosure(std::vector<std::string> roots);
    ~LocalClosure(); // waits for a query start() began
    LocalClosure(const LocalClosure&) = delete;
    LocalClosure& operator=(const LocalClosure&) = delete;

    const std::vector<std::string>& roots() const { return roots_; }
    // Starts `nix-store -qR` on a thread of its own; paths() picks up its result.
    void start();
    // Every path of the closure, sorted by name; throws what the query threw.
    const std::vector<std::string>& paths();
    // The facts of `subset` (paths of this closure), references before referrers. One
    // `nix-store --dump-db` for the paths not described before.
    std::vector<PathInfo> infos(const std::vector<std::string>& subset);

  private:
    std::shared_future<std::vector<std::string>> requisites();

    std::vector<std::string> roots_;
    std::mutex mutex_;       // guards paths_
    std::mutex infos_mutex_; // held while --dump-db runs: one query per path
    std::shared_future<std::vector<std::string>> paths_;
    std::map<std::string, PathInfo> infos_;
};

// Parses `nix-store --dump-db PATHS` output: per path, its path, narHash, narSize,
// deriver (empty line if none), the number of references, then the references.
std::vector<PathInfo> parse_dump_db(const std::string& text);

// Orders paths so that each comes after its references (self-references are fine);
// ties keep path-name order so the result is deterministic. References outside the
// set are ignored; a cycle throws fedi::Error.
std::vector<PathInfo> topo_sort(std::vector<PathInfo> infos);

} // namespace fedi::nix
