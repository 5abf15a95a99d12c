// The socket under a session: resolve and connect with a deadline, then wait on it for
// whatever libssh2 is blocked on, sending keepalives while nothing moves.
#include "core/error.hpp"
#include "ssh/internal.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

namespace fedi::ssh::detail {
namespace {

// Unanswered keepalives after which the peer counts as gone (OpenSSH's ServerAliveCountMax).
constexpr int kKeepaliveCountMax = 3;

std::string host_port(const std::string& host, int port) {
    if (host.find(':') != std::string::npos)
        return fmt::format("[{}]:{}", host, port);
    return fmt::format("{}:{}", host, port);
}

int ms_until(Clock::time_point t, Clock::time_point now) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t - now).count();
    return int(std::clamp<long long>(ms, 0, 1 << 30));
}

std::string numeric_address(const addrinfo* ai) {
    char buf[NI_MAXHOST];
    if (getnameinfo(ai->ai_addr, ai->ai_addrlen, buf, sizeof buf, nullptr, 0, NI_NUMERICHOST))
        return "?";
    return buf;
}

} // namespace

Connection::Connection(const ConnectOptions& o) : opts(o) {
    where = host_port(opts.host, opts.port);
    if (!opts.label.empty())
        where = fmt::format("{} ({})", opts.label, where);
    last_rx_ = last_keepalive_ = Clock::now();
}

Connection::~Connection() {
    if (session) {
        if (!broken_ && !send_pending) {
            // A polite goodbye if the socket takes it at once; never wait for it.
            libssh2_session_disconnect(session, "fedi: done");
        }
        libssh2_session_free(session);
    }
    if (fd >= 0)
        ::close(fd);
}

void Connection::open_socket(Clock::time_point deadline) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    auto port = std::to_string(opts.port);
    int gai = getaddrinfo(opts.host.c_str(), port.c_str(), &hints, &res);
    if (gai != 0)
        throw Error(fmt::format("{}: cannot resolve host name '{}': {}", where, opts.host,
                                gai_strerror(gai)));
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(res, freeaddrinfo);

    std::vector<std::string> failures;
    for (addrinfo* ai = res; ai; ai = ai->ai_next) {
        std::string addr = numeric_address(ai);
        int s = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                         ai->ai_protocol);
        if (s < 0) {
            failures.push_back(fmt::format("{}: {}", addr, std::strerror(errno)));
            continue;
        }
        int err = 0;
        if (::connect(s, ai->ai_addr, ai->ai_addrlen) != 0) {
            err = errno;
            if (err == EINPROGRESS) {
                pollfd p{s, POLLOUT, 0};
                int r;
                do {
                    r = ::poll(&p, 1, ms_until(deadline, Clock::now()));
                } while (r < 0 && errno == EINTR);
                if (r == 0) {
                    ::close(s);
                    failures.push_back(fmt::format("{}: no answer within {} s (connect timeout)",
                                                   addr, opts.connect_timeout.count()));
                    break; // the deadline is spent; other addresses get no time
                }
                socklen_t len = sizeof err;
                getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
            }
        }
        if (err != 0) {
            ::close(s);
            failures.push_back(fmt::format("{}: {}", addr, std::strerror(err)));
            continue;
        }
        int one = 1;
        // Request/response protocols (nix-store --serve) must not wait for Nagle.
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
        fd = s;
        return;
    }
    std::string detail;
    for (const auto& f : failures)
        detail += (detail.empty() ? "" : "; ") + f;
    throw Error(fmt::format("{}: cannot connect: {}. Is the machine up, and are the host and "
                            "port right?",
                            where, detail));
}

bool Connection::socket_writable() const {
    pollfd p{fd, POLLOUT, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & POLLOUT);
}

void Connection::maybe_keepalive(Clock::time_point now) {
    if (opts.keepalive.count() <= 0)
        return;
    auto quiet_since = std::max(last_rx_, last_keepalive_);
    if (now - quiet_since < opts.keepalive)
        return;
    if (unanswered_keepalives_ >= kKeepaliveCountMax) {
        broken_ = true;
        broken_reason_ = fmt::format("no answer to {} keepalives", kKeepaliveCountMax);
        throw Error(fmt::format(
            "{}: connection lost: no answer from the host to {} keepalives in {} s; the "
            "machine or the network may be down",
            where, kKeepaliveCountMax, kKeepaliveCountMax * opts.keepalive.count()));
    }
    // A keepalive must not interleave with a half-sent packet, and must go out whole.
    if (send_pending || !socket_writable())
        return;
    int next = 0;
    int rc = libssh2_keepalive_send(session, &next);
    if (rc < 0 && rc != LIBSSH2_ERROR_EAGAIN)
        fail(rc, "sending a keepalive");
    last_keepalive_ = now;
    ++unanswered_keepalives_;
}

void Connection::note_progress() {
    last_rx_ = Clock::now();
    unanswered_keepalives_ = 0;
}

bool Connection::wait(Clock::time_point deadline) {
    check_usable();
    for (;;) {
        auto now = Clock::now();
        if (now >= deadline)
            return false;
        maybe_keepalive(now);
        int dirs = libssh2_session_block_directions(session);
        short events = 0;
        if (dirs & LIBSSH2_SESSION_BLOCK_INBOUND)
            events |= POLLIN;
        if (dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND)
            events |= POLLOUT;
        if (!events)
            events = POLLIN;
        auto wake = deadline;
        if (opts.keepalive.count() > 0)
            wake = std::min(wake, std::max(last_rx_, last_keepalive_) + opts.keepalive);
        pollfd p{fd, events, 0};
        // Round up so a 0 ms wait does not spin until the keepalive instant.
        int r = ::poll(&p, 1, std::max(1, ms_until(wake, now)));
        if (r < 0 && errno != EINTR)
            throw Error(fmt::format("{}: poll failed: {}", where, std::strerror(errno)));
        if (r > 0) {
            if (p.revents & (POLLIN | POLLHUP | POLLERR))
                note_progress();
            return true;
        }
    }
}

void Connection::fail(int rc, const std::string& doing) {
    char* msg = nullptr;
    int len = 0;
    if (session)
        libssh2_session_last_error(session, &msg, &len, 0);
    std::string detail = msg && len > 0 ? std::string(msg, len) : fmt::format("error {}", rc);
    bool lost = is_socket_error(rc);
    std::string text = lost ? fmt::format("{}: connection lost while {} ({})", where, doing, detail)
                            : fmt::format("{}: SSH error while {}: {}", where, doing, detail);
    broken_ = true;
    broken_reason_ = text;
    throw Error(text);
}

void Connection::idle_failure(const std::string& doing) {
    broken_ = true;
    broken_reason_ = "idle timeout";
    throw Error(fmt::format("{}: no progress for {} s while {} (idle timeout); the host, the "
                            "network or the remote command is stuck",
                            where, opts.idle_timeout.count(), doing));
}

void Connection::check_usable() const {
    if (broken_)
        throw Error(fmt::format("{}: connection unusable after an earlier failure ({})", where,
                                broken_reason_));
}

void Connection::abort() {
    broken_ = true;
    if (broken_reason_.empty())
        broken_reason_ = "aborted";
    if (fd >= 0)
        ::shutdown(fd, SHUT_RDWR);
}

} // namespace fedi::ssh::detail
