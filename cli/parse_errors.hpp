#pragma once
// Messages for command lines fedi cannot parse: what was wrong, and for a mistyped
// subcommand or option the one that was probably meant.
#include <CLI/CLI.hpp>
#include <string>

namespace fedi::cli {

// The message for `e`, raised while parsing with `app` (which still holds what it parsed
// and the words it did not understand). Ends with a newline.
std::string describe_parse_error(const CLI::App& app, const CLI::ParseError& e);

} // namespace fedi::cli
