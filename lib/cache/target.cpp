#include "cache/target.hpp"

#include "core/error.hpp"
#include "state/state.hpp"
#include "storage/backend.hpp"
#include "storage/storage_state.hpp"

#include <fmt/format.h>

namespace fedi::cache {

// What machines are given when the deployment names no URL: Nix's S3 store on the
// storage's endpoint, with the read key's profile.
std::string s3_substituter_url(const std::string& bucket, const std::string& endpoint,
                               const std::string& region, const std::string& profile) {
    auto host = endpoint;
    std::string scheme = "https";
    if (host.rfind("http://", 0) == 0)
        scheme = "http", host = host.substr(7);
    else if (host.rfind("https://", 0) == 0)
        host = host.substr(8);
    return fmt::format("s3://{}?endpoint={}&region={}&scheme={}&profile={}", bucket, host, region,
                       scheme, profile);
}

namespace {

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

// The key machines read the bucket with: made without access, recorded at once, then
// allowed to read (and nothing else).
storage::KeyRecord make_reader_key(session::Session& s, const model::CacheSettings& c) {
    auto be = storage::open_backend(s.deployment().storage.at(c.storage));
    auto rec = storage::storage_state_of(s.state().snapshot()).buckets[c.bucket];
    auto key =
        be->create_reader_key(c.bucket, rec, storage::garage_key_name(c.bucket, reader_key_name));
    storage::KeyRecord made{key.id, key.secret, true};
    rec.keys[reader_key_name] = made;
    record_bucket(s, c.bucket, rec);
    be->allow_read_only(c.bucket, rec, key.id);
    s.events().info("cache", fmt::format("made key {} ({}) that machines read bucket {} with",
                                         reader_key_name, key.id, c.bucket));
    return made;
}

std::optional<storage::KeyRecord> recorded_key(session::Session& s, const std::string& bucket,
                                               const std::string& name) {
    auto records = storage::storage_state_of(s.state().snapshot());
    if (auto b = records.buckets.find(bucket); b != records.buckets.end())
        if (auto k = b->second.keys.find(name); k != b->second.keys.end())
            return k->second;
    return std::nullopt;
}

std::optional<storage::KeyRecord> reader_key(session::Session& s, const model::CacheSettings& c) {
    if (auto k = recorded_key(s, c.bucket, reader_key_name))
        return k;
    if (!s.state().writable())
        return std::nullopt;
    return make_reader_key(s, c);
}

storage::KeyRecord uploader_key(session::Session& s, const model::CacheSettings& c) {
    if (auto k = recorded_key(s, c.bucket, uploader_key_name))
        return *k;
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
    if (c.url) {
        t.substituter_url = *c.url;
    } else {
        t.substituter_url = s3_substituter_url(c.bucket, st.s3_endpoint, st.region, reader_profile);
        if (auto k = reader_key(s, c))
            t.reader_key = ReadKey{reader_profile, k->id, k->secret};
    }
    t.public_key = c.public_key;
    t.compression = c.compression;
    t.public_read_policy = c.url && st.type == model::StorageType::Rgw;
    return t;
}

} // namespace fedi::cache
