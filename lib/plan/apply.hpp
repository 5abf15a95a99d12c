#pragma once
// Saved plans: `fedi plan --out FILE` writes one, `fedi deploy --plan FILE` applies it
// only when nothing it was computed from moved since.
#include "deploy/deploy.hpp"
#include "plan/plan.hpp"
#include "session/session.hpp"

#include <string>

namespace fedi::plan {

// Writes the plan's JSON document to `file`: mode 0600, atomically (no half-written plan).
void write_plan_file(const std::string& file, const Plan& p);

// Reads a saved plan. Refuses, naming both, a document of another schemaVersion.
Plan read_plan_file(const std::string& file);

// Under the deploy's lock (the session's): makes the plan again for the saved plan's
// selection and goal and refuses, naming each thing that moved, unless it matches;
// then deploys exactly that selection and goal (`opts` gives the rest).
deploy::DeployReport apply_plan(session::Session& s, const Plan& saved, const std::string& file,
                                deploy::DeployOptions opts);

} // namespace fedi::plan
