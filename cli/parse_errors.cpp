#include "parse_errors.hpp"

#include "ui/suggest.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace fedi::cli {

namespace {

// The last subcommand the command line chose (the app itself when none).
const CLI::App* deepest_chosen(const CLI::App& app) {
    const CLI::App* at = &app;
    while (!at->get_subcommands().empty())
        at = at->get_subcommands().front();
    return at;
}

std::string command_path(const CLI::App* at) {
    std::string path = at->get_name();
    for (const CLI::App* p = at->get_parent(); p; p = p->get_parent())
        path = p->get_name() + " " + path;
    return path;
}

std::vector<std::string> subcommand_names(const CLI::App* at) {
    std::vector<std::string> names;
    for (const auto* sub : at->get_subcommands([](const CLI::App*) { return true; }))
        names.push_back(sub->get_name());
    return names;
}

// Options valid at `at`: its own and those of every command above it, which fedi passes
// unknown options up to.
std::vector<std::string> option_names(const CLI::App* at) {
    std::vector<std::string> names;
    for (const CLI::App* a = at; a; a = a->get_parent())
        for (const auto* opt : a->get_options()) {
            for (const auto& l : opt->get_lnames())
                names.push_back("--" + l);
            for (const auto& s : opt->get_snames())
                names.push_back("-" + s);
        }
    return names;
}

// What to say about one word nothing consumed, or "" when there is nothing better to say
// than CLI11's message.
std::string about_word(const CLI::App* at, const std::string& word) {
    std::string where = command_path(at);
    if (word.size() > 1 && word[0] == '-') {
        std::string name = word.substr(0, word.find('='));
        auto guess = ui::closest_match(name, option_names(at));
        return fmt::format("unknown option '{}' for `{}`{}", name, where,
                           guess ? fmt::format("; did you mean '{}'?", *guess) : "");
    }
    auto subs = subcommand_names(at);
    if (subs.empty())
        return "";
    auto guess = ui::closest_match(word, subs);
    return fmt::format("'{}' is not a subcommand of `{}`; {}", word, where,
                       guess ? fmt::format("did you mean '{}'?", *guess)
                             : fmt::format("it has: {}", fmt::join(subs, ", ")));
}

} // namespace

std::string describe_parse_error(const CLI::App& app, const CLI::ParseError& e) {
    const CLI::App* at = deepest_chosen(app);
    std::vector<std::string> lines;
    // Words nothing consumed explain an unexpected argument, or a subcommand that is
    // "required" because the one given was mistyped; other errors say enough themselves.
    bool about_words =
        dynamic_cast<const CLI::ExtrasError*>(&e) || dynamic_cast<const CLI::RequiredError*>(&e);
    for (const auto& word : about_words ? app.remaining(true) : std::vector<std::string>{})
        if (auto line = about_word(at, word); !line.empty())
            lines.push_back("error: " + line);
    if (lines.empty() && about_words && at->get_subcommands().empty() &&
        !subcommand_names(at).empty() && at->get_require_subcommand_min() > 0)
        lines.push_back(fmt::format("error: `{}` needs a subcommand: {}", command_path(at),
                                    fmt::join(subcommand_names(at), ", ")));
    if (lines.empty())
        lines.push_back(std::string("error: ") + e.what());
    return fmt::format("{}\nRun `{} --help` for more information.\n", fmt::join(lines, "\n"),
                       command_path(at));
}

} // namespace fedi::cli
