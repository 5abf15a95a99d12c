#pragma once
// What a machine's push sends: the closure of its system, found once per system and
// shared by the machines that run it. An interface, so orchestration tests push to fake
// machines without a Nix store.
#include "cache/cache.hpp"
#include "host/host.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace fedi::deploy {

class Closures {
  public:
    virtual ~Closures() = default;
    // Starts finding the closure of `system` (in the background; once per system), so it
    // is known by the time the machines are connected.
    virtual void prepare(const std::string& system) = 0;
    // Sends the paths of the closure of `system` (prepared) that `host` lacks.
    virtual host::PushProgress
    push(host::Host& host, const std::string& system,
         const std::function<void(const host::PushProgress&)>& progress) = 0;
    // The paths of the closure of `system` (prepared) that `host` lacks.
    virtual std::vector<std::string> missing(host::Host& host, const std::string& system) = 0;
    // The NAR bytes of `paths` (paths of the closure of `system`).
    virtual std::uint64_t nar_bytes(const std::string& system,
                                    const std::vector<std::string>& paths) = 0;
    // Makes `cache` hold `paths` of the closure of `system` (see BinaryCache::upload).
    virtual cache::UploadProgress
    upload(cache::BinaryCache& cache, const std::string& system,
           const std::vector<std::string>& paths,
           const std::function<void(const cache::UploadProgress&)>& progress) = 0;
};

// Closures from the local Nix store (nix::LocalClosure).
std::unique_ptr<Closures> local_closures();

} // namespace fedi::deploy
