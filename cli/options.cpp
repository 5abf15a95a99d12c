#include "options.hpp"

namespace fedi::cli {

CLI::Option* one_value_each(CLI::Option* option) {
    return option->expected(1)->allow_extra_args(false)->multi_option_policy(
        CLI::MultiOptionPolicy::TakeAll);
}

} // namespace fedi::cli
