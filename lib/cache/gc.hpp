#pragma once
// What `fedi cache gc` keeps: the closures of the systems of the last N generations of
// every machine recorded in state, walked through the References of the cache's own
// narinfos; every other narinfo, and every NAR no kept narinfo names, goes.
#include "s3/s3.hpp"
#include "state/state.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace fedi::cache {

// "<hash>.narinfo" at the top of the bucket; "nar/…".
bool is_narinfo_key(const std::string& key);
bool is_nar_key(const std::string& key);

// The distinct systems of the last `keep` generations of each machine, sorted.
std::vector<std::string> kept_systems(const state::State& s, int keep);

struct GcPlan {
    std::vector<std::string> remove_narinfos; // object keys
    std::vector<std::string> remove_nars;
    std::uint64_t removed_bytes = 0;
    std::size_t kept_narinfos = 0, kept_nars = 0;
    std::uint64_t kept_bytes = 0;
    std::vector<std::string> missing_roots; // kept systems the cache does not hold
};

// Plans from the bucket's listing; `fetch(key)` reads a narinfo (only reachable ones
// are read). Objects other than narinfos and nar/… (nix-cache-info) are kept.
GcPlan plan_gc(const std::vector<storage::S3Object>& objects, const std::vector<std::string>& roots,
               const std::function<std::string(const std::string& key)>& fetch);

} // namespace fedi::cache
