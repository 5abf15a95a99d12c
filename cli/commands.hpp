#pragma once
// Each cli/<verb>.cpp registers one subcommand: its callback fills a typed options
// struct and makes one library call. main.cpp lists them and owns error handling.
#include "deploy/deploy.hpp"
#include "plan/plan.hpp"
#include "ui/output.hpp"

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <string>

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
void register_completion(CLI::App& app, GlobalOptions& g, Action& action);

// Prints a JSON document on stdout.
void print_json(const std::string& text);

// Prints a deploy or rollback report (table or JSON) and returns the exit code.
int print_deploy_report(const GlobalOptions& g, const deploy::DeployReport& report);

// Prints a plan (table or JSON) and returns its exit code: 1 when it is incomplete, 2
// when changes are pending and `detailed_exitcode`, else 0.
int print_plan(const GlobalOptions& g, const plan::Plan& p, bool detailed_exitcode);

} // namespace fedi::cli
