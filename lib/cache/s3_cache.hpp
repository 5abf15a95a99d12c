#pragma once
// The binary cache as objects in an S3 bucket: what open_cache returns once it has the
// bucket's endpoint, credentials and the signing key; tests build one directly.
#include "cache/cache.hpp"
#include "cache/signing.hpp"
#include "s3/s3.hpp"

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

namespace fedi::cache {

struct CacheTarget {
    storage::S3Config s3; // signed access to the bucket
    std::string bucket;
    std::string substituter_url; // what machines are given
    std::string public_key;      // what machines trust (the deployment's publicKey)
    // What machines read an s3:// substituter with (see cache/target.hpp), when known.
    std::optional<ReadKey> reader_key;
    std::string compression = "xz";
    // NARs whose compressed size reaches part_size go up as multipart uploads of parts
    // of about that size (S3: at least 5 MiB but the last).
    std::size_t part_size = std::size_t{16} * 1024 * 1024;
    unsigned jobs = 4; // paths uploaded at once
    // Give anonymous readers GetObject by a bucket policy (RGW, served at its S3 URL);
    // Garage serves a public bucket through its website endpoint instead.
    bool public_read_policy = false;
};

// The cache's objects: "nix-cache-info", "<hash>.narinfo", "nar/<nar hash>.nar[.xz|.zst]".
// NARs are named by their NAR hash (known before compressing, so a large one streams
// straight into a multipart upload); Nix reads the name from the narinfo's URL.
inline constexpr const char* cache_info_key = "nix-cache-info";
std::string narinfo_key(const std::string& store_path);
// The text of nix-cache-info (StoreDir, WantMassQuery, Priority).
std::string cache_info_text();

std::unique_ptr<BinaryCache> make_s3_cache(CacheTarget target, std::unique_ptr<SigningKey> key);

} // namespace fedi::cache
