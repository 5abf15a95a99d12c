#include "account/accounts.hpp"
#include "commands.hpp"
#include "core/error.hpp"

#include <fmt/format.h>
#include <iostream>
#include <unistd.h>

namespace fedi::cli {

namespace {

// A new password is printed once: on a terminal, or when --reveal asks for it.
int print_result(const GlobalOptions& g, const account::AccountResult& r, bool reveal) {
    bool show = reveal || (!g.json && isatty(1));
    if (g.json) {
        print_json(account::to_json(r, reveal).dump(2));
    } else {
        std::cout << fmt::format("{} ({} {} on {}): {}\n", r.name, r.service, r.username, r.machine,
                                 r.result);
        if (!r.error.empty())
            std::cout << r.error << "\n";
        if (r.new_password && show)
            std::cout << "password: " << *r.new_password << "\n(shown once; `fedi account show "
                      << r.name << " --reveal` prints it again)\n";
        else if (r.new_password)
            std::cout << "password stored in state; `fedi account show " << r.name
                      << " --reveal` prints it\n";
    }
    return r.ok() ? 0 : 1;
}

} // namespace

void register_account(CLI::App& app, GlobalOptions& g, Action& action) {
    auto opts = std::make_shared<account::AccountCommandOptions>();
    auto reveal = std::make_shared<bool>(false);
    auto* cmd = app.add_subcommand("account", "Service admin accounts (accounts.<name>)");
    cmd->require_subcommand(1);
    cmd->footer("Passwords are kept in the state file (0600) and printed only on a terminal "
                "when made, or with --reveal.");
    auto fill = [&g, opts] {
        opts->project.deployment_file = g.file;
        opts->project.state_file = g.state_file;
        opts->command_line = g.command_line;
    };

    auto* list = cmd->add_subcommand("list", "Declared accounts and what state knows of them");
    list->callback([&g, &action, opts, fill] {
        action = [&g, opts, fill] {
            fill();
            auto accounts = account::list_accounts(opts->project);
            if (g.json) {
                nlohmann::json j = nlohmann::json::array();
                for (const auto& a : accounts)
                    j.push_back(account::to_json(a, false));
                print_json(nlohmann::json{{"accounts", j}}.dump(2));
            } else {
                std::cout << account::render_accounts(accounts, ui::use_color(g.output().color, 1));
            }
            return 0;
        };
    });

    auto* show = cmd->add_subcommand("show", "One account; its password with --reveal");
    show->add_option("NAME", opts->name, "Account (accounts.<NAME>)")->required();
    show->add_flag("--reveal", *reveal, "Print the password");
    show->callback([&g, &action, opts, reveal, fill] {
        action = [&g, opts, reveal, fill] {
            fill();
            auto a = account::show_account(*opts);
            if (g.json)
                print_json(account::to_json(a, *reveal).dump(2));
            else
                std::cout << account::render_account(a, *reveal);
            return 0;
        };
    });

    auto* create = cmd->add_subcommand(
        "create", "Create a declared account now (on its machine; nothing if it exists)");
    create->add_option("NAME", opts->name, "Account (accounts.<NAME>)")->required();
    create->add_flag("--reveal", *reveal, "Print the new password (also with --json)");
    create->callback([&g, &action, opts, reveal, fill] {
        action = [&g, opts, reveal, fill] {
            fill();
            ui::Reporter reporter(g.output());
            return print_result(g, account::create_account(*opts, reporter), *reveal);
        };
    });

    auto* reset = cmd->add_subcommand("reset-password", "Give an account a new password");
    reset->add_option("NAME", opts->name, "Account (accounts.<NAME>)")->required();
    reset->add_flag("--reveal", *reveal, "Print the new password (also with --json)");
    reset->callback([&g, &action, opts, reveal, fill] {
        action = [&g, opts, reveal, fill] {
            fill();
            ui::Reporter reporter(g.output());
            return print_result(g, account::reset_account_password(*opts, reporter), *reveal);
        };
    });

    auto* del = cmd->add_subcommand("delete", "Delete an account on its service (asks; --yes)");
    del->add_option("NAME", opts->name, "Account (accounts.<NAME>)")->required();
    del->callback([&g, &action, opts, fill] {
        action = [&g, opts, fill] {
            fill();
            if (!g.yes) {
                if (!isatty(0))
                    throw usage_error("fedi account delete " + opts->name +
                                      ": stdin is not a terminal; pass --yes to delete");
                std::cerr << "Delete account " << opts->name << " on its service? [y/N] ";
                std::string answer;
                std::getline(std::cin, answer);
                if (answer != "y" && answer != "yes")
                    throw usage_error("not deleted");
            }
            ui::Reporter reporter(g.output());
            return print_result(g, account::delete_account(*opts, reporter), false);
        };
    });
}

} // namespace fedi::cli
