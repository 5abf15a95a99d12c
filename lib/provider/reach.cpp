#include "provider/reach.hpp"

#include "core/error.hpp"

#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace fedi::provider {

namespace {

using Clock = std::chrono::steady_clock;

// One attempt: "" when the banner came, else what went wrong.
std::string try_banner(const std::string& host, int port, int wait_ms) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* res = nullptr;
    int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
    if (rc != 0)
        return std::string("cannot resolve: ") + ::gai_strerror(rc);
    std::string error = "no address";
    for (auto* ai = res; ai; ai = ai->ai_next) {
        int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            error = std::strerror(errno);
            continue;
        }
        if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            error = std::strerror(errno);
            ::close(fd);
            continue;
        }
        pollfd p{fd, POLLIN, 0};
        std::string got;
        while (got.size() < 4 && ::poll(&p, 1, wait_ms) > 0) {
            char buf[64];
            auto n = ::read(fd, buf, sizeof buf);
            if (n <= 0)
                break;
            got.append(buf, static_cast<std::size_t>(n));
        }
        ::close(fd);
        if (got.rfind("SSH-", 0) == 0) {
            ::freeaddrinfo(res);
            return "";
        }
        error = got.empty() ? "connected, but no SSH banner" : "the answer is not SSH";
    }
    ::freeaddrinfo(res);
    return error;
}

} // namespace

void wait_for_ssh(const std::string& host, int port, std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
        auto error = try_banner(host, port, 3000);
        if (error.empty())
            return;
        if (Clock::now() >= deadline)
            throw Error(fmt::format("SSH at {}:{} did not answer within {} s (last: {})", host,
                                    port, timeout.count() / 1000, error));
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
}

} // namespace fedi::provider
