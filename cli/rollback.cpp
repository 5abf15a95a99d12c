#include "deploy/rollback.hpp"
#include "commands.hpp"
#include "session_options.hpp"

namespace fedi::cli {

void register_rollback(CLI::App& app, GlobalOptions& g, Action& action) {
    auto opts = std::make_shared<deploy::RollbackOptions>();
    auto* cmd = app.add_subcommand("rollback",
                                   "Put machines back on the generation before their current one");
    cmd->add_option("machines", opts->machines, "Machines: NAME, GLOB or @TAG")
        ->required()
        ->option_text("MACHINE...");
    cmd->callback([&g, &action, opts] {
        action = [&g, opts] {
            opts->session = session_options(g);
            ui::Reporter reporter(g.output());
            return print_deploy_report(g, deploy::run_rollback(*opts, reporter));
        };
    });
}

} // namespace fedi::cli
