#pragma once
// The plan as the JSON document scripts read (doc/plan.schema.json, version
// kSchemaVersion).
#include "plan/plan.hpp"

#include <nlohmann/json.hpp>

namespace fedi::plan {

nlohmann::json to_json(const Plan& p);

// A saved plan read back (`fedi deploy --plan`). Fields derived from others ("changes",
// "ok") are not read. Throws fedi::Error naming the field that is missing or wrong.
Plan from_json(const nlohmann::json& j);

} // namespace fedi::plan
