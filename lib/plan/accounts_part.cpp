// The accounts and directory part of a plan.
// Not built yet: a helper replaces this file (the plan reports the part as an error).
#include "plan/parts.hpp"

#include "core/error.hpp"

namespace fedi::plan {

std::vector<AccountPlan> plan_accounts(session::Session&, const std::set<std::string>&) {
    throw Error("planning accounts is not supported yet");
}

std::vector<AccountPlan> plan_directory(session::Session&) {
    throw Error("planning directory entries is not supported yet");
}

} // namespace fedi::plan
