#include "cache/target.hpp"

#include "core/error.hpp"
#include "state/state.hpp"
#include "storage/backend.hpp"
#include "storage/storage_state.hpp"

#include <fmt/format.h>

namespace fedi::cache {

namespace {

// What machines are given when the deployment names no URL: Nix's S3 store on the
// storage's endpoint (the machine then needs credentials of its own for the bucket).
std::string s3_substituter(const model::CacheSettings& c, const model::Storage& st) {
    auto endpoint = st.s3_endpoint;
    std::string scheme = "https";
    if (endpoint.rfind("http://", 0) == 0)
        scheme = "http", endpoint = endpoint.substr(7);
    else if (endpoint.rfind("https://", 0) == 0)
        endpoint = endpoint.substr(8);
    return fmt::format("s3://{}?endpoint={}&region={}&scheme={}", c.bucket, endpoint, st.region,
                       scheme);
}

// Writes the cache bucket's record to state at once (a key made must never be lost).
void record_bucket(session::Session& s, const std::string& bucket,
                   const storage::BucketRecord& rec) {
    s.state().change([&](state::State& st) {
        auto records = storage::storage_state_of(st);
        records.buckets[bucket] = rec;
        storage::set_storage_state(st, records);
    });
}

// The bucket as declared (made when the storage lacks it), then fedi's key on it.
storage::KeyRecord make_uploader_key(session::Session& s, const model::CacheSettings& c) {
    const auto& d = s.deployment();
    auto records = storage::storage_state_of(s.state().snapshot());
    auto rec = records.buckets[c.bucket];
    rec.storage = c.storage;
    auto be = storage::open_backend(d.storage.at(c.storage));
    auto view = be->find_bucket(c.bucket);
    if (!view) {
        view = be->create_bucket(c.bucket, rec);
        record_bucket(s, c.bucket, rec);
        be->apply_settings(*view, d.buckets.at(c.bucket), false);
        s.events().info("cache",
                        fmt::format("created bucket {} on storage {}", c.bucket, c.storage));
    } else if (rec.id.empty()) {
        rec.id = view->id;
    }
    auto key = be->create_key(c.bucket, rec, storage::garage_key_name(c.bucket, uploader_key_name));
    storage::KeyRecord made{key.id, key.secret, true};
    rec.keys[uploader_key_name] = made;
    record_bucket(s, c.bucket, rec);
    view = be->find_bucket(c.bucket); // with the new key among those it lists
    if (!view)
        throw Error(fmt::format("storage {} no longer lists bucket {}", c.storage, c.bucket));
    be->set_permissions(*view, key.id, {true, true, false}, false);
    s.events().info("cache", fmt::format("made key {} ({}) to upload to bucket {}",
                                         uploader_key_name, key.id, c.bucket));
    return made;
}

storage::KeyRecord uploader_key(session::Session& s, const model::CacheSettings& c) {
    auto records = storage::storage_state_of(s.state().snapshot());
    if (auto b = records.buckets.find(c.bucket); b != records.buckets.end())
        if (auto k = b->second.keys.find(uploader_key_name); k != b->second.keys.end())
            return k->second;
    if (!s.state().writable())
        throw Error(fmt::format("state records no key of the cache bucket {} yet: `fedi cache "
                                "push` or `fedi deploy` makes one",
                                c.bucket));
    return make_uploader_key(s, c);
}

} // namespace

CacheTarget cache_target(session::Session& s) {
    const auto& d = s.deployment();
    if (!d.cache)
        throw usage_error(fmt::format("{} declares no binary cache (`cache`)", d.file));
    const auto& c = *d.cache;
    const auto& st = d.storage.at(c.storage);
    auto uploader = uploader_key(s, c);
    CacheTarget t;
    t.s3.endpoint = st.s3_endpoint;
    t.s3.region = st.region;
    t.s3.credentials.access_key_id = uploader.id;
    t.s3.credentials.secret_access_key = uploader.secret;
    t.bucket = c.bucket;
    t.substituter_url = c.url ? *c.url : s3_substituter(c, st);
    t.public_key = c.public_key;
    t.compression = c.compression;
    t.public_read_policy = c.url && st.type == model::StorageType::Rgw;
    return t;
}

} // namespace fedi::cache
