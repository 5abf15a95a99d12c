#pragma once
// The deployment's binary cache as one deploy uses it: opened once when --transfer says
// so, shared by every machine's transfer (each path uploaded once, whichever machine
// asks first), and what was uploaded added up for the report.
#include "deploy/closures.hpp"
#include "deploy/deploy.hpp"
#include "host/substitute.hpp"

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace fedi::deploy {

class FleetCache {
  public:
    explicit FleetCache(std::unique_ptr<cache::BinaryCache> cache);

    // What the machines' Nix is given.
    const host::Substituter& substituter() const { return substituter_; }
    // Makes the cache hold `paths` of the closure of `system`; counts what was sent.
    cache::UploadProgress upload(Closures& closures, const std::string& system,
                                 const std::vector<std::string>& paths,
                                 const std::function<void(const cache::UploadProgress&)>& progress);
    CacheUpload totals() const;

  private:
    std::unique_ptr<cache::BinaryCache> cache_;
    host::Substituter substituter_;
    mutable std::mutex mutex_;
    CacheUpload totals_;
};

// --transfer cache needs a declared cache (a usage error, said before anything is built).
void check_transfer(Transfer transfer, bool declared);
// Whether a deploy of `machines` machines uses the cache (`declared`: there is one to
// use, DeployOptions::open_cache). Throws a usage error for --transfer cache without one.
bool uses_cache(Transfer transfer, bool declared, std::size_t machines);

// The cache for this deploy, or null when it pushes. With --transfer auto, a cache that
// cannot be opened is a warning and the deploy pushes; with --transfer cache, an error.
std::unique_ptr<FleetCache> open_fleet_cache(session::Session& s, const DeployOptions& opts,
                                             std::size_t machines);

// How the fedi binary opens the deployment's cache: nothing when it declares none, else
// lib/cache's writer (cache::open_cache), the one call into it, wired here when it is
// part of the build.
CacheOpener deployment_cache(const model::Deployment& d);

} // namespace fedi::deploy
