#pragma once
// A real OpenSSH sshd on a free loopback port for tests: temporary ed25519 and RSA host
// keys, ed25519 and RSA client keys in authorized_keys, its own config and log. Needs
// root (sshd logs in as root) and /usr/sbin/sshd. Also a throwaway ssh-agent.
#include "core/error.hpp"
#include "core/process.hpp"
#include "ssh/ssh.hpp"
#include "temp_dir.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <sstream>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace fedi::test {

inline void write_file(const std::string& path, const std::string& content, mode_t mode = 0644) {
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << content;
        if (!out)
            throw Error("cannot write " + path);
    }
    chmod(path.c_str(), mode);
}

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Runs a local program and returns its stdout; throws with its stderr when it fails.
inline std::string run_checked(const std::vector<std::string>& argv,
                               const std::map<std::string, std::string>& env = {}) {
    ProcessOptions opts;
    opts.extra_env = env;
    auto r = run_process(argv, opts);
    if (!r.ok())
        throw Error(argv[0] + " failed (" + std::to_string(r.exit_code) + "): " + r.err);
    return r.out;
}

// A port nobody listens on right now (the kernel's pick for an ephemeral bind).
inline int free_loopback_port() {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    if (bind(s, (sockaddr*)&a, sizeof a) != 0 || getsockname(s, (sockaddr*)&a, &len) != 0) {
        close(s);
        throw Error("cannot pick a free port");
    }
    close(s);
    return ntohs(a.sin_port);
}

struct KeyPair {
    std::string private_path;
    std::string public_key;  // "ssh-ed25519 AAAA..." without comment
    std::string fingerprint; // "SHA256:..." as computed by ssh-keygen
};

inline KeyPair make_key(const std::string& dir, const std::string& name, const std::string& type,
                        const std::string& passphrase = "") {
    KeyPair k;
    k.private_path = dir + "/" + name;
    std::vector<std::string> argv = {"ssh-keygen", "-q", "-t",        type, "-N",
                                     passphrase,   "-C", "fedi-test", "-f", k.private_path};
    if (type == "rsa") {
        argv.push_back("-b");
        argv.push_back("1024"); // OpenSSH's minimum; quick to generate, fine for tests
    }
    run_checked(argv);
    std::istringstream pub(read_file(k.private_path + ".pub"));
    std::string t, blob;
    pub >> t >> blob;
    k.public_key = t + " " + blob;
    std::istringstream fp(
        run_checked({"ssh-keygen", "-l", "-E", "sha256", "-f", k.private_path + ".pub"}));
    std::string bits;
    fp >> bits >> k.fingerprint;
    return k;
}

// All processes below `root` (sshd's per-connection children and their commands).
inline std::vector<pid_t> descendants(pid_t root) {
    std::map<pid_t, std::vector<pid_t>> children;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        auto name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos)
            continue;
        std::string stat = read_file(entry.path().string() + "/stat");
        auto close_paren = stat.rfind(')');
        if (close_paren == std::string::npos)
            continue;
        std::istringstream rest(stat.substr(close_paren + 2));
        char state;
        pid_t ppid;
        if (rest >> state >> ppid)
            children[ppid].push_back(std::stoi(name));
    }
    std::vector<pid_t> out, todo = {root};
    while (!todo.empty()) {
        pid_t p = todo.back();
        todo.pop_back();
        for (pid_t c : children[p]) {
            out.push_back(c);
            todo.push_back(c);
        }
    }
    return out;
}

inline pid_t spawn_logged(const std::vector<std::string>& argv, const std::string& log,
                          const std::map<std::string, std::string>& env = {}) {
    std::vector<std::string> args = argv;
    std::vector<char*> cargs;
    for (auto& a : args)
        cargs.push_back(a.data());
    cargs.push_back(nullptr);
    pid_t pid = fork();
    if (pid < 0)
        throw Error("fork failed");
    if (pid == 0) {
        int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        for (const auto& [k, v] : env)
            setenv(k.c_str(), v.c_str(), 1);
        execv(cargs[0], cargs.data());
        _exit(127);
    }
    return pid;
}

// True once something on 127.0.0.1:port answers with an SSH banner.
inline bool ssh_banner_ready(int port) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    bool ok = false;
    if (connect(s, (sockaddr*)&a, sizeof a) == 0) {
        pollfd p{s, POLLIN, 0};
        char buf[8] = {};
        ok = poll(&p, 1, 2000) == 1 && recv(s, buf, 7, 0) == 7 && std::string(buf) == "SSH-2.0";
    }
    close(s);
    return ok;
}

// sshd_config lines that let clients use RSA with SHA-1 signatures ("ssh-rsa"), which
// OpenSSH 8.8+ disables by default and which is all libssh2 1.10 can do with RSA.
inline const char* const kAllowSshRsa = "HostKeyAlgorithms +ssh-rsa\n"
                                        "PubkeyAcceptedAlgorithms +ssh-rsa\n";

class Sshd {
  public:
    struct Options {
        std::string extra_config; // appended to sshd_config
        std::string log_level = "ERROR";
        bool rsa_keys = true; // RSA host and client keys (generating them takes time)
        bool ipv6 = false;    // also listen on [::1] (same port)
    };

    Sshd() : Sshd(Options{}) {}
    explicit Sshd(Options opts) {
        if (geteuid() != 0)
            throw Error("the sshd fixture needs root (sshd must log in as root)");
        if (access("/usr/sbin/sshd", X_OK) != 0)
            throw Error("/usr/sbin/sshd is missing: install openssh-server");
        mkdir("/run/sshd", 0755); // sshd's privilege separation directory
        dir_ = std::make_unique<TempDir>();
        const auto& d = dir_->path();
        host_ed25519 = make_key(d, "host_ed25519", "ed25519");
        client_ed25519 = make_key(d, "client_ed25519", "ed25519");
        if (opts.rsa_keys) {
            host_rsa = make_key(d, "host_rsa", "rsa");
            client_rsa = make_key(d, "client_rsa", "rsa");
        }
        write_file(d + "/authorized_keys",
                   client_ed25519.public_key + "\n" + client_rsa.public_key + "\n", 0600);
        log_ = d + "/sshd.log";
        for (int attempt = 0; attempt < 5; ++attempt) {
            port_ = free_loopback_port();
            write_file(d + "/sshd_config", config(opts));
            pid_ = spawn_logged({"/usr/sbin/sshd", "-D", "-e", "-f", d + "/sshd_config"}, log_);
            if (wait_ready())
                return;
            stop(); // most likely someone took the port in between: try another
        }
        throw Error("sshd did not start; its log:\n" + read_file(log_));
    }

    ~Sshd() { stop(); }
    Sshd(const Sshd&) = delete;
    Sshd& operator=(const Sshd&) = delete;

    int port() const { return port_; }
    const std::string& dir() const { return dir_->path(); }
    std::string log() const { return read_file(log_); }
    // How known_hosts names this server.
    std::string known_hosts_name() const { return "[127.0.0.1]:" + std::to_string(port_); }

    // Options for fedi::ssh that reach this server with the ed25519 client key and its
    // ed25519 host key pinned, and nothing from the user's environment.
    ssh::ConnectOptions connect_options() const {
        ssh::ConnectOptions o;
        o.host = "127.0.0.1";
        o.port = port_;
        o.label = "testhost";
        o.identity_file = client_ed25519.private_path;
        o.agent_socket.reset();
        o.default_identity_files.clear();
        o.host_keys.known_hosts_files.clear();
        o.host_keys.pinned = host_ed25519.public_key;
        o.connect_timeout = std::chrono::seconds(5);
        o.idle_timeout = std::chrono::seconds(20);
        return o;
    }

    // Kills sshd and every session it forked (a machine vanishing). Idempotent.
    void stop() {
        if (pid_ <= 0)
            return;
        kill(pid_, SIGSTOP); // no new children while we collect them
        for (pid_t p : descendants(pid_))
            kill(p, SIGKILL);
        kill(pid_, SIGKILL);
        int st;
        waitpid(pid_, &st, 0);
        pid_ = -1;
    }

    KeyPair host_ed25519, host_rsa, client_ed25519, client_rsa; // RSA ones may be empty

  private:
    std::string config(const Options& opts) const {
        const auto& d = dir_->path();
        std::ostringstream c;
        c << "ListenAddress 127.0.0.1:" << port_ << "\n";
        if (opts.ipv6)
            c << "ListenAddress [::1]:" << port_ << "\n";
        c << "HostKey " << host_ed25519.private_path << "\n"
          << (host_rsa.private_path.empty() ? "" : "HostKey " + host_rsa.private_path + "\n")
          << "AuthorizedKeysFile " << d << "/authorized_keys\n"
          << "PidFile none\n"
          << "StrictModes no\n"
          << "UsePAM no\n"
          << "UseDNS no\n"
          << "PermitRootLogin prohibit-password\n"
          << "PasswordAuthentication no\n"
          << "KbdInteractiveAuthentication no\n"
          << "PrintMotd no\n"
          << "MaxStartups 200\n"
          << "MaxSessions 50\n"
          // bash sources ~/.bashrc for ssh commands only at shell level 1; this machine's
          // root .bashrc is slow, and tests should not depend on it.
          << "SetEnv SHLVL=1\n"
          << "LogLevel " << opts.log_level << "\n"
          << opts.extra_config << "\n";
        return c.str();
    }

    bool wait_ready() {
        auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (std::chrono::steady_clock::now() < until) {
            int st;
            if (waitpid(pid_, &st, WNOHANG) == pid_) {
                pid_ = -1;
                return false;
            }
            if (ssh_banner_ready(port_))
                return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return false;
    }

    std::unique_ptr<TempDir> dir_;
    std::string log_;
    int port_ = 0;
    pid_t pid_ = -1;
};

// One sshd per test process, for tests that leave it running as they found it.
inline Sshd& shared_sshd() {
    static Sshd sshd;
    return sshd;
}

// The message of the fedi::Error that f throws, or nullopt when it throws none.
template <typename F> std::optional<std::string> error_message(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.describe();
    }
    return std::nullopt;
}

// A private ssh-agent on a socket in its own temp dir.
class SshAgent {
  public:
    SshAgent() {
        socket = dir_ / "agent.sock";
        pid_ = spawn_logged({"/usr/bin/ssh-agent", "-D", "-a", socket}, dir_ / "agent.log");
        for (int i = 0; i < 250 && access(socket.c_str(), F_OK) != 0; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (access(socket.c_str(), F_OK) != 0)
            throw Error("ssh-agent did not start: " + read_file(dir_ / "agent.log"));
    }
    ~SshAgent() {
        kill(pid_, SIGTERM);
        int st;
        waitpid(pid_, &st, 0);
    }
    SshAgent(const SshAgent&) = delete;
    SshAgent& operator=(const SshAgent&) = delete;

    void add(const std::string& private_key) {
        run_checked({"ssh-add", "-q", private_key}, {{"SSH_AUTH_SOCK", socket}});
    }

    std::string socket;

  private:
    TempDir dir_;
    pid_t pid_ = -1;
};

} // namespace fedi::test
