#include "nix/serve_lanes.hpp"

#include "core/error.hpp"

#include <exception>
#include <thread>

#include <fmt/format.h>

namespace fedi::nix {

SharedPaths::SharedPaths(std::vector<PathInfo> paths)
    : paths_(std::move(paths)), taken_by_(paths_.size(), -1), acked_(paths_.size(), false) {
    for (std::size_t i = 0; i < paths_.size(); ++i)
        index_.emplace(paths_[i].path, i);
}

bool SharedPaths::ready(std::size_t i, int lane) const {
    if (taken_by_[i] != -1)
        return false;
    for (const auto& ref : paths_[i].references) {
        auto it = index_.find(ref);
        if (it == index_.end() || it->second == i)
            continue; // valid on the target already, or a self-reference
        std::size_t j = it->second;
        if (!acked_[j] && taken_by_[j] != lane)
            return false;
    }
    return true;
}

std::optional<std::size_t> SharedPaths::find_ready(int lane) const {
    for (std::size_t i = first_free_; i < paths_.size(); ++i)
        if (ready(i, lane))
            return i;
    return std::nullopt;
}

const PathInfo* SharedPaths::Feed::next() {
    auto& s = shared_;
    std::lock_guard lock(s.mutex_);
    if (s.stopped_)
        return nullptr;
    auto i = s.find_ready(lane_);
    if (!i)
        return nullptr;
    s.taken_by_[*i] = lane_;
    ++s.handed_out_;
    while (s.first_free_ < s.paths_.size() && s.taken_by_[s.first_free_] != -1)
        ++s.first_free_;
    ++taken_;
    return &s.paths_[*i];
}

bool SharedPaths::Feed::done() {
    std::lock_guard lock(shared_.mutex_);
    return shared_.stopped_ || shared_.handed_out_ == shared_.paths_.size();
}

void SharedPaths::Feed::wait() {
    auto& s = shared_;
    std::unique_lock lock(s.mutex_);
    s.changed_.wait(lock, [&] {
        return s.stopped_ || s.handed_out_ == s.paths_.size() || s.find_ready(lane_);
    });
}

void SharedPaths::Feed::acked(const PathInfo& info) {
    auto& s = shared_;
    {
        std::lock_guard lock(s.mutex_);
        s.acked_[s.index_.at(info.path)] = true;
    }
    s.changed_.notify_all();
}

void SharedPaths::stop() {
    {
        std::lock_guard lock(mutex_);
        stopped_ = true;
    }
    changed_.notify_all();
}

namespace {

// Every lane's progress, added up for the caller (one call at a time).
class LaneProgress {
  public:
    LaneProgress(const PushProgress& progress, std::size_t lanes)
        : progress_(progress), per_lane_(lanes) {}
    PushProgress of(std::size_t lane) {
        if (!progress_)
            return {};
        return [this, lane](std::uint64_t bytes, std::size_t paths) {
            std::lock_guard lock(mutex_);
            per_lane_[lane] = {bytes, paths};
            std::uint64_t all_bytes = 0;
            std::size_t all_paths = 0;
            for (const auto& [b, p] : per_lane_) {
                all_bytes += b;
                all_paths += p;
            }
            progress_(all_bytes, all_paths);
        };
    }

  private:
    const PushProgress& progress_;
    std::mutex mutex_;
    std::vector<std::pair<std::uint64_t, std::size_t>> per_lane_;
};

struct LaneResult {
    PushStats stats;
    std::exception_ptr error; // only when the lane had taken paths
};

// One extra lane, on its own thread: opens, greets the target, then sends what the
// shared paths hand it. A lane that cannot open (or fails before taking a path) leaves
// its share to the others.
void run_extra_lane(SharedPaths& shared, int lane, const ServeClient& first,
                    const ServeOptions& serve, const LaneOptions& lanes, LaneProgress& progress,
                    LaneResult& result) {
    SharedPaths::Feed feed(shared, lane);
    try {
        auto opened = lanes.open();
        if (feed.done())
            return; // too late: everything is on its way
        ServeOptions options = serve;
        options.remote_name = fmt::format("{} (connection {})", serve.remote_name, lane + 1);
        options.remote_stderr = [&opened] { return opened->remote_stderr(); };
        options.end_input = [&opened] { opened->io().close_input(); };
        ServeClient client(opened->io(), opened->io(), options);
        if (first.round_trip()) // sizes the lane's pipeline like the first's
            client.set_round_trip(*first.round_trip());
        result.stats = client.add_paths_from(feed, progress.of(lane), options.end_input);
        opened->finish();
    } catch (...) {
        if (feed.taken() > 0) {
            result.error = std::current_exception();
            shared.stop(); // its paths will never be acknowledged: the push fails
        }
    }
}

} // namespace

PushStats add_paths_over_lanes(ServeClient& first, std::vector<PathInfo> missing,
                               const PushProgress& progress, const ServeOptions& serve,
                               const LaneOptions& lanes, std::size_t extra) {
    const std::size_t total = missing.size();
    SharedPaths shared(std::move(missing));
    LaneProgress lane_progress(progress, extra + 1);
    std::vector<LaneResult> results(extra + 1);
    std::vector<std::thread> threads;
    for (std::size_t k = 1; k <= extra; ++k)
        threads.emplace_back([&, k] {
            run_extra_lane(shared, int(k), first, serve, lanes, lane_progress, results[k]);
        });
    try {
        SharedPaths::Feed feed(shared, 0);
        results[0].stats = first.add_paths_from(feed, lane_progress.of(0), serve.end_input);
    } catch (...) {
        results[0].error = std::current_exception();
        shared.stop();
    }
    for (auto& t : threads)
        t.join();
    PushStats stats;
    for (const auto& r : results) {
        if (r.error)
            std::rethrow_exception(r.error);
        stats.paths_sent += r.stats.paths_sent;
        stats.nar_bytes += r.stats.nar_bytes;
        stats.bytes_sent += r.stats.bytes_sent;
    }
    stats.paths_total = total;
    if (progress)
        progress(stats.bytes_sent, stats.paths_sent);
    return stats;
}

} // namespace fedi::nix
