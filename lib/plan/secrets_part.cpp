// The secrets part of a plan.
// Not built yet: a helper replaces this file (the plan reports the part as an error).
#include "plan/parts.hpp"

#include "core/error.hpp"

namespace fedi::plan {

DeclaredSecrets declared_secrets(session::Session&, const std::set<std::string>&) {
    throw Error("planning secrets is not supported yet");
}

std::vector<SecretPlan> diff_secrets(const std::vector<host::SecretFile>&,
                                     const std::vector<std::pair<std::string, std::string>>&,
                                     const std::vector<SecretFacts>&) {
    throw Error("planning secrets is not supported yet");
}

} // namespace fedi::plan
