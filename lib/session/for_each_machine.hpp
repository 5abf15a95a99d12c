#pragma once
// The one loop that works on many machines at once: bounded, in `after` order, skipping
// the machines whose dependencies did not succeed, and turning anything a machine's work
// throws into that machine's failure (never the process's end).
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace fedi::session {

struct MachineJob {
    std::string name;
    // Machines that must succeed first. Names that are neither jobs nor in `finished`
    // (machines not selected) are not waited for.
    std::vector<std::string> after;
};

// One job per machine, none waiting for another.
std::vector<MachineJob> independent_jobs(const std::vector<std::string>& names);

enum class JobResult { Ok, Failed, Skipped };

struct MachineWork {
    // The machine's work: true when it succeeded. Whatever it throws fails the machine.
    std::function<bool(const std::string& machine)> run;
    // The work threw `error` (its fedi::Error description or what()).
    std::function<void(const std::string& machine, const std::string& error)> on_error;
    // Not run: `dependency` failed or was skipped.
    std::function<void(const std::string& machine, const std::string& dependency)> on_skipped;
};

// Runs `work` for each job, at most `limit` at once (<= 0: all at once), a job only after
// the jobs it comes after succeeded, in the order given among the jobs ready. Results of
// machines finished earlier (e.g. failed in an earlier phase) are given in `finished`.
// Jobs in an `after` cycle fail, naming the cycle. Returns every job's result.
std::map<std::string, JobResult>
for_each_machine(const std::vector<MachineJob>& jobs, int limit, const MachineWork& work,
                 const std::map<std::string, JobResult>& finished = {});

} // namespace fedi::session
