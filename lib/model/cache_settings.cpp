#include "model/cache_settings.hpp"

#include "core/text.hpp"
#include "model/attrs.hpp"

#include <fmt/format.h>

namespace fedi::model {

namespace {

// "name:base64" of a 32-byte ed25519 public key, as `nix-store --generate-binary-cache-key`
// writes it.
bool valid_public_key(const std::string& key) {
    auto colon = key.find(':');
    if (colon == 0 || colon == std::string::npos)
        return false;
    auto raw = base64_decode(std::string_view(key).substr(colon + 1));
    return raw && raw->size() == 32;
}

void check_references(AttrSet& c, const CacheSettings& cache,
                      const std::map<std::string, Storage>& storage,
                      const std::map<std::string, Bucket>& buckets) {
    if (!storage.count(cache.storage))
        c.fail("storage", fmt::format("no storage named \"{}\" (storage.<name>)", cache.storage));
    auto b = buckets.find(cache.bucket);
    if (b == buckets.end())
        c.fail("bucket", fmt::format("no bucket named \"{0}\": declare it as buckets.{0} on "
                                     "storage {1}",
                                     cache.bucket, cache.storage));
    if (b->second.storage != cache.storage)
        c.fail("bucket", fmt::format("buckets.{} is on storage {}, not {}", cache.bucket,
                                     b->second.storage, cache.storage));
    // Garage serves anonymous reads only through its website endpoint.
    if (cache.url && storage.at(cache.storage).type == StorageType::Garage && !b->second.website)
        c.fail("url", fmt::format("storage {} is Garage, which serves a bucket over plain http "
                                  "only as a website: set buckets.{}.website = true and give "
                                  "its website URL",
                                  cache.storage, cache.bucket));
}

} // namespace

std::optional<CacheSettings> parse_cache(AttrSet& top,
                                         const std::map<std::string, Storage>& storage,
                                         const std::map<std::string, Bucket>& buckets) {
    auto c = top.optional_set("cache");
    if (!c)
        return std::nullopt;
    CacheSettings cache;
    cache.storage = c->required_string("storage");
    cache.bucket = c->required_string("bucket");
    cache.url = c->optional_string("url");
    if (cache.url) {
        if (cache.url->rfind("http://", 0) != 0 && cache.url->rfind("https://", 0) != 0)
            c->fail("url", "expected an http:// or https:// URL");
        while (cache.url->back() == '/')
            cache.url->pop_back();
    }
    cache.secret_key_file = c->optional_file("secretKeyFile");
    cache.secret_key_env = c->optional_string("secretKeyEnv");
    if (cache.secret_key_file.has_value() == cache.secret_key_env.has_value())
        c->fail("secretKeyFile", "give exactly one of `secretKeyFile` (a file holding Nix's "
                                 "\"name:base64\" secret key) or `secretKeyEnv` (an environment "
                                 "variable holding it)");
    cache.public_key = c->required_string("publicKey");
    if (!valid_public_key(cache.public_key))
        c->fail("publicKey", "expected Nix's \"name:base64\" ed25519 public key, as "
                             "`nix-store --generate-binary-cache-key` writes it");
    cache.compression = c->optional_string("compression").value_or("xz");
    if (cache.compression != "xz" && cache.compression != "zstd" && cache.compression != "none")
        c->fail("compression",
                fmt::format("\"{}\" is not supported (xz, zstd or none)", cache.compression));
    c->finish();
    check_references(*c, cache, storage, buckets);
    return cache;
}

nlohmann::json to_json(const CacheSettings& c) {
    nlohmann::json j = {{"storage", c.storage},
                        {"bucket", c.bucket},
                        {"publicKey", c.public_key},
                        {"compression", c.compression}};
    j["url"] = c.url ? nlohmann::json(*c.url) : nlohmann::json();
    if (c.secret_key_file)
        j["secretKey"] = {{"file", *c.secret_key_file}};
    else if (c.secret_key_env)
        j["secretKey"] = {{"env", *c.secret_key_env}};
    return j;
}

} // namespace fedi::model
