#pragma once
// How a deploy's (or rollback's) report is shown: the summary tables on a terminal and
// the JSON document scripts read (its keys and values are a contract).
#include "deploy/deploy.hpp"

#include <nlohmann/json.hpp>
#include <string>

namespace fedi::report {

nlohmann::json to_json(const deploy::DeployReport& r);
std::string render_summary(const deploy::DeployReport& r, bool color);

} // namespace fedi::report
