// The storage part of a plan.
// Not built yet: a helper replaces this file (the plan reports the part as an error).
#include "plan/parts.hpp"

#include "core/error.hpp"

namespace fedi::plan {

StorageParts plan_storage(session::Session&, const std::set<std::string>&) {
    throw Error("planning storage is not supported yet");
}

} // namespace fedi::plan
