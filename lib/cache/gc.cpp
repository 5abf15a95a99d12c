#include "cache/gc.hpp"

#include "cache/narinfo.hpp"
#include "cache/s3_cache.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <set>

namespace fedi::cache {

namespace {

// The narinfo keys reachable from `roots`, and the NAR keys they name.
void walk(const std::set<std::string>& narinfos, const std::vector<std::string>& roots,
          const std::function<std::string(const std::string&)>& fetch,
          std::set<std::string>& kept_narinfos, std::set<std::string>& kept_nars,
          std::vector<std::string>& missing) {
    std::deque<std::string> queue;
    for (const auto& root : roots) {
        auto key = narinfo_key(root);
        if (!narinfos.count(key))
            missing.push_back(root);
        else if (kept_narinfos.insert(key).second)
            queue.push_back(key);
    }
    while (!queue.empty()) {
        auto key = queue.front();
        queue.pop_front();
        auto info = parse_narinfo(fetch(key), key);
        kept_nars.insert(info.url);
        for (const auto& ref : info.references) {
            auto ref_key = narinfo_key(ref);
            if (narinfos.count(ref_key) && kept_narinfos.insert(ref_key).second)
                queue.push_back(ref_key);
        }
    }
}

} // namespace

bool is_narinfo_key(const std::string& key) {
    return key.find('/') == std::string::npos && key.size() > 8 &&
           key.compare(key.size() - 8, 8, ".narinfo") == 0;
}

bool is_nar_key(const std::string& key) {
    return key.rfind("nar/", 0) == 0;
}

std::vector<std::string> kept_systems(const state::State& s, int keep) {
    std::set<std::string> systems;
    for (const auto& [name, m] : s.machines) {
        auto n = std::min<std::size_t>(static_cast<std::size_t>(std::max(keep, 0)),
                                       m.generations.size());
        for (auto it = m.generations.end() - static_cast<std::ptrdiff_t>(n);
             it != m.generations.end(); ++it)
            systems.insert(it->system);
    }
    return {systems.begin(), systems.end()};
}

GcPlan plan_gc(const std::vector<storage::S3Object>& objects, const std::vector<std::string>& roots,
               const std::function<std::string(const std::string& key)>& fetch) {
    std::set<std::string> narinfos;
    for (const auto& o : objects)
        if (is_narinfo_key(o.key))
            narinfos.insert(o.key);
    GcPlan plan;
    std::set<std::string> kept_narinfos, kept_nars;
    walk(narinfos, roots, fetch, kept_narinfos, kept_nars, plan.missing_roots);
    for (const auto& o : objects) {
        bool ours = is_narinfo_key(o.key) || is_nar_key(o.key);
        bool kept = !ours || kept_narinfos.count(o.key) || kept_nars.count(o.key);
        if (kept) {
            plan.kept_bytes += o.size;
            plan.kept_narinfos += is_narinfo_key(o.key);
            plan.kept_nars += is_nar_key(o.key);
            continue;
        }
        (is_narinfo_key(o.key) ? plan.remove_narinfos : plan.remove_nars).push_back(o.key);
        plan.removed_bytes += o.size;
    }
    return plan;
}

} // namespace fedi::cache
