#pragma once
// Option helpers shared by the subcommands: how repeatable options take their values.
#include <CLI/CLI.hpp>

namespace fedi::cli {

// A repeatable option takes one value per use (`--on a --on b`), so it never swallows the
// words after it: `fedi exec --on web -- ls -la` keeps `--` and the command.
CLI::Option* one_value_each(CLI::Option* option);

} // namespace fedi::cli
