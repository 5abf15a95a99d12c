// Public key authentication: the given identity file only, or else each ssh-agent
// identity and then the default key files. Messages list what was tried, never key data.
#include "core/error.hpp"
#include "ssh/internal.hpp"

#include <cctype>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <sys/stat.h>

#include <fmt/format.h>

namespace fedi::ssh::detail {
namespace {

enum class KeyFileState { Ok, Missing, Unreadable, NotAKey, Encrypted };

struct KeyFileInfo {
    KeyFileState state;
    std::string type; // "ssh-ed25519", "ssh-rsa", ... when known
};

// libssh2 1.10 has no rsa-sha2-256/512: it signs with RSA keys only as "ssh-rsa" (SHA-1).
constexpr const char* kRsaNote =
    "libssh2 1.10 can only sign with RSA keys as ssh-rsa (SHA-1), which OpenSSH 8.8 and "
    "later refuse by default: use an ed25519 key";

// An SSH wire string (uint32 length + bytes) at pos, advancing pos.
std::optional<std::string> wire_string(const std::string& buf, std::size_t& pos) {
    if (pos + 4 > buf.size())
        return std::nullopt;
    std::size_t len = (unsigned char)buf[pos] << 24 | (unsigned char)buf[pos + 1] << 16 |
                      (unsigned char)buf[pos + 2] << 8 | (unsigned char)buf[pos + 3];
    if (pos + 4 + len > buf.size())
        return std::nullopt;
    auto s = buf.substr(pos + 4, len);
    pos += 4 + len;
    return s;
}

// Looks at a private key file without handing it to libssh2, whose errors for a missing
// file or a passphrase are vague.
KeyFileInfo inspect_key_file(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0)
        return {KeyFileState::Missing, ""};
    std::ifstream in(path);
    if (!in)
        return {KeyFileState::Unreadable, ""};
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    const std::string begin = "-----BEGIN OPENSSH PRIVATE KEY-----";
    auto b = text.find(begin);
    if (b != std::string::npos) {
        auto e = text.find("-----END OPENSSH PRIVATE KEY-----", b);
        if (e == std::string::npos)
            return {KeyFileState::NotAKey, ""};
        std::string body;
        for (std::size_t i = b + begin.size(); i < e; ++i)
            if (!std::isspace((unsigned char)text[i]))
                body += text[i];
        auto raw = base64_decode(body);
        const std::string magic("openssh-key-v1\0", 15);
        if (!raw || raw->compare(0, magic.size(), magic) != 0)
            return {KeyFileState::NotAKey, ""};
        // cipher name ("none" = unencrypted), kdf name, kdf options, key count, and the
        // first public key, which is never encrypted.
        std::size_t pos = magic.size();
        auto cipher = wire_string(*raw, pos);
        auto kdf = wire_string(*raw, pos);
        auto kdf_options = wire_string(*raw, pos);
        pos += 4;
        auto pub = wire_string(*raw, pos);
        if (!cipher || !kdf || !kdf_options || !pub)
            return {KeyFileState::NotAKey, ""};
        return {*cipher == "none" ? KeyFileState::Ok : KeyFileState::Encrypted,
                blob_key_type(*pub).value_or("")};
    }
    if (text.find("-----BEGIN ") == std::string::npos ||
        text.find("PRIVATE KEY-----") == std::string::npos)
        return {KeyFileState::NotAKey, ""};
    std::string type = text.find("BEGIN RSA PRIVATE KEY") != std::string::npos ? "ssh-rsa" : "";
    if (text.find("ENCRYPTED") != std::string::npos)
        return {KeyFileState::Encrypted, type}; // PEM "Proc-Type: 4,ENCRYPTED" or PKCS#8
    return {KeyFileState::Ok, type};
}

class Authenticator {
  public:
    explicit Authenticator(Connection& c) : c_(c), user_(c.opts.user) {
        deadline_ = Clock::now() + std::max(c.opts.connect_timeout, c.opts.idle_timeout);
    }

    void run() {
        // Keys first: asking which methods the server accepts costs a round trip that a
        // key accepted at once does not need, so it is asked only to explain a failure.
        if (try_keys() || !publickey_offered())
            return;
        std::string list;
        for (const auto& t : tried_)
            list += "\n  - " + t;
        std::string advice =
            offered_ > 0
                ? fmt::format("Add one of these public keys to ~{}/.ssh/authorized_keys on the "
                              "machine, or set the identity file to use.",
                              user_)
                : "fedi had no key to offer: set the machine's identity file, load a key into "
                  "ssh-agent, or create ~/.ssh/id_ed25519.";
        throw Error(fmt::format("{}: authentication as {} failed. Tried:{}\n{}", c_.where, user_,
                                list, advice));
    }

  private:
    bool try_keys() {
        if (c_.opts.identity_file)
            return try_file(*c_.opts.identity_file, true);
        if (c_.opts.agent_socket && try_agent(*c_.opts.agent_socket))
            return true;
        for (const auto& f : c_.opts.default_identity_files)
            if (try_file(f, false))
                return true;
        if (!c_.opts.agent_socket)
            tried_.push_back("no ssh-agent (SSH_AUTH_SOCK is not set)");
        return false;
    }

    void wait(const char* doing) {
        if (!c_.wait(deadline_))
            c_.idle_failure(doing);
    }

    // Returns false when authenticated after all (the server accepted "none"); throws
    // when the server takes no public keys.
    bool publickey_offered() {
        char* methods;
        while (!(methods = libssh2_userauth_list(c_.session, user_.c_str(), user_.size()))) {
            if (libssh2_userauth_authenticated(c_.session))
                return false;
            int e = libssh2_session_last_errno(c_.session);
            if (e != LIBSSH2_ERROR_EAGAIN)
                c_.fail(e, "asking which authentication methods the server accepts");
            wait("asking for authentication methods");
        }
        std::string list(methods);
        if (("," + list + ",").find(",publickey,") == std::string::npos)
            throw Error(fmt::format("{}: the server does not accept public key authentication "
                                    "for {} (it offers: {}); fedi only uses keys",
                                    c_.where, user_, list));
        return true;
    }

    bool try_file(const std::string& path, bool explicit_file) {
        auto info = inspect_key_file(path);
        switch (info.state) {
        case KeyFileState::Missing:
            if (explicit_file)
                throw Error(fmt::format("{}: identity file {} does not exist", c_.where, path));
            tried_.push_back(fmt::format("{} (not present)", path));
            return false;
        case KeyFileState::Unreadable:
            if (explicit_file)
                throw Error(fmt::format("{}: cannot read identity file {}", c_.where, path));
            tried_.push_back(fmt::format("{} (not readable)", path));
            return false;
        case KeyFileState::NotAKey:
            if (explicit_file)
                throw Error(
                    fmt::format("{}: identity file {} is not a private key", c_.where, path));
            tried_.push_back(fmt::format("{} (not a private key)", path));
            return false;
        case KeyFileState::Encrypted:
            if (explicit_file)
                throw Error(fmt::format(
                    "{}: identity file {} is protected by a passphrase; fedi cannot ask for "
                    "it. Load the key into ssh-agent (ssh-add {}) and leave the identity file "
                    "unset, or use a key without a passphrase",
                    c_.where, path, path));
            tried_.push_back(
                fmt::format("{} (protected by a passphrase: load it with ssh-add)", path));
            return false;
        case KeyFileState::Ok:
            break;
        }
        ++offered_;
        int rc;
        while ((rc = libssh2_userauth_publickey_fromfile_ex(c_.session, user_.c_str(), user_.size(),
                                                            nullptr, path.c_str(), nullptr)) ==
               LIBSSH2_ERROR_EAGAIN)
            wait("authenticating");
        if (rc == 0)
            return true;
        if (rc == LIBSSH2_ERROR_AUTHENTICATION_FAILED || rc == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED) {
            tried_.push_back(
                fmt::format("{} (refused by the server{})", path,
                            info.type == "ssh-rsa" ? std::string("; ") + kRsaNote : ""));
            return false;
        }
        if (rc == LIBSSH2_ERROR_FILE || rc == LIBSSH2_ERROR_METHOD_NOT_SUPPORTED ||
            rc == LIBSSH2_ERROR_PUBLICKEY_UNRECOGNIZED) {
            char* msg = nullptr;
            libssh2_session_last_error(c_.session, &msg, nullptr, 0);
            std::string why = msg ? msg : "unsupported key";
            if (explicit_file)
                throw Error(
                    fmt::format("{}: cannot use identity file {}: {}", c_.where, path, why));
            tried_.push_back(fmt::format("{} (cannot be used: {})", path, why));
            return false;
        }
        c_.fail(rc, "authenticating with " + path);
    }

    bool try_agent(const std::string& socket) {
        LIBSSH2_AGENT* agent = libssh2_agent_init(c_.session);
        if (!agent)
            throw Error("libssh2 cannot allocate an agent handle");
        std::unique_ptr<LIBSSH2_AGENT, void (*)(LIBSSH2_AGENT*)> guard(agent, [](LIBSSH2_AGENT* a) {
            libssh2_agent_disconnect(a);
            libssh2_agent_free(a);
        });
        libssh2_agent_set_identity_path(agent, socket.c_str());
        if (libssh2_agent_connect(agent) != 0) {
            tried_.push_back(fmt::format("ssh-agent at {} (cannot connect to it)", socket));
            return false;
        }
        if (libssh2_agent_list_identities(agent) != 0) {
            tried_.push_back(fmt::format("ssh-agent at {} (cannot list its keys)", socket));
            return false;
        }
        libssh2_agent_publickey* id = nullptr;
        int count = 0;
        std::vector<std::string> refused;
        bool any_rsa = false;
        for (;;) {
            int rc = libssh2_agent_get_identity(agent, &id, id);
            if (rc != 0)
                break;
            ++count;
            ++offered_;
            while ((rc = libssh2_agent_userauth(agent, user_.c_str(), id)) == LIBSSH2_ERROR_EAGAIN)
                wait("authenticating with ssh-agent");
            if (rc == 0)
                return true;
            std::string blob(reinterpret_cast<const char*>(id->blob), id->blob_len);
            auto key = HostKey::from_blob(blob);
            refused.push_back(fmt::format("{} {} '{}'", key.type, key.fingerprint_sha256(),
                                          id->comment ? id->comment : ""));
            any_rsa = any_rsa || key.type == "ssh-rsa";
            if (is_socket_error(rc))
                c_.fail(rc, "authenticating with ssh-agent");
        }
        if (count == 0) {
            tried_.push_back(fmt::format("ssh-agent at {} (it holds no keys)", socket));
        } else {
            std::string keys;
            for (const auto& r : refused)
                keys += (keys.empty() ? "" : ", ") + r;
            tried_.push_back(fmt::format("ssh-agent at {}: {} refused{}", socket, keys,
                                         any_rsa ? std::string(" (") + kRsaNote + ")" : ""));
        }
        return false;
    }

    Connection& c_;
    std::string user_;
    Clock::time_point deadline_;
    std::vector<std::string> tried_;
    int offered_ = 0; // keys actually offered to the server
};

} // namespace

void authenticate(Connection& conn) {
    Authenticator(conn).run();
}

} // namespace fedi::ssh::detail
