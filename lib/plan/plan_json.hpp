#pragma once
// The plan as the JSON document scripts read (doc/plan.schema.json, version
// kSchemaVersion).
#include "plan/plan.hpp"

#include <nlohmann/json.hpp>

namespace fedi::plan {

nlohmann::json to_json(const Plan& p);

} // namespace fedi::plan
