#include "account/commands.hpp"
#include "commands.hpp"
#include "core/error.hpp"
#include "session_options.hpp"

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

// Asks a person at the terminal before deleting; --yes answers for scripts.
void confirm_delete(const GlobalOptions& g, const std::string& name) {
    if (g.yes)
        return;
    if (!isatty(0))
        throw usage_error("fedi account delete " + name +
                          ": stdin is not a terminal; pass --yes to delete");
    std::cerr << "Delete account " << name << " on its service? [y/N] ";
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "y" && answer != "yes")
        throw usage_error("not deleted");
}

using Options = std::shared_ptr<account::AccountCommandOptions>;

// The subcommand `name` of `account`, whose action `run` is given options filled from
// the global ones.
CLI::App* add_command(CLI::App* account, GlobalOptions& g, Action& action, const Options& opts,
                      const std::string& name, const std::string& help, std::function<int()> run) {
    auto* cmd = account->add_subcommand(name, help);
    cmd->callback([&g, &action, opts, run = std::move(run)] {
        action = [&g, opts, run] {
            opts->session = session_options(g);
            return run();
        };
    });
    return cmd;
}

void add_name(CLI::App* cmd, const Options& opts) {
    cmd->add_option("NAME", opts->name, "Account (accounts.<NAME>)")->required();
}

void add_list(CLI::App* account, GlobalOptions& g, Action& action, const Options& opts) {
    add_command(account, g, action, opts, "list", "Declared accounts and what state knows of them",
                [&g, opts] {
                    ui::Reporter reporter(g.output());
                    auto accounts = account::list_accounts(opts->session, reporter);
                    if (g.json) {
                        nlohmann::json j = nlohmann::json::array();
                        for (const auto& a : accounts)
                            j.push_back(account::to_json(a, false));
                        print_json(nlohmann::json{{"accounts", j}}.dump(2));
                    } else {
                        std::cout << account::render_accounts(accounts,
                                                              ui::use_color(g.output().color, 1));
                    }
                    return 0;
                });
}

void add_show(CLI::App* account, GlobalOptions& g, Action& action, const Options& opts) {
    auto reveal = std::make_shared<bool>(false);
    auto* show = add_command(account, g, action, opts, "show",
                             "One account; its password with --reveal", [&g, opts, reveal] {
                                 ui::Reporter reporter(g.output());
                                 auto a = account::show_account(*opts, reporter);
                                 if (g.json)
                                     print_json(account::to_json(a, *reveal).dump(2));
                                 else
                                     std::cout << account::render_account(a, *reveal);
                                 return 0;
                             });
    add_name(show, opts);
    show->add_flag("--reveal", *reveal, "Print the password");
}

using PasswordChange = account::AccountResult (*)(const account::AccountCommandOptions&,
                                                  ui::Events&);

// `create` and `reset-password`: both may make a password, shown per --reveal.
void add_password_command(CLI::App* account, GlobalOptions& g, Action& action, const Options& opts,
                          const std::string& name, const std::string& help, PasswordChange change) {
    auto reveal = std::make_shared<bool>(false);
    auto* cmd = add_command(account, g, action, opts, name, help, [&g, opts, reveal, change] {
        ui::Reporter reporter(g.output());
        return print_result(g, change(*opts, reporter), *reveal);
    });
    add_name(cmd, opts);
    cmd->add_flag("--reveal", *reveal, "Print the new password (also with --json)");
}

void add_delete(CLI::App* account, GlobalOptions& g, Action& action, const Options& opts) {
    auto* del =
        add_command(account, g, action, opts, "delete",
                    "Delete an account on its service (asks; --yes)", [&g, opts] {
                        confirm_delete(g, opts->name);
                        ui::Reporter reporter(g.output());
                        return print_result(g, account::delete_account(*opts, reporter), false);
                    });
    add_name(del, opts);
}

} // namespace

void register_account(CLI::App& app, GlobalOptions& g, Action& action) {
    auto opts = std::make_shared<account::AccountCommandOptions>();
    auto* cmd = app.add_subcommand("account", "Service admin accounts (accounts.<name>)");
    cmd->require_subcommand(1);
    cmd->footer("Passwords are kept in the state file (0600) and printed only on a terminal "
                "when made, or with --reveal.");
    add_list(cmd, g, action, opts);
    add_show(cmd, g, action, opts);
    add_password_command(cmd, g, action, opts, "create",
                         "Create a declared account now (on its machine; nothing if it exists)",
                         account::create_account);
    add_password_command(cmd, g, action, opts, "reset-password", "Give an account a new password",
                         account::reset_account_password);
    add_delete(cmd, g, action, opts);
}

} // namespace fedi::cli
