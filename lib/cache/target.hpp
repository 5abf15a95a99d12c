#pragma once
// Where the deployment's cache lives and how fedi writes to it: the storage's S3
// endpoint and a key of the cache bucket that fedi makes for itself ("fedi-cache",
// recorded in state like the keys it makes for `fedi bucket key create`).
#include "cache/s3_cache.hpp"
#include "session/session.hpp"

namespace fedi::cache {

// The name of the key fedi uploads with, in state under the cache bucket.
inline constexpr const char* uploader_key_name = "fedi-cache";

// The deployment's cache (it must declare one) as an S3 target. When state records no
// uploader key yet, the session must be writable: the bucket is made as declared when
// the storage lacks it, then the key, recorded at once. Throws fedi::Error otherwise,
// saying which command makes it.
CacheTarget cache_target(session::Session& s);

} // namespace fedi::cache
