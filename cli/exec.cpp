#include "deploy/exec.hpp"
#include "commands.hpp"
#include "core/process.hpp"
#include "options.hpp"
#include "session_options.hpp"

#include <iostream>
#include <mutex>

namespace fedi::cli {

namespace {

// Output lines as they arrive, `machine | line`, each on the stream it came from.
std::function<void(const std::string&, const std::string&, bool)> print_line() {
    auto mutex = std::make_shared<std::mutex>();
    return [mutex](const std::string& machine, const std::string& line, bool is_err) {
        std::lock_guard<std::mutex> lock(*mutex);
        (is_err ? std::cerr : std::cout) << machine << " | " << line << std::endl;
    };
}

} // namespace

void register_exec(CLI::App& app, GlobalOptions& g, Action& action) {
    auto opts = std::make_shared<deploy::ExecOptions>();
    auto parallel = std::make_shared<int>(0);
    auto words = std::make_shared<std::vector<std::string>>();
    auto* cmd = app.add_subcommand(
        "exec", "Run a command on the selected machines in parallel, output prefixed by machine");
    cmd->footer("stdout lines go to stdout, stderr lines to stderr, each as `machine | line`.\n"
                "Exit 1 when any machine fails or cannot be reached.\n"
                "Example: fedi exec --on @web -- systemctl is-failed mastodon-web");
    one_value_each(cmd->add_option("--on", opts->request.on,
                                   "Select machines by NAME, GLOB or @TAG (repeatable)"))
        ->option_text("NAME|GLOB|@TAG");
    cmd->add_option("--parallel", *parallel, "Machines at once (default 16)")->check(at_least(1));
    cmd->add_option("command", *words,
                    "The command, after `--`; its words are joined with spaces and run by the "
                    "machine's login shell, as ssh does")
        ->required()
        ->option_text("-- COMMAND...");
    cmd->callback([&g, &action, opts, words, parallel] {
        action = [&g, opts, words, parallel] {
            opts->session = session_options(g);
            opts->session.limits = session::Limits::from_options(*parallel, 0);
            auto& command = opts->request.command;
            for (const auto& w : *words)
                command += (command.empty() ? "" : " ") + w;
            if (!g.json)
                opts->request.on_line = print_line();
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
