#include "deploy/closures.hpp"

#include "core/error.hpp"
#include "host/substitute.hpp"
#include "nix/store.hpp"

#include <map>
#include <mutex>

namespace fedi::deploy {

namespace {

class LocalClosures : public Closures {
  public:
    void prepare(const std::string& system) override {
        std::lock_guard<std::mutex> lock(mutex_);
        auto& closure = closures_[system];
        if (closure)
            return;
        closure = std::make_unique<nix::LocalClosure>(std::vector<std::string>{system});
        closure->start();
    }

    host::PushProgress
    push(host::Host& host, const std::string& system,
         const std::function<void(const host::PushProgress&)>& progress) override {
        return host.push_closure(closure_of(system), progress);
    }

    std::vector<std::string> missing(host::Host& host, const std::string& system) override {
        return host::missing_paths(host, closure_of(system).paths());
    }

    std::uint64_t nar_bytes(const std::string& system,
                            const std::vector<std::string>& paths) override {
        std::uint64_t bytes = 0;
        for (const auto& info : closure_of(system).infos(paths))
            bytes += info.nar_size;
        return bytes;
    }

    cache::UploadProgress
    upload(cache::BinaryCache& cache, const std::string& system,
           const std::vector<std::string>& paths,
           const std::function<void(const cache::UploadProgress&)>& progress) override {
        return cache.upload(closure_of(system), paths, progress);
    }

  private:
    nix::LocalClosure& closure_of(const std::string& system) {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = closures_.find(system);
        if (it == closures_.end())
            throw Error("internal: the closure of " + system +
                        " was pushed before it was prepared");
        return *it->second;
    }

    std::mutex mutex_;
    // A LocalClosure is thread-safe: the machines running one system share it.
    std::map<std::string, std::unique_ptr<nix::LocalClosure>> closures_;
};

} // namespace

std::unique_ptr<Closures> local_closures() {
    return std::make_unique<LocalClosures>();
}

} // namespace fedi::deploy
