#include "commands.hpp"
#include "session_options.hpp"

namespace fedi::cli {

void register_eval(CLI::App& app, GlobalOptions& g, Action& action) {
    auto* cmd = app.add_subcommand(
        "eval", "Evaluate and validate the deployment file; print the model as JSON");
    cmd->callback([&g, &action] {
        action = [&g] {
            auto project = session::load_project(project_options(g));
            print_json(model::to_json(project.deployment).dump(2));
            return 0;
        };
    });
}

} // namespace fedi::cli
