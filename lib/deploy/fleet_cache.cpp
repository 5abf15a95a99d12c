#include "deploy/fleet_cache.hpp"

#include "core/error.hpp"

#include <fmt/format.h>

namespace fedi::deploy {

namespace {

// The cache as the machines' Nix is given it, with the credentials file of its read key
// when they read it through S3.
host::Substituter substituter_of(const cache::BinaryCache& cache) {
    host::Substituter s{cache.substituter_url(), cache.public_key(), std::nullopt};
    if (auto key = cache.read_key())
        s.credentials = host::cache_credentials_file(key->profile, key->id, key->secret);
    return s;
}

} // namespace

FleetCache::FleetCache(std::unique_ptr<cache::BinaryCache> cache)
    : cache_(std::move(cache)), substituter_(substituter_of(*cache_)) {
    totals_.url = substituter_.url;
}

cache::UploadProgress
FleetCache::upload(Closures& closures, const std::string& system,
                   const std::vector<std::string>& paths,
                   const std::function<void(const cache::UploadProgress&)>& progress) {
    auto sent = closures.upload(*cache_, system, paths, progress);
    // The cache sends each path once: what this call sent, no other call did.
    std::lock_guard<std::mutex> lock(mutex_);
    totals_.paths_uploaded += sent.paths_uploaded;
    totals_.paths_present += sent.paths_present;
    totals_.bytes_uploaded += sent.bytes_uploaded;
    return sent;
}

CacheUpload FleetCache::totals() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return totals_;
}

void check_transfer(Transfer transfer, bool declared) {
    if (transfer == Transfer::Cache && !declared)
        throw usage_error("--transfer cache: there is no binary cache to use (the deployment "
                          "declares no `cache`: a bucket on one of its storages, and a signing "
                          "key)");
}

bool uses_cache(Transfer transfer, bool declared, std::size_t machines) {
    check_transfer(transfer, declared);
    switch (transfer) {
    case Transfer::Push:
        return false;
    case Transfer::Cache:
        return true;
    default:
        return declared && machines > kAutoCacheMachines;
    }
}

std::unique_ptr<FleetCache> open_fleet_cache(session::Session& s, const DeployOptions& opts,
                                             std::size_t machines) {
    if (!uses_cache(opts.transfer, static_cast<bool>(opts.open_cache), machines))
        return nullptr;
    try {
        return std::make_unique<FleetCache>(opts.open_cache(s));
    } catch (const Error& e) {
        if (opts.transfer == Transfer::Cache)
            throw;
        s.events().warn("cache", fmt::format("cannot use the binary cache, pushing to every "
                                             "machine instead: {}",
                                             e.describe()));
        return nullptr;
    }
}

CacheOpener deployment_cache(const model::Deployment& d) {
    if (!d.cache)
        return {};
    return [](session::Session& s) { return cache::open_cache(s); };
}

} // namespace fedi::deploy
