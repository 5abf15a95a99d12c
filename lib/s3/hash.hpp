#pragma once
// SHA-256 and HMAC-SHA-256 (OpenSSL libcrypto), as SigV4 needs them.
#include <string>
#include <string_view>

namespace fedi::storage {

// Raw 32-byte digests.
std::string sha256(std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);

// Lower-case hex of any bytes.
std::string hex(std::string_view bytes);

} // namespace fedi::storage
