#include "commands.hpp"
#include "core/error.hpp"
#include "session_options.hpp"
#include "statecmd/state_command.hpp"

#include <fmt/format.h>
#include <iostream>
#include <unistd.h>

namespace fedi::cli {

namespace {

using Options = std::shared_ptr<statecmd::StateOptions>;
using A = statecmd::StateAction;

// --yes answers for scripts; otherwise only a person at a terminal can confirm.
statecmd::Confirm confirmation(bool yes, const std::string& command) {
    return [yes, command](const std::string& question) {
        if (yes)
            return true;
        if (!::isatty(0))
            throw usage_error(fmt::format("fedi state {} needs confirmation: stdin is not a "
                                          "terminal; pass --yes to confirm from a script "
                                          "(asked: {})",
                                          command, question));
        std::cerr << question << " [y/N] " << std::flush;
        std::string answer;
        std::getline(std::cin, answer);
        return answer == "y" || answer == "yes";
    };
}

CLI::App* add_command(CLI::App* state, GlobalOptions& g, Action& action, const Options& o,
                      const char* name, const char* help, A a) {
    auto* cmd = state->add_subcommand(name, help);
    cmd->callback([&g, &action, o, a, name] {
        action = [&g, o, a, name] {
            o->action = a;
            o->project = project_options(g);
            o->command_line = g.command_line;
            auto result = statecmd::run_state_command(*o, confirmation(g.yes, name));
            if (g.json)
                print_json(result.dump(2));
            else
                std::cout << statecmd::render_state_result(a, result);
            return 0;
        };
    });
    return cmd;
}

} // namespace

void register_state(CLI::App& app, GlobalOptions& g, Action& action) {
    auto o = std::make_shared<statecmd::StateOptions>();
    auto* cmd = app.add_subcommand("state", "Show, copy, move and unlock the deployment's state");
    cmd->require_subcommand(1);
    cmd->footer("The state is the file or URL of --state (default: .fedi/state.json beside the "
                "deployment file).");
    add_command(cmd, g, action, o, "show",
                "What the state records, where it is, its version and locks (secrets masked)",
                A::Show)
        ->add_flag("--reveal", o->reveal, "Show passwords and secret keys as they are");
    add_command(cmd, g, action, o, "history", "Earlier versions of the state, newest first",
                A::History);
    add_command(cmd, g, action, o, "locks", "The locks held on the state, with their holders",
                A::Locks);
    auto* pull =
        add_command(cmd, g, action, o, "pull",
                    "Write the state to a local file (0600; still encrypted if it is)", A::Pull);
    pull->add_option("FILE", o->file, "The file to write")->required();
    pull->add_option("--at", o->version,
                     "An earlier version, as `fedi state history` lists it (default: the current)")
        ->option_text("VERSION");
    auto* push = add_command(cmd, g, action, o, "push",
                             "Replace the state with a local file (asks; --yes)", A::Push);
    push->add_option("FILE", o->file, "A state file, e.g. one `fedi state pull` wrote")->required();
    push->add_option("--expect-version", o->expect_version,
                     "Replace only this version of the state (the one pull printed)");
    auto* migrate = add_command(cmd, g, action, o, "migrate",
                                "Copy the state to another file or URL, both locked", A::Migrate);
    migrate->add_option("--to", o->to, "The new location: a file, postgresql://… or s3://…")
        ->option_text("URL")
        ->required();
    migrate->add_flag("--force", o->force, "Replace a state the new location already holds");
    add_command(cmd, g, action, o, "unlock",
                "Break a lock a dead run left (names its holder, asks; --yes)", A::Unlock)
        ->add_option("ID", o->lock_id, "The lock's id, as `fedi state locks` lists it")
        ->required();
}

} // namespace fedi::cli
