#include "deploy/exec.hpp"
#include "commands.hpp"
#include "core/process.hpp"
#include "options.hpp"

#include <iostream>
#include <mutex>

namespace fedi::cli {

void register_exec(CLI::App& app, GlobalOptions& g, Action& action) {
    auto opts = std::make_shared<deploy::ExecOptions>();
    auto words = std::make_shared<std::vector<std::string>>();
    auto* cmd = app.add_subcommand(
        "exec", "Run a command on the selected machines in parallel, output prefixed by machine");
    cmd->footer("stdout lines go to stdout, stderr lines to stderr, each as `machine | line`.\n"
                "Exit 1 when any machine fails or cannot be reached.\n"
                "Example: fedi exec --on @web -- systemctl is-failed mastodon-web");
    one_value_each(
        cmd->add_option("--on", opts->on, "Select machines by NAME, GLOB or @TAG (repeatable)"))
        ->option_text("NAME|GLOB|@TAG");
    cmd->add_option("--parallel", opts->parallel, "Machines at once (default 16)")
        ->check(at_least(1));
    cmd->add_option("command", *words,
                    "The command, after `--`; its words are joined with spaces and run by the "
                    "machine's login shell, as ssh does")
        ->required()
        ->option_text("-- COMMAND...");
    cmd->callback([&g, &action, opts, words] {
        action = [&g, opts, words] {
            opts->project.deployment_file = g.file;
            opts->project.state_file = g.state_file;
            for (const auto& w : *words)
                opts->command += (opts->command.empty() ? "" : " ") + w;
            auto mutex = std::make_shared<std::mutex>();
            if (!g.json)
                opts->on_line = [mutex](const std::string& machine, const std::string& line,
                                        bool is_err) {
                    std::lock_guard<std::mutex> lock(*mutex);
                    (is_err ? std::cerr : std::cout) << machine << " | " << line << std::endl;
                };
            ui::Reporter reporter(g.output());
            auto results = deploy::run_exec(*opts, reporter);
            if (g.json)
                print_json(deploy::to_json(results).dump(2));
            for (const auto& r : results)
                if (!r.ok())
                    return 1;
            return 0;
        };
    });
}

} // namespace fedi::cli
