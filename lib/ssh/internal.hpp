#pragma once
// Pieces shared by the ssh module's sources; not part of its public API.
#include "core/enum_names.hpp"
#include "core/text.hpp"
#include "ssh/ssh.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <libssh2.h>

namespace fedi::ssh {

// The key type name a wire-format public key blob starts with.
std::optional<std::string> blob_key_type(const std::string& blob);

namespace detail {

inline bool is_socket_error(int rc) {
    return rc == LIBSSH2_ERROR_SOCKET_RECV || rc == LIBSSH2_ERROR_SOCKET_SEND ||
           rc == LIBSSH2_ERROR_SOCKET_DISCONNECT || rc == LIBSSH2_ERROR_SOCKET_NONE ||
           rc == LIBSSH2_ERROR_SOCKET_TIMEOUT;
}

using Clock = std::chrono::steady_clock;

// One TCP connection and its libssh2 session, always in non-blocking mode: every libssh2
// call that says EAGAIN is retried after wait(), which also sends keepalives and notices
// a dead peer.
class Connection : fedi::NonCopyable {
  public:
    explicit Connection(const ConnectOptions& opts);
    ~Connection();

    // Resolves the host and connects (IPv4 or IPv6) before `deadline`.
    void open_socket(Clock::time_point deadline);

    // Waits until the socket is ready in the directions libssh2 is blocked on, or until
    // `deadline` (returns false). Throws when keepalives go unanswered.
    bool wait(Clock::time_point deadline);

    // Throws an Error built from libssh2's last error; socket errors read as a lost
    // connection. Marks the connection broken so later calls fail at once.
    [[noreturn]] void fail(int rc, const std::string& doing);
    [[noreturn]] void idle_failure(const std::string& doing);
    void check_usable() const;
    bool broken() const { return broken_; }
    // Bytes moved: the peer is alive, so pending keepalives count as answered.
    void note_progress();
    // Shuts the socket down so that libssh2 calls fail at once (used when giving up).
    void abort();

    // True while no other packet may be sent: a call said EAGAIN with its packet half
    // sent, and libssh2 1.10 refuses a different packet until that one is finished.
    bool send_pending = false;

    // The shortest channel open seen: one network round trip, the server answering
    // at once (no process starts for it).
    std::optional<Clock::duration> round_trip;

    ConnectOptions opts;
    std::string where; // "label (host:port)"
    int fd = -1;
    LIBSSH2_SESSION* session = nullptr;

  private:
    bool socket_writable() const;
    void maybe_keepalive(Clock::time_point now);

    bool broken_ = false;
    std::string broken_reason_;
    Clock::time_point last_rx_;
    Clock::time_point last_keepalive_;
    int unanswered_keepalives_ = 0;
};

// Decides whether a host key is acceptable, from the pinned key, known_hosts files and
// keys fedi trusts from its state.
class HostKeyVerifier {
  public:
    HostKeyVerifier(LIBSSH2_SESSION* session, const ConnectOptions& opts, std::string where);
    ~HostKeyVerifier();
    HostKeyVerifier(const HostKeyVerifier&) = delete;
    HostKeyVerifier& operator=(const HostKeyVerifier&) = delete;

    // Key types we know for this host, strongest first: negotiate these first.
    std::vector<std::string> known_types() const;
    // Returns true when accepted only because accept_new is set; throws when refused.
    bool verify(const HostKey& offered) const;

  private:
    struct Known {
        HostKey key;
        std::string source; // where we learned it, for messages
        std::string fix;    // how the operator replaces it if the change is genuine
    };
    struct File;
    void refuse_if_revoked(const HostKey& offered) const;
    // In fedi's list or one of the known_hosts files.
    bool is_known(const HostKey& offered) const;
    // Another key is known for the host: the error says which and how to replace it.
    [[noreturn]] void refuse_changed(const HostKey& offered) const;

    std::string lookup_name_;
    std::string where_;
    const HostKeyPolicy& policy_;
    std::vector<std::unique_ptr<File>> files_;
    std::vector<Known> known_;
    std::vector<std::string> revoked_; // base64 blobs from @revoked lines
};

// Host key algorithm preference string putting `types` first (for method_pref).
std::string hostkey_method_pref(LIBSSH2_SESSION* session, const std::vector<std::string>& types);

// Tries the identity file, or the agent and default key files; throws listing what was
// tried.
void authenticate(Connection& conn);

} // namespace detail
} // namespace fedi::ssh
