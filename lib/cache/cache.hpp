#pragma once
// The deployment's binary cache (deployment `cache`), in Nix's binary cache format on
// its object storage: nix-cache-info, <hash>.narinfo (signed with the deployment's
// ed25519 key) and nar/<nar hash>.nar[.xz|.zst]. fedi uploads the paths machines lack, once
// each; the machines fetch them with their own Nix, which checks the signatures.
#include "nix/store.hpp"
#include "session/session.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace fedi::cache {

struct UploadProgress {
    std::size_t paths_total = 0;      // paths asked for
    std::size_t paths_present = 0;    // already in the cache (not sent again)
    std::size_t paths_uploaded = 0;   // sent now
    std::uint64_t bytes_uploaded = 0; // compressed NAR and narinfo bytes sent
    std::uint64_t nar_bytes = 0;      // uncompressed NAR bytes of the paths sent
};

// The key machines fetch with when they read the cache through S3 (it has no `url`):
// the AWS profile their Nix is told to use, and the key it names (read-only).
struct ReadKey {
    std::string profile;
    std::string id;
    std::string secret;
};

class BinaryCache {
  public:
    virtual ~BinaryCache() = default;
    // Makes sure every path of `paths` (paths of `closure`) is in the cache, uploading
    // those it lacks (in parallel, multipart for large NARs), each path once even when
    // several deploy threads ask at the same time. Throws fedi::Error naming the path and
    // the storage's answer.
    virtual UploadProgress upload(nix::LocalClosure& closure, const std::vector<std::string>& paths,
                                  const std::function<void(const UploadProgress&)>& progress) = 0;
    // What a machine's Nix is given as substituter, and the key it trusts for it.
    virtual std::string substituter_url() const = 0;
    virtual std::string public_key() const = 0;
    virtual std::optional<ReadKey> read_key() const { return std::nullopt; }
};

// The deployment's cache, when it declares one (nullptr when it does not): the bucket's
// credentials from state, the signing key from its file or environment variable. Throws a
// usage error naming the attribute (cache.secretKeyFile, …) when something it needs is
// missing. When state records no upload key yet, the session must be writable (the key
// is made, and the bucket when the storage lacks it).
std::unique_ptr<BinaryCache> open_cache(session::Session& s);

} // namespace fedi::cache
