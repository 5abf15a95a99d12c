#pragma once
// `fedi exec`: one command on the selected machines in parallel, each output line
// prefixed by its machine (like pdsh), or collected per machine for --json.
#include "session/session.hpp"
#include "ui/output.hpp"

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace fedi::deploy {

struct ExecRequest {
    std::vector<std::string> on; // --on patterns (all machines when empty)
    std::string command;         // run by the login shell on each machine
    // Output lines as they arrive: (machine, line, is_stderr). Empty: only collected.
    std::function<void(const std::string&, const std::string&, bool)> on_line;
};

struct ExecOptions {
    session::SessionOptions session; // the state is opened read-only; limits.machines at once
    ExecRequest request;
};

struct ExecResult {
    std::string name;
    int exit_status = -1; // -1: the command did not run (see error)
    std::string out, err; // everything it printed
    std::string error;    // why it could not run (connection, host key)
    bool ok() const { return error.empty() && exit_status == 0; }
};

// Results in selection order (sorted by name).
std::vector<ExecResult> run_exec(const ExecOptions& opts, ui::Events& events);
// The same on an open session.
std::vector<ExecResult> run_exec(session::Session& s, const ExecRequest& request);

nlohmann::json to_json(const std::vector<ExecResult>& results);

} // namespace fedi::deploy
