#pragma once
// A push over several connections ("lanes", see LaneOptions) to the same target at once.
// Paths still reach the target references first: a path whose references went out on
// another lane waits until the target acknowledged them.
#include "nix/serve.hpp"

#include <condition_variable>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace fedi::nix {

// The paths of one transfer, handed out to lanes in reference order.
class SharedPaths {
  public:
    explicit SharedPaths(std::vector<PathInfo> paths); // references before referrers

    // Lane `lane`'s view.
    class Feed : public PathFeed {
      public:
        Feed(SharedPaths& shared, int lane) : shared_(shared), lane_(lane) {}
        const PathInfo* next() override;
        bool done() override;
        void wait() override;
        void acked(const PathInfo& info) override;
        std::size_t taken() const { return taken_; }

      private:
        SharedPaths& shared_;
        int lane_;
        std::size_t taken_ = 0;
    };

    // A lane failed with paths of its own unacknowledged: hand out nothing more.
    void stop();

  private:
    // Not taken yet, and each reference acknowledged or sent earlier on the same lane.
    bool ready(std::size_t i, int lane) const;
    std::optional<std::size_t> find_ready(int lane) const;

    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<PathInfo> paths_;
    std::map<std::string, std::size_t> index_;
    std::vector<int> taken_by_; // lane, or -1
    std::vector<bool> acked_;
    std::size_t first_free_ = 0; // paths before it are all taken
    std::size_t handed_out_ = 0;
    bool stopped_ = false;
};

// Sends `missing` over `first` (already talking to the target) and up to
// lanes.max_extra more lanes, opened meanwhile; progress adds up every lane's.
PushStats add_paths_over_lanes(ServeClient& first, std::vector<PathInfo> missing,
                               const PushProgress& progress, const ServeOptions& serve,
                               const LaneOptions& lanes, std::size_t extra);

} // namespace fedi::nix
