#pragma once
// SSH client on libssh2: one Session per machine, used from one thread at a time
// (sessions of different machines may run in parallel threads). Commands are strings run
// by the remote user's shell; quote words with fedi::shell_quote. Secrets go on stdin,
// never in the command line, and stdin data is never logged.
#include "core/enum_names.hpp"
#include "core/io.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace fedi::ssh {

// A public host key, e.g. type "ssh-ed25519", blob "AAAAC3Nza...".
struct HostKey {
    std::string type;
    std::string blob_base64;

    std::string openssh() const;            // "ssh-ed25519 AAAA..."
    std::string fingerprint_sha256() const; // "SHA256:..." as OpenSSH prints it
    // Parses "type base64 [comment]"; throws usage_error on anything else (including a
    // blob whose inner type disagrees with the declared one).
    static HostKey parse(const std::string& openssh_line);
    static HostKey from_blob(const std::string& raw_blob); // raw wire-format key blob
    bool operator==(const HostKey& o) const {
        return type == o.type && blob_base64 == o.blob_base64;
    }
};

// $HOME/.ssh/known_hosts
std::vector<std::string> default_known_hosts_files();
// $HOME/.ssh/id_ed25519, $HOME/.ssh/id_rsa
std::vector<std::string> default_identity_files();
// $SSH_AUTH_SOCK, if set
std::optional<std::string> default_agent_socket();

struct HostKeyPolicy {
    std::optional<std::string> pinned; // from the deployment: only this key is accepted
    // Checked when nothing is pinned (missing files are skipped, like OpenSSH does).
    std::vector<std::string> known_hosts_files = default_known_hosts_files();
    std::vector<std::string> trusted_keys; // keys fedi recorded in its state for this machine
    bool accept_new = false;               // --accept-new-host-keys
};

struct ConnectOptions {
    std::string host;
    int port = 22;
    std::string user = "root";
    // When set, only this key is tried; otherwise the agent, then default_identity_files.
    std::optional<std::string> identity_file;
    std::optional<std::string> agent_socket = default_agent_socket();
    std::vector<std::string> default_identity_files = ssh::default_identity_files();
    HostKeyPolicy host_keys;
    std::chrono::seconds connect_timeout{15}; // TCP connect and SSH handshake
    // A read or write (or a command's output) that makes no progress this long fails.
    std::chrono::seconds idle_timeout{300};
    // Keepalive interval while waiting; 3 unanswered ones mean the connection is dead.
    std::chrono::seconds keepalive{15};
    // How much output a command may send ahead of our reading, per channel. Larger helps
    // downloads over long links (throughput <= window / round trip); costs memory.
    std::size_t receive_window = 8 << 20;
    bool compress = false; // zlib on the wire, for slow links
    std::string label;     // machine name for messages
};

struct ExecResult {
    int exit_status = -1; // the exit status, or 128 + signal when killed by a signal
    std::string out;
    std::string err;
    bool ok() const { return exit_status == 0; }
};

namespace detail {
class Connection;
}

// A running remote command: reading gives its stdout, writing feeds its stdin. stderr
// is drained alongside (so a chatty command never stalls) and kept for stderr_text().
// Stdout that arrives while a write waits is buffered, so a command echoing its input
// cannot deadlock a writer.
class Channel : public fedi::Duplex, fedi::NonCopyable {
  public:
    ~Channel() override;

    std::size_t read_some(char* buf, std::size_t n) override;
    void write(const char* buf, std::size_t n) override;
    using Duplex::write;
    void close_input() override; // EOF to the command's stdin
    // Sends EOF, discards unread stdout, waits for the command to end; returns its exit
    // status (128 + signal when killed). Throws when the connection drops first.
    int wait_exit_status();
    std::string stderr_text() const;
    void on_stderr_line(std::function<void(const std::string&)> cb);

  private:
    friend class Session;
    struct State;
    explicit Channel(std::unique_ptr<State> state);
    std::unique_ptr<State> s_;
};

class Session {
  public:
    // Connects, checks the host key against the policy and authenticates.
    // Throws fedi::Error naming the machine and what to do about it.
    static std::unique_ptr<Session> connect(const ConnectOptions& opts);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    const HostKey& host_key() const { return host_key_; }
    // True when the key was accepted only because accept_new was set: record it.
    bool host_key_is_new() const { return host_key_is_new_; }
    // "label (host:port)" for messages.
    const std::string& where() const;
    // The compression negotiated for what we send ("none", "zlib@openssh.com", ...).
    std::string compression() const;
    // The network's round trip, as the quickest channel opened so far took (none before
    // the first).
    std::optional<std::chrono::steady_clock::duration> round_trip() const;

    // Runs a command to completion, feeding stdin_data and capturing both outputs (the
    // callbacks also get each line as it arrives). A non-zero exit is not an error.
    ExecResult run(const std::string& command, const std::optional<std::string>& stdin_data = {},
                   std::function<void(const std::string&)> on_stdout_line = {},
                   std::function<void(const std::string&)> on_stderr_line = {});

    // Starts a command and returns its streams. The channel keeps the connection alive.
    std::unique_ptr<Channel> exec(const std::string& command);

    // Changes how long a read or write may make no progress from now on (e.g. shorter
    // while following a command that prints a heartbeat).
    void set_idle_timeout(std::chrono::seconds timeout);

  private:
    Session() = default;
    std::shared_ptr<detail::Connection> conn_;
    HostKey host_key_;
    bool host_key_is_new_ = false;
};

} // namespace fedi::ssh
