#pragma once
// The results of a command that works on each selected machine on its own (no `after`
// order between them: status, exec, rollback, provision): one per machine, in selection
// order, each written only by its machine's worker.
#include "session/for_each_machine.hpp"

#include <map>
#include <string>
#include <vector>

namespace fedi::deploy {

template <class Result> class PerMachine {
  public:
    // `Result` has a `name`, set here.
    explicit PerMachine(const std::vector<std::string>& names) : results_(names.size()) {
        for (std::size_t i = 0; i < names.size(); ++i) {
            results_[i].name = names[i];
            index_[names[i]] = i;
        }
    }
    Result& operator[](const std::string& name) { return results_[index_.at(name)]; }
    std::vector<Result>& all() { return results_; }

  private:
    std::vector<Result> results_;
    std::map<std::string, std::size_t> index_;
};

} // namespace fedi::deploy
