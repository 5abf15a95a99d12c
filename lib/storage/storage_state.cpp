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
    // Fields a newer fedi added (to the storage record, a bucket or a key that still
    // exists) stay as they were.
    auto fresh = to_json(st);
    auto it = s.extra.find("storage");
    if (it != s.extra.end() && it->is_object()) {
        const auto& old = *it;
        if (old.contains("buckets") && old["buckets"].is_object()) {
            const auto& old_buckets = old["buckets"];
            for (auto& [name, b] : fresh["buckets"].items()) {
                if (!old_buckets.contains(name))
                    continue;
                const auto& ob = old_buckets[name];
                if (ob.is_object() && ob.contains("keys"))
                    b["keys"] = state::with_unknown_fields_of_entries(ob["keys"], b["keys"]);
            }
            fresh["buckets"] =
                state::with_unknown_fields_of_entries(old_buckets, std::move(fresh["buckets"]));
        }
        fresh = state::with_unknown_fields(old, std::move(fresh));
    }
    s.extra["storage"] = std::move(fresh);
}

void mask_secrets(state::State& s, const std::string& mask) {
    if (!s.extra.contains("storage"))
        return;
    auto st = storage_state_of(s);
    for (auto& [name, bucket] : st.buckets)
        for (auto& [kname, key] : bucket.keys)
            if (!key.secret.empty())
                key.secret = mask;
    set_storage_state(s, st);
}

} // namespace fedi::storage
