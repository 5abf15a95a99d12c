#pragma once
// Each cli/<verb>.cpp registers one subcommand: its callback fills a typed options
// struct and makes one library call. main.cpp lists them and owns error handling.
#include "deploy/deploy.hpp"
#include "model/goal.hpp"
#include "ui/output.hpp"

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace fedi::cli {

struct GlobalOptions {
    std::string file = "deployment.nix";
    std::optional<std::string> state_file;
    bool json = false;
    int verbose = 0;
    bool quiet = false;
    std::string color = "auto";
    bool yes = false;
    bool accept_new_host_keys = false;
    bool compress = false;
    std::string command_line; // argv joined, for the state lock
    int lock_timeout = 0;     // seconds to wait for a machine's lock

    ui::OutputOptions output() const;
};

// What the chosen subcommand runs after parsing; returns the exit code.
using Action = std::function<int()>;

void register_deploy(CLI::App& app, GlobalOptions& g, Action& action);
void register_eval(CLI::App& app, GlobalOptions& g, Action& action);
void register_status(CLI::App& app, GlobalOptions& g, Action& action);
void register_rollback(CLI::App& app, GlobalOptions& g, Action& action);
void register_exec(CLI::App& app, GlobalOptions& g, Action& action);
void register_account(CLI::App& app, GlobalOptions& g, Action& action);
void register_bucket(CLI::App& app, GlobalOptions& g, Action& action);
void register_provision(CLI::App& app, GlobalOptions& g, Action& action);
void register_state(CLI::App& app, GlobalOptions& g, Action& action);
void register_plan(CLI::App& app, GlobalOptions& g, Action& action);
void register_cache(CLI::App& app, GlobalOptions& g, Action& action);
void register_completion(CLI::App& app, GlobalOptions& g, Action& action);

// Prints a JSON document on stdout.
void print_json(const std::string& text);

// Prints a deploy or rollback report (table or JSON) and returns the exit code.
int print_deploy_report(const GlobalOptions& g, const deploy::DeployReport& report);

// `fedi plan` and `fedi deploy --dry-run`: the plan made on a session that only reads the
// state (`parallel` machines at once, 0: default), saved to `out` unless empty, printed
// (table or JSON). Returns the exit code: 1 when the plan is incomplete, 2 when changes
// are pending and `detailed_exitcode`, else 0.
struct PlanRun {
    std::vector<std::string> on;
    model::Goal goal = model::Goal::Switch;
    int parallel = 0;
    std::string out;
    bool detailed_exitcode = false;
};
int run_plan(const GlobalOptions& g, const PlanRun& run);

} // namespace fedi::cli
