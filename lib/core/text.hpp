#pragma once
// Small text helpers shared by the wire formats fedi speaks.
#include <string>
#include <string_view>

namespace fedi {

// The value of a hexadecimal digit, or -1.
int hex_value(char c);

// Decodes %XX escapes; a '%' not followed by two hex digits is kept as is. '+' is kept.
std::string percent_decode(std::string_view text);

} // namespace fedi
