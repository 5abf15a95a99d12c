#include "deploy/machine_ledger.hpp"

namespace fedi::deploy {

MachineLedger::MachineLedger(const model::Deployment& d, const std::vector<std::string>& selected) {
    for (const auto& name : selected) {
        auto& r = reports_[name];
        r.name = name;
        r.system = d.machines.at(name).system.out_path;
    }
}

void MachineLedger::finish(const std::string& machine, std::optional<MachineReport> report) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (report)
        reports_.at(machine) = std::move(*report);
    finished_.insert(machine);
}

bool MachineLedger::finished(const std::string& machine) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return finished_.count(machine) > 0;
}

std::map<std::string, session::JobResult> MachineLedger::results() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::map<std::string, session::JobResult> out;
    for (const auto& name : finished_) {
        const auto& r = reports_.at(name);
        out[name] = r.ok() ? session::JobResult::Ok
                           : (r.outcome == Outcome::Skipped ? session::JobResult::Skipped
                                                            : session::JobResult::Failed);
    }
    return out;
}

std::optional<std::string> MachineLedger::failure_of(const std::string& machine) const {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!finished_.count(machine))
        return std::nullopt;
    const auto& r = reports_.at(machine);
    if (r.ok())
        return std::nullopt;
    return r.error.empty() ? to_string(r.outcome) : r.error;
}

std::vector<MachineReport> MachineLedger::reports() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<MachineReport> out;
    for (const auto& [name, r] : reports_)
        out.push_back(r);
    return out;
}

} // namespace fedi::deploy
