// The provisioning part of a plan.
// Not built yet: a helper replaces this file (the plan reports the part as an error).
#include "plan/parts.hpp"

#include "core/error.hpp"

namespace fedi::plan {

ProvisionParts plan_provisioning(session::Session&, const std::vector<std::string>&) {
    throw Error("planning provisioning is not supported yet");
}

} // namespace fedi::plan
