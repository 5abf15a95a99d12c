// What a plan asks a machine.
// Not built yet: a helper replaces this file (the plan reports the part as an error).
#include "plan/parts.hpp"

#include "core/error.hpp"

namespace fedi::plan {

MachineFacts probe_machine(host::Host&, const std::vector<std::string>&) {
    throw Error("probing machines for a plan is not supported yet");
}

} // namespace fedi::plan
