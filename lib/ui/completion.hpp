#pragma once
// Shell completion scripts generated from the command tree itself (cli/ walks its CLI11
// app into a CompletionCommand), so completion cannot drift from the commands.
#include <string>
#include <vector>

namespace fedi::ui {

struct CompletionOption {
    std::vector<std::string> names; // "-f", "--file"
    std::string description;
    bool takes_value = false;         // the next word is its value
    std::vector<std::string> choices; // the values it accepts, when they are a fixed set
};

struct CompletionCommand {
    std::string name;
    std::string description;
    std::vector<CompletionOption> options;
    std::vector<CompletionCommand> subcommands;
    std::vector<std::string> argument_choices; // values its positional arguments accept
};

// The shells `fedi completion` supports.
const std::vector<std::string>& completion_shells();

// A completion script for `shell` (one of completion_shells()). Options of a command are
// offered in its subcommands as well, since fedi accepts them there. Throws fedi::Error
// (usage) for an unknown shell.
std::string completion_script(const CompletionCommand& root, const std::string& shell);

} // namespace fedi::ui
