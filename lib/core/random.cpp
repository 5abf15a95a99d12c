#include "core/random.hpp"

#include "core/error.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace fedi {

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

std::string random_alphanumeric(int length) {
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

} // namespace fedi
