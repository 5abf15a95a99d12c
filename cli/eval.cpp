#include "commands.hpp"
#include "session/project.hpp"

namespace fedi::cli {

void register_eval(CLI::App& app, GlobalOptions& g, Action& action) {
    auto* cmd = app.add_subcommand(
        "eval", "Evaluate and validate the deployment file; print the model as JSON");
    cmd->callback([&g, &action] {
        action = [&g] {
            session::ProjectOptions p;
            p.deployment_file = g.file;
            p.state_file = g.state_file;
            auto project = session::load_project(p);
            print_json(model::to_json(project.deployment).dump(2));
            return 0;
        };
    });
}

} // namespace fedi::cli
