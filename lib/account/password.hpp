#pragma once
// Random passwords from the kernel's generator, and LDAP's salted SHA-1 password form.
#include <string>

namespace fedi::account {

// `length` letters and digits from /dev/urandom (unbiased).
std::string random_password(int length = 32);

// "{SSHA}base64(sha1(password + salt) + salt)": what slapd checks a bind against, so the
// directory never holds the password itself.
std::string ssha_hash(const std::string& password);

// Whether `hash` (an {SSHA} value) is the hash of `password`.
bool ssha_matches(const std::string& hash, const std::string& password);

} // namespace fedi::account
