#pragma once
// Small text helpers shared by the wire formats fedi speaks.
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace fedi {

// Without leading and trailing whitespace (std::isspace: space, \t, \n, \v, \f, \r).
std::string trim(std::string_view text);

// With ASCII letters lower-cased; other bytes unchanged.
std::string lower(std::string_view text);

// Percent-encodes every byte but the RFC 3986 unreserved ones (A-Z a-z 0-9 - . _ ~) and those
// listed in `keep`, as %XX with upper-case hex digits: the exact rule AWS SigV4 requires, and
// what Proxmox's form bodies and paths accept.
std::string percent_encode(std::string_view text, std::string_view keep = {});

// `t` in UTC, written with strftime's `format` (at most 31 characters out).
std::string format_utc(std::time_t t, const char* format);

// The value of a hexadecimal digit, or -1.
int hex_value(char c);

// Decodes %XX escapes; a '%' not followed by two hex digits is kept as is. '+' is kept.
std::string percent_decode(std::string_view text);

// Base64 (RFC 4648, standard alphabet); `pad` adds the trailing '='.
std::string base64_encode(std::string_view raw, bool pad = true);
// Decodes base64 (padding optional); nothing for a character outside the alphabet.
std::optional<std::string> base64_decode(std::string_view text);

} // namespace fedi
