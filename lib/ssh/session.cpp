// Connecting: TCP with a deadline, SSH handshake preferring the host key type we know,
// host key policy, then authentication.
#include "core/error.hpp"
#include "ssh/internal.hpp"

#include <mutex>

#include <fmt/format.h>

namespace fedi::ssh {

using detail::Clock;

namespace {

void init_libssh2_once() {
    static std::once_flag once;
    static int rc = 0;
    std::call_once(once, [] { rc = libssh2_init(0); });
    if (rc != 0)
        throw Error(fmt::format("cannot initialise libssh2 (error {})", rc));
}

} // namespace

std::unique_ptr<Session> Session::connect(const ConnectOptions& opts) {
    init_libssh2_once();
    auto conn = std::make_shared<detail::Connection>(opts);
    auto deadline = Clock::now() + opts.connect_timeout;
    conn->open_socket(deadline);

    conn->session = libssh2_session_init_ex(nullptr, nullptr, nullptr, nullptr);
    if (!conn->session)
        throw Error("cannot create a libssh2 session");
    libssh2_session_set_blocking(conn->session, 0);

    detail::HostKeyVerifier verifier(conn->session, opts, conn->where);
    // Known key types first, so a host with several keys shows the one we can check;
    // then ed25519, as OpenSSH prefers it too (libssh2 would pick ECDSA first).
    auto types = verifier.known_types();
    types.push_back("ssh-ed25519");
    auto pref = detail::hostkey_method_pref(conn->session, types);
    if (!pref.empty())
        libssh2_session_method_pref(conn->session, LIBSSH2_METHOD_HOSTKEY, pref.c_str());

    // zlib compression trades deployer and machine CPU for bytes: worth it on slow links
    // only. The server may decline it, and then nothing changes.
    if (opts.compress)
        libssh2_session_flag(conn->session, LIBSSH2_FLAG_COMPRESS, 1);

    int rc;
    while ((rc = libssh2_session_handshake(conn->session, conn->fd)) == LIBSSH2_ERROR_EAGAIN) {
        if (!conn->wait(deadline))
            throw Error(fmt::format("{}: no SSH handshake within {} s (connect timeout); is an "
                                    "SSH server listening on that port?",
                                    conn->where, opts.connect_timeout.count()));
    }
    if (rc != 0)
        conn->fail(rc, "negotiating the SSH connection");

    std::size_t len = 0;
    int type = 0;
    const char* raw = libssh2_session_hostkey(conn->session, &len, &type);
    if (!raw || len == 0)
        throw Error(fmt::format("{}: the server sent no host key", conn->where));

    std::unique_ptr<Session> session(new Session());
    session->host_key_ = HostKey::from_blob(std::string(raw, len));
    session->host_key_is_new_ = verifier.verify(session->host_key_);

    detail::authenticate(*conn);
    // Intervals are enforced by Connection::wait; libssh2 only formats the request.
    if (opts.keepalive.count() > 0)
        libssh2_keepalive_config(conn->session, 1, 1);
    session->conn_ = std::move(conn);
    return session;
}

Session::~Session() = default;

std::optional<std::chrono::steady_clock::duration> Session::round_trip() const {
    return conn_->round_trip;
}

std::string Session::compression() const {
    const char* method = libssh2_session_methods(conn_->session, LIBSSH2_METHOD_COMP_CS);
    return method ? method : "none";
}

void Session::set_idle_timeout(std::chrono::seconds timeout) {
    conn_->opts.idle_timeout = timeout;
}

const std::string& Session::where() const {
    return conn_->where;
}

} // namespace fedi::ssh
