#pragma once
// Option helpers shared by the subcommands: how repeatable options take their values,
// and checks whose messages name the option and say what it accepts.
#include <CLI/CLI.hpp>

namespace fedi::cli {

// A repeatable option takes one value per use (`--on a --on b`), so it never swallows the
// words after it: `fedi exec --on web -- ls -la` keeps `--` and the command.
CLI::Option* one_value_each(CLI::Option* option);

// An integer of at least `min`: "--parallel: must be at least 1, not 0".
CLI::Validator at_least(long long min);

// One of `values`: "--goal: must be one of build, push, ..., not 'swtich'; did you mean
// 'switch'?". Its type name lists them as "{a,b,c}", which completion reads.
CLI::Validator one_of(std::vector<std::string> values);

// A file name that is not empty: "-f,--file: must name a file, not ''".
CLI::Validator names_a_file();

} // namespace fedi::cli
