#include "ui/completion.hpp"
#include "commands.hpp"
#include "options.hpp"

#include <iostream>
#include <regex>

namespace fedi::cli {

namespace {

// The values an option accepts when they are a fixed set: one_of (like CLI::IsMember)
// shows them in the type name as "{a,b,c}".
std::vector<std::string> member_set(const CLI::Option& opt) {
    static const std::regex braces(R"(\{([^}]*)\})");
    std::vector<std::string> values;
    std::smatch m;
    std::string type = opt.get_type_name();
    if (!std::regex_search(type, m, braces))
        return values;
    std::string set = m[1];
    for (std::size_t pos = 0; pos <= set.size();) {
        auto comma = std::min(set.find(',', pos), set.size());
        values.push_back(set.substr(pos, comma - pos));
        pos = comma + 1;
    }
    return values;
}

// The command tree as the completion generator sees it, read from the CLI11 app itself.
ui::CompletionCommand describe(const CLI::App& app) {
    ui::CompletionCommand c;
    c.name = app.get_name();
    c.description = app.get_description();
    for (const auto* opt : app.get_options()) {
        if (!opt->nonpositional()) {
            auto values = member_set(*opt);
            c.argument_choices.insert(c.argument_choices.end(), values.begin(), values.end());
            continue;
        }
        ui::CompletionOption o;
        for (const auto& s : opt->get_snames())
            o.names.push_back("-" + s);
        for (const auto& l : opt->get_lnames())
            o.names.push_back("--" + l);
        o.description = opt->get_description();
        o.takes_value = opt->get_type_size() > 0;
        o.choices = member_set(*opt);
        c.options.push_back(std::move(o));
    }
    for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; }))
        c.subcommands.push_back(describe(*sub));
    return c;
}

} // namespace

void register_completion(CLI::App& app, GlobalOptions&, Action& action) {
    auto shell = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand("completion", "Print a shell completion script");
    cmd->footer("bash: source <(fedi completion bash)\n"
                "zsh:  source <(fedi completion zsh)   (after compinit)\n"
                "fish: fedi completion fish | source");
    cmd->add_option("SHELL", *shell, "bash, zsh or fish")
        ->required()
        ->check(one_of(ui::completion_shells()));
    cmd->callback([&app, &action, shell] {
        action = [&app, shell] {
            std::cout << ui::completion_script(describe(app), *shell);
            return 0;
        };
    });
}

} // namespace fedi::cli
