#pragma once
// What `fedi plan` asks a machine (probe_machine, parts.hpp): the command it runs and
// its output parsed, apart so both are tested without a machine.
#include "host/remote_scripts.hpp"
#include "plan/parts.hpp"

#include <string>

namespace fedi::plan {

// The one remote command: the system status command, then resources/host/plan-probe.sh
// (which reads the new closure's paths on stdin), told the `system` planned ("" when
// unknown). Tests point `paths` at scratch files.
std::string machine_probe_command(const std::string& system, const host::ScriptPaths& paths = {});

// Its output parsed. Throws fedi::Error naming what does not add up (a closure and its
// sizes of different lengths, a hash for a file not listed, an unknown section).
MachineFacts parse_machine_facts(const std::string& out);

} // namespace fedi::plan
