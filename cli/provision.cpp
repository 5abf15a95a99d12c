#include "deploy/provision.hpp"
#include "commands.hpp"
#include "core/error.hpp"
#include "options.hpp"
#include "session_options.hpp"

#include <fmt/format.h>
#include <iostream>
#include <unistd.h>

namespace fedi::cli {

namespace {

// --yes answers for scripts; otherwise only a person at a terminal can confirm, by
// typing the machine's name.
deploy::Confirm confirmation(bool yes) {
    return [yes](const std::string& machine, const std::string& what) {
        if (yes)
            return true;
        if (!::isatty(0))
            throw usage_error(fmt::format("destroying {} ({}) needs confirmation: stdin is not "
                                          "a terminal; pass --yes to confirm from a script",
                                          machine, what));
        std::cerr << "Destroy machine " << machine << ": " << what
                  << "?\nType the machine's name to confirm: " << std::flush;
        std::string answer;
        std::getline(std::cin, answer);
        return answer == machine;
    };
}

} // namespace

void register_provision(CLI::App& app, GlobalOptions& g, Action& action) {
    auto opts = std::make_shared<deploy::ProvisionOptions>();
    auto destroy = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand(
        "provision", "Create the selected machines that are missing and print their addresses");
    cmd->footer("Machines with `provision` are created on their provider (or changed in place "
                "where they drifted)\nand recorded in state; the deployment sees their outputs "
                "as resources.machines.<name>.");
    one_value_each(
        cmd->add_option("--on", opts->on,
                        "Select machines by NAME, GLOB or @TAG (repeatable; default: all)"))
        ->option_text("NAME|GLOB|@TAG");
    cmd->add_flag("--dry-run", opts->dry_run, "Show what would be created or changed");
    cmd->add_option("--destroy", *destroy,
                    "Destroy this provisioned machine and forget it (asks; --yes for scripts; "
                    "refused for protect = true)")
        ->option_text("NAME");
    cmd->callback([&g, &action, opts, destroy] {
        action = [&g, opts, destroy] {
            opts->session = session_options(g);
            ui::Reporter reporter(g.output());
            auto report = destroy->empty() ? deploy::run_provision(*opts, reporter)
                                           : deploy::destroy_machine(*opts, *destroy,
                                                                     confirmation(g.yes), reporter);
            if (g.json)
                print_json(deploy::to_json(report).dump(2));
            else
                std::cout << deploy::render_provision(report, ui::use_color(g.output().color, 1));
            return report.ok() ? 0 : 1;
        };
    });
}

} // namespace fedi::cli
