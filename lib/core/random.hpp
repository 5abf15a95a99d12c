#pragma once
// Randomness from the kernel's generator, for passwords, salts and one-time tokens.
#include <cstddef>
#include <string>

namespace fedi {

// Fills buf with n bytes from /dev/urandom; throws Error when it cannot be read.
void random_bytes(unsigned char* buf, std::size_t n);

// `length` letters and digits from /dev/urandom (unbiased).
std::string random_alphanumeric(int length);

} // namespace fedi
