// open_cache: the deployment's cache with what it needs to write to its bucket.
#include "cache/cache.hpp"

#include "cache/s3_cache.hpp"
#include "cache/target.hpp"
#include "core/error.hpp"
#include "storage/backend.hpp"

#include <fmt/format.h>

namespace fedi::cache {

namespace {

std::unique_ptr<SigningKey> read_signing_key(const model::CacheSettings& c) {
    model::CredentialSource source;
    source.file = c.secret_key_file;
    source.env = c.secret_key_env;
    source.origin = c.secret_key_file ? "cache.secretKeyFile" : "cache.secretKeyEnv";
    auto text = storage::read_secret(source);
    auto key = std::make_unique<SigningKey>(text, source.origin); // wipes text
    if (key->public_key() != c.public_key)
        throw usage_error(fmt::format("cache.publicKey: {} is not the public half of the key "
                                      "{} gives (that is {})",
                                      c.public_key, source.origin, key->public_key()));
    return key;
}

} // namespace

std::unique_ptr<BinaryCache> open_cache(session::Session& s) {
    const auto& d = s.deployment();
    if (!d.cache)
        return nullptr;
    auto key = read_signing_key(*d.cache);
    return make_s3_cache(cache_target(s), std::move(key));
}

} // namespace fedi::cache
