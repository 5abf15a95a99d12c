#include "s3/hash.hpp"

#include "core/error.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace fedi::storage {

std::string sha256(std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_Digest(data.data(), data.size(), out, &n, EVP_sha256(), nullptr))
        throw Error("SHA-256 failed (OpenSSL)");
    return std::string(reinterpret_cast<char*>(out), n);
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
              reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &n))
        throw Error("HMAC-SHA-256 failed (OpenSSL)");
    return std::string(reinterpret_cast<char*>(out), n);
}

std::string hex(std::string_view bytes) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

} // namespace fedi::storage
