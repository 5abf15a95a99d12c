#include "options.hpp"

#include "ui/suggest.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <fmt/ranges.h>

namespace fedi::cli {

CLI::Option* one_value_each(CLI::Option* option) {
    return option->expected(1)->allow_extra_args(false)->multi_option_policy(
        CLI::MultiOptionPolicy::TakeAll);
}

CLI::Validator at_least(long long min) {
    return CLI::Validator(
        [min](std::string& value) -> std::string {
            long long n = 0;
            if (!CLI::detail::lexical_cast(value, n))
                return fmt::format("must be a whole number, not '{}'", value);
            if (n < min)
                return fmt::format("must be at least {}, not {}", min, value);
            return {};
        },
        fmt::format("INT>={}", min));
}

CLI::Validator one_of(std::vector<std::string> values) {
    auto description = fmt::format("{{{}}}", fmt::join(values, ","));
    return CLI::Validator(
        [values](std::string& value) -> std::string {
            if (std::find(values.begin(), values.end(), value) != values.end())
                return {};
            auto guess = ui::closest_match(value, values);
            return fmt::format("must be one of {}, not '{}'{}", fmt::join(values, ", "), value,
                               guess ? fmt::format("; did you mean '{}'?", *guess) : "");
        },
        description);
}

CLI::Validator names_a_file() {
    return CLI::Validator(
        [](std::string& value) -> std::string {
            return value.empty() ? std::string("must name a file, not ''") : std::string();
        },
        "FILE");
}

} // namespace fedi::cli
