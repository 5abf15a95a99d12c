#include "storage/storage_state.hpp"

#include "core/error.hpp"
#include "state/state.hpp"

namespace fedi::storage {

nlohmann::json to_json(const StorageState& s) {
    nlohmann::json buckets = nlohmann::json::object();
    for (const auto& [name, b] : s.buckets) {
        nlohmann::json keys = nlohmann::json::object();
        for (const auto& [kname, k] : b.keys) {
            keys[kname] = {{"id", k.id}, {"secret", k.secret}};
            if (k.adhoc)
                keys[kname]["adhoc"] = true;
        }
        buckets[name] = {{"storage", b.storage}, {"id", b.id}, {"keys", keys}};
        if (!b.owner_user.empty())
            buckets[name]["ownerUser"] = b.owner_user;
        if (b.adhoc)
            buckets[name]["adhoc"] = true;
    }
    return {{"buckets", buckets}};
}

StorageState storage_state_from_json(const nlohmann::json& j) {
    StorageState s;
    try {
        if (!j.contains("buckets"))
            return s;
        for (const auto& [name, b] : j.at("buckets").items()) {
            BucketRecord r;
            r.storage = b.at("storage").get<std::string>();
            r.id = b.at("id").get<std::string>();
            r.owner_user = b.value("ownerUser", "");
            r.adhoc = b.value("adhoc", false);
            if (b.contains("keys"))
                for (const auto& [kname, k] : b.at("keys").items())
                    r.keys[kname] = {k.at("id").get<std::string>(), k.value("secret", ""),
                                     k.value("adhoc", false)};
            s.buckets[name] = r;
        }
    } catch (const nlohmann::json::exception& e) {
        throw Error(std::string("the state's \"storage\" record is damaged: ") + e.what());
    }
    return s;
}

StorageState storage_state_of(const state::State& s) {
    auto it = s.extra.find("storage");
    return it == s.extra.end() ? StorageState{} : storage_state_from_json(*it);
}

void set_storage_state(state::State& s, const StorageState& st) {
    s.extra["storage"] = to_json(st);
}

} // namespace fedi::storage
