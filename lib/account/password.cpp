#include "account/password.hpp"

#include "core/random.hpp"
#include "core/text.hpp"

#include <cstring>
#include <openssl/evp.h>
#include <openssl/sha.h>

namespace fedi::account {

namespace {

std::string ssha_with_salt(const std::string& password, const unsigned char* salt,
                           std::size_t salt_len) {
    std::string input = password + std::string(reinterpret_cast<const char*>(salt), salt_len);
    unsigned char buf[SHA_DIGEST_LENGTH + 16];
    SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), buf);
    std::memcpy(buf + SHA_DIGEST_LENGTH, salt, salt_len);
    return "{SSHA}" + base64_encode(std::string_view(reinterpret_cast<const char*>(buf),
                                                     SHA_DIGEST_LENGTH + salt_len));
}

} // namespace

std::string random_password(int length) {
    return random_alphanumeric(length);
}

std::string ssha_hash(const std::string& password) {
    unsigned char salt[8];
    random_bytes(salt, sizeof salt);
    return ssha_with_salt(password, salt, sizeof salt);
}

bool ssha_matches(const std::string& hash, const std::string& password) {
    if (hash.rfind("{SSHA}", 0) != 0)
        return false;
    std::string enc = hash.substr(6);
    std::string raw(enc.size(), '\0');
    int len = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(raw.data()),
                              reinterpret_cast<const unsigned char*>(enc.data()),
                              static_cast<int>(enc.size()));
    if (len < SHA_DIGEST_LENGTH)
        return false;
    std::size_t pad = 0;
    while (pad < enc.size() && enc[enc.size() - 1 - pad] == '=')
        ++pad;
    std::size_t n = static_cast<std::size_t>(len) - pad;
    if (n <= SHA_DIGEST_LENGTH)
        return false;
    auto salt = reinterpret_cast<const unsigned char*>(raw.data()) + SHA_DIGEST_LENGTH;
    return ssha_with_salt(password, salt, n - SHA_DIGEST_LENGTH) == hash;
}

} // namespace fedi::account
