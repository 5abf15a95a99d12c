// fedi's entry point: builds the command tree, parses argv, runs the one library call
// the chosen subcommand asks for, and is the one place that turns errors into messages
// and exit codes (0 converged, 1 something failed, 2 usage or deployment-file error).
#include "commands.hpp"
#include "core/error.hpp"
#include "core/process.hpp"
#include "core/secret_memory.hpp"
#include "nix/tool_version.hpp"
#include "options.hpp"
#include "parse_errors.hpp"
#include "report/deploy_report.hpp"
#include "version.hpp"

#include <csignal>
#include <fmt/format.h>
#include <iostream>
#include <unistd.h>

namespace fedi::cli {

ui::OutputOptions GlobalOptions::output() const {
    ui::OutputOptions o;
    o.json = json;
    o.verbosity = quiet ? ui::Verbosity::Quiet
                        : (verbose > 0 ? ui::Verbosity::Verbose : ui::Verbosity::Normal);
    o.color = color == "always" ? ui::ColorMode::Always
                                : (color == "never" ? ui::ColorMode::Never : ui::ColorMode::Auto);
    return o;
}

void print_json(const std::string& text) {
    std::cout << text << std::endl;
}

int print_deploy_report(const GlobalOptions& g, const deploy::DeployReport& report) {
    if (g.json)
        print_json(report::to_json(report).dump(2));
    else
        std::cout << report::render_summary(report, ui::use_color(g.output().color, 1));
    // A password an account got now is shown once, on a terminal only (never in logs).
    for (const auto& a : report.accounts)
        if (a.new_password && !g.json)
            std::cout << "account " << a.name << ": "
                      << (isatty(1) ? "password " + *a.new_password
                                    : "password stored in state (fedi account show " + a.name +
                                          " --reveal)")
                      << "\n";
    return report.ok() ? 0 : 1;
}

namespace {

std::string join_command_line(int argc, char** argv) {
    std::string line;
    for (int i = 0; i < argc; ++i)
        line += (i ? " " : "") + shell_quote(argv[i]);
    return line;
}

void add_version_flag(CLI::App& app) {
    app.set_version_flag(
        "--version",
        [] {
            auto nix = nix::installed_nix_version();
            return fmt::format("fedi {} (commit {})\n{}", FEDI_VERSION, FEDI_COMMIT,
                               nix ? *nix : "nix: not found on PATH");
        },
        "Print fedi's version and commit and the Nix version found, then exit");
}

void add_global_options(CLI::App& app, GlobalOptions& g) {
    app.add_option("-f,--file", g.file, "Deployment file")
        ->capture_default_str()
        ->option_text("FILE")
        ->check(names_a_file());
    app.add_option("--state", g.state_file,
                   "State file or remote state URL (postgresql://..., s3://...; default: "
                   ".fedi/state.json beside the deployment file)")
        ->check(names_a_file());
    app.add_flag("--json", g.json, "Print results as one JSON document on stdout");
    app.add_flag("-v,--verbose", g.verbose, "More progress output (build logs, SSH steps)");
    app.add_flag("-q,--quiet", g.quiet, "Only errors on stderr");
    app.add_option("--color", g.color,
                   "Colour output: auto, always or never (NO_COLOR is honoured)")
        ->check(one_of({"auto", "always", "never"}))
        ->capture_default_str();
    app.add_flag("-y,--yes", g.yes, "Answer yes to confirmations (for scripts)");
    app.add_flag("--accept-new-host-keys", g.accept_new_host_keys,
                 "Trust a machine's unknown SSH host key and record it in state "
                 "(a changed key is always refused)");
    app.add_flag("--compress", g.compress,
                 "Compress SSH connections (zlib): faster on slow links, slower on fast ones");
    app.add_option("--lock-timeout", g.lock_timeout,
                   "Seconds to wait for a machine another deployer holds locked (default 0: "
                   "that machine fails at once, the others carry on)")
        ->option_text("SECONDS")
        ->check(at_least(0));
}

void configure_app(CLI::App& app, GlobalOptions& g) {
    app.name("fedi");
    app.require_subcommand(1);
    // Global options are defined once, on the app; subcommands pass what they do not know
    // up to it, so `fedi status -q` and `fedi -q status` mean the same. Subcommands inherit
    // this setting when they are created, hence before the register_* calls.
    app.fallthrough();
    app.footer("Global options may come before or after the subcommand.");
    add_version_flag(app);
    add_global_options(app, g);
}

void register_commands(CLI::App& app, GlobalOptions& g, Action& action) {
    register_deploy(app, g, action);
    register_plan(app, g, action);
    register_eval(app, g, action);
    register_status(app, g, action);
    register_rollback(app, g, action);
    register_exec(app, g, action);
    register_account(app, g, action);
    register_bucket(app, g, action);
    register_provision(app, g, action);
    register_state(app, g, action);
    register_cache(app, g, action);
    register_completion(app, g, action);
}

// Parses argv and runs the chosen action; the one place errors become messages and exit
// codes.
int parse_and_run(CLI::App& app, int argc, char** argv, const Action& action) {
    try {
        app.parse(argc, argv);
        return action ? action() : 0;
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) // --help, --version
            return app.exit(e);
        std::cerr << describe_parse_error(app, e);
        return 2;
    } catch (const Error& e) {
        std::cerr << "error: " << e.describe() << "\n";
        return e.kind() == ErrorKind::Usage ? 2 : 1;
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
}

} // namespace

} // namespace fedi::cli

int main(int argc, char** argv) {
    // Before anything reads a secret: a core dump would hold every one fedi handled.
    try {
        fedi::make_process_undumpable();
    } catch (const fedi::Error& e) {
        std::cerr << "fedi: " << e.message() << "\n";
        return 1;
    }
    std::signal(SIGPIPE, SIG_IGN);
    using namespace fedi::cli;
    GlobalOptions g;
    g.command_line = join_command_line(argc, argv);
    CLI::App app{"fedi: deploy and run Fediverse services on NixOS machines.\n"
                 "Results go to stdout (a table, or JSON with --json); progress to stderr.\n"
                 "Exit codes: 0 converged, 1 something failed, 2 usage or deployment error."};
    configure_app(app, g);
    Action action;
    register_commands(app, g, action);
    return parse_and_run(app, argc, argv, action);
}
