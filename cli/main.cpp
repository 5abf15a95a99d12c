// fedi's entry point: builds the command tree, parses argv, runs the one library call
// the chosen subcommand asks for, and is the one place that turns errors into messages
// and exit codes.
#include "core/error.hpp"

#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    CLI::App app{"fedi: deploy and run Fediverse services on NixOS machines"};
    app.require_subcommand(1);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    } catch (const fedi::Error& e) {
        std::cerr << "error: " << e.describe() << "\n";
        return e.kind() == fedi::ErrorKind::Usage ? 2 : 1;
    }
    return 0;
}
