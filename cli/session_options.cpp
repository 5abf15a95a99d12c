#include "session_options.hpp"

namespace fedi::cli {

session::ProjectOptions project_options(const GlobalOptions& g) {
    session::ProjectOptions p;
    p.deployment_file = g.file;
    p.state_file = g.state_file;
    return p;
}

session::SessionOptions session_options(const GlobalOptions& g) {
    session::SessionOptions s;
    s.project = project_options(g);
    s.command_line = g.command_line;
    s.connect.accept_new_host_keys = g.accept_new_host_keys;
    s.connect.compress = g.compress;
    s.connect.lock_timeout = std::chrono::seconds(g.lock_timeout);
    return s;
}

} // namespace fedi::cli
