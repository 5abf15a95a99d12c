#include "deploy/pending.hpp"

namespace fedi::deploy {

namespace {
constexpr const char* kKey = "pendingFailures";
}

std::optional<PendingFailure> pending_failure(const state::State& s, const std::string& key) {
    auto all = s.extra.find(kKey);
    if (all == s.extra.end() || !all->is_object())
        return std::nullopt;
    auto it = all->find(key);
    if (it == all->end() || !it->is_object())
        return std::nullopt;
    return PendingFailure{it->value("phase", ""), it->value("error", ""), it->value("system", ""),
                          it->value("time", "")};
}

void record_failure(state::State& s, const std::string& key, PendingFailure f) {
    auto& all = s.extra[kKey];
    if (!all.is_object())
        all = nlohmann::json::object();
    f.error = f.error.substr(0, f.error.find('\n'));
    all[key] = {{"phase", f.phase}, {"error", f.error}, {"system", f.system}, {"time", f.time}};
}

void clear_failure(state::State& s, const std::string& key) {
    auto all = s.extra.find(kKey);
    if (all == s.extra.end() || !all->is_object())
        return;
    all->erase(key);
    if (all->empty())
        s.extra.erase(kKey);
}

} // namespace fedi::deploy
