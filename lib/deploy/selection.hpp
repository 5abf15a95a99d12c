#pragma once
// `--on` selection: machine names, shell globs and @tags; several patterns are a union.
#include "model/deployment.hpp"

#include <string>
#include <vector>

namespace fedi::deploy {

// The names of the selected machines, sorted. No patterns selects every machine (unless
// the deployment sets meta.requireSelection). A pattern that matches nothing is a
// usage error naming it.
std::vector<std::string> select_machines(const model::Deployment& d,
                                         const std::vector<std::string>& patterns);

} // namespace fedi::deploy
