#include "deploy/status.hpp"
#include "commands.hpp"
#include "options.hpp"
#include "session_options.hpp"

#include <iostream>

namespace fedi::cli {

void register_status(CLI::App& app, GlobalOptions& g, Action& action) {
    auto opts = std::make_shared<deploy::StatusOptions>();
    auto offline = std::make_shared<bool>(false);
    auto* cmd = app.add_subcommand("status",
                                   "Show what state records for each machine and what it runs now");
    one_value_each(
        cmd->add_option("--on", opts->on, "Select machines by NAME, GLOB or @TAG (repeatable)"))
        ->option_text("NAME|GLOB|@TAG");
    cmd->add_flag("--offline", *offline, "Do not contact the machines; state only");
    cmd->callback([&g, &action, opts, offline] {
        action = [&g, opts, offline] {
            opts->session = session_options(g);
            opts->probe = !*offline;
            ui::Reporter reporter(g.output());
            auto list = deploy::collect_status(*opts, reporter);
            if (g.json)
                print_json(deploy::to_json(list).dump(2));
            else
                std::cout << deploy::render_status(list, ui::use_color(g.output().color, 1));
            bool reachable = true;
            for (const auto& s : list)
                reachable = reachable && s.probe_error.empty();
            return reachable ? 0 : 1;
        };
    });
}

} // namespace fedi::cli
