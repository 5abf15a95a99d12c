#pragma once
// The deploy's record of each selected machine: its report as its phases fill it in, and
// whether it is finished (deployed, failed or skipped). Machines finished in one phase
// (a failed build, storage that failed) are not worked on by the next.
#include "deploy/deploy.hpp"
#include "session/for_each_machine.hpp"

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace fedi::deploy {

class MachineLedger {
  public:
    MachineLedger(const model::Deployment& d, const std::vector<std::string>& selected);

    // The machine's report. Only the one worker deploying the machine writes it.
    MachineReport& entry(const std::string& machine) { return reports_.at(machine); }
    bool selected(const std::string& machine) const { return reports_.count(machine) > 0; }
    // Marks the machine finished; `report` replaces its entry when given.
    void finish(const std::string& machine, std::optional<MachineReport> report = std::nullopt);
    bool finished(const std::string& machine) const;
    // The results of the finished machines, for the next round of for_each_machine.
    std::map<std::string, session::JobResult> results() const;
    // Why a machine that finished did not deploy; nullopt otherwise.
    std::optional<std::string> failure_of(const std::string& machine) const;
    // Every report, in selection order.
    std::vector<MachineReport> reports() const;

  private:
    mutable std::mutex mutex_; // guards finished_ (the map's shape never changes)
    std::map<std::string, MachineReport> reports_;
    std::set<std::string> finished_;
};

} // namespace fedi::deploy
