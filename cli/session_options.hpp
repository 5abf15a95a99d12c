#pragma once
// What every command's session is made of, from the global options: the deployment and
// state files and the command line recorded in the lock. The library decides the rest
// (whether the state is locked, how machines are connected).
#include "commands.hpp"
#include "session/session.hpp"

namespace fedi::cli {

session::ProjectOptions project_options(const GlobalOptions& g);
session::SessionOptions session_options(const GlobalOptions& g);

} // namespace fedi::cli
