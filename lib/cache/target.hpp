#pragma once
// Where the deployment's cache lives and how fedi writes to it: the storage's S3
// endpoint and a key of the cache bucket that fedi makes for itself ("fedi-cache",
// recorded in state like the keys it makes for `fedi bucket key create`).
#include "cache/s3_cache.hpp"
#include "session/session.hpp"

namespace fedi::cache {

// The name of the key fedi uploads with, in state under the cache bucket.
inline constexpr const char* uploader_key_name = "fedi-cache";
// The key machines fetch with when the cache has no `url` (they read it through S3): it
// can only read the bucket. In state under the cache bucket; on the machines, the AWS
// profile `reader_profile` of the credentials file fedi writes there.
inline constexpr const char* reader_key_name = "fedi-cache-read";
inline constexpr const char* reader_profile = "fedi-cache";

// Nix's S3 store URL of `bucket` on an S3 endpoint ("http://host:port" or
// "https://host"), reading its credentials from the AWS profile `profile`.
std::string s3_substituter_url(const std::string& bucket, const std::string& endpoint,
                               const std::string& region, const std::string& profile);

// The deployment's cache (it must declare one) as an S3 target. When state records no
// uploader key yet, the session must be writable: the bucket is made as declared when
// the storage lacks it, then the key, recorded at once. Throws fedi::Error otherwise,
// saying which command makes it. Without a `url`, the same for the read key (left out
// when state is read-only and records none yet).
CacheTarget cache_target(session::Session& s);

} // namespace fedi::cache
