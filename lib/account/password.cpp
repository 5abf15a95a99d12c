#include "account/password.hpp"

#include "core/text.hpp"

#include "core/error.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <unistd.h>

namespace fedi::account {

namespace {

void random_bytes(unsigned char* buf, std::size_t n) {
    int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw Error(std::string("cannot open /dev/urandom: ") + std::strerror(errno));
    std::size_t done = 0;
    while (done < n) {
        ssize_t r = ::read(fd, buf + done, n - done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            ::close(fd);
            throw Error("cannot read /dev/urandom");
        }
        done += static_cast<std::size_t>(r);
    }
    ::close(fd);
}

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
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"; // 62
    std::string out;
    while (static_cast<int>(out.size()) < length) {
        unsigned char buf[64];
        random_bytes(buf, sizeof buf);
        for (unsigned char c : buf)
            if (c < 248 && static_cast<int>(out.size()) < length) // 248 = 4 * 62: no bias
                out += alphabet[c % 62];
    }
    return out;
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
