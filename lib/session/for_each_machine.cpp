#include "session/for_each_machine.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <condition_variable>
#include <list>
#include <mutex>
#include <optional>
#include <thread>

namespace fedi::session {

namespace {

// What a worker takes next: a job to run, or one to skip because of `failed`.
struct Next {
    MachineJob job;
    std::optional<std::string> failed;
};

class Scheduler {
  public:
    Scheduler(const std::vector<MachineJob>& jobs, const MachineWork& work,
              const std::map<std::string, JobResult>& finished)
        : pending_(jobs.begin(), jobs.end()), work_(work), results_(finished) {
        for (const auto& j : jobs)
            names_.push_back(j.name);
    }

    void worker() {
        while (auto next = take())
            settle(next->job.name, next->failed ? skip(*next) : run(next->job.name));
    }

    std::map<std::string, JobResult> results() const {
        std::map<std::string, JobResult> out;
        for (const auto& n : names_)
            out[n] = results_.at(n);
        return out;
    }

  private:
    // Blocks until a job is ready or none is left. Jobs that wait on each other while
    // nothing runs are a cycle: they fail.
    std::optional<Next> take() {
        std::unique_lock<std::mutex> lock(mutex_);
        for (;;) {
            if (pending_.empty())
                return std::nullopt;
            for (auto it = pending_.begin(); it != pending_.end(); ++it) {
                auto state = readiness(*it);
                if (state.ready) {
                    Next next{*it, state.failed};
                    pending_.erase(it);
                    ++running_;
                    return next;
                }
            }
            if (running_ == 0)
                fail_cycle_locked();
            else
                cv_.wait(lock);
        }
    }

    struct Readiness {
        bool ready = true;
        std::optional<std::string> failed;
    };

    Readiness readiness(const MachineJob& job) const {
        Readiness r;
        for (const auto& dep : job.after) {
            auto done = results_.find(dep);
            if (done != results_.end()) {
                if (done->second != JobResult::Ok && !r.failed)
                    r.failed = dep;
            } else if (std::find(names_.begin(), names_.end(), dep) != names_.end()) {
                r.ready = false;
            }
        }
        return r;
    }

    void fail_cycle_locked() {
        std::string names;
        for (const auto& j : pending_)
            names += (names.empty() ? "" : ", ") + j.name;
        for (const auto& j : pending_) {
            results_[j.name] = JobResult::Failed;
            work_.on_error(j.name, "its `after` list waits on itself through " + names);
        }
        pending_.clear();
        cv_.notify_all();
    }

    JobResult skip(const Next& next) {
        work_.on_skipped(next.job.name, *next.failed);
        return JobResult::Skipped;
    }

    JobResult run(const std::string& name) {
        std::string error;
        try {
            return work_.run(name) ? JobResult::Ok : JobResult::Failed;
        } catch (const Error& e) {
            error = e.describe();
        } catch (const std::exception& e) {
            error = e.what();
        } catch (...) {
            error = "an unknown error";
        }
        work_.on_error(name, error);
        return JobResult::Failed;
    }

    void settle(const std::string& name, JobResult result) {
        std::lock_guard<std::mutex> lock(mutex_);
        results_[name] = result;
        --running_;
        cv_.notify_all();
    }

    std::list<MachineJob> pending_;
    std::vector<std::string> names_;
    const MachineWork& work_;
    std::map<std::string, JobResult> results_;
    std::mutex mutex_;
    std::condition_variable cv_;
    int running_ = 0;
};

} // namespace

std::vector<MachineJob> independent_jobs(const std::vector<std::string>& names) {
    std::vector<MachineJob> out;
    for (const auto& n : names)
        out.push_back({n, {}});
    return out;
}

std::map<std::string, JobResult>
for_each_machine(const std::vector<MachineJob>& jobs, int limit, const MachineWork& work,
                 const std::map<std::string, JobResult>& finished) {
    Scheduler scheduler(jobs, work, finished);
    std::size_t workers = jobs.size();
    if (limit > 0)
        workers = std::min(workers, static_cast<std::size_t>(limit));
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < workers; ++i)
        threads.emplace_back([&scheduler] { scheduler.worker(); });
    for (auto& t : threads)
        t.join();
    return scheduler.results();
}

} // namespace fedi::session
