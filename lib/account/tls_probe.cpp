#include "account/tls_probe.hpp"

#include <cstring>
#include <memory>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace fedi::account {

namespace {

struct Endpoint {
    std::string host;
    std::string port;
};

std::optional<Endpoint> endpoint_of(const std::string& url) {
    bool ldaps = url.rfind("ldaps://", 0) == 0;
    if (!ldaps && url.rfind("ldap://", 0) != 0)
        return std::nullopt;
    auto rest = url.substr(ldaps ? 8 : 7);
    rest = rest.substr(0, rest.find('/'));
    Endpoint e{rest, ldaps ? "636" : "389"};
    if (!rest.empty() && rest[0] == '[') { // [IPv6]:port
        auto close = rest.find(']');
        if (close == std::string::npos)
            return std::nullopt;
        e.host = rest.substr(1, close - 1);
        if (close + 1 < rest.size() && rest[close + 1] == ':')
            e.port = rest.substr(close + 2);
    } else if (auto colon = rest.rfind(':'); colon != std::string::npos) {
        e.host = rest.substr(0, colon);
        e.port = rest.substr(colon + 1);
    }
    if (e.host.empty())
        e.host = "localhost";
    return e;
}

class Socket {
  public:
    Socket(const Endpoint& e, int timeout_seconds) {
        addrinfo hints{};
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* res = nullptr;
        if (::getaddrinfo(e.host.c_str(), e.port.c_str(), &hints, &res) != 0)
            return;
        timeval tv{timeout_seconds, 0};
        for (auto* a = res; a && fd_ < 0; a = a->ai_next) {
            int fd = ::socket(a->ai_family, a->ai_socktype, a->ai_protocol);
            if (fd < 0)
                continue;
            ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
            if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0)
                fd_ = fd;
            else
                ::close(fd);
        }
        ::freeaddrinfo(res);
    }
    ~Socket() {
        if (fd_ >= 0)
            ::close(fd_);
    }
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    int fd() const { return fd_; }

  private:
    int fd_ = -1;
};

// Sends the StartTLS extended request (RFC 4511 4.14) and reads whether it succeeded.
bool start_tls(int fd) {
    static const char oid[] = "1.3.6.1.4.1.1466.20037";
    std::string req = {0x30, 0x1d, 0x02, 0x01, 0x01, 0x77, 0x18, char(0x80), 0x16};
    req += oid;
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
        return false;
    unsigned char buf[512];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    // ExtendedResponse [APPLICATION 24] begins with its resultCode (ENUMERATED).
    for (ssize_t i = 0; i + 4 < n; ++i)
        if (buf[i] == 0x78) {
            std::size_t j = i + 2 + ((buf[i + 1] & 0x80) ? (buf[i + 1] & 0x7f) : 0);
            return static_cast<ssize_t>(j + 2) < n && buf[j] == 0x0a && buf[j + 1] == 0x01 &&
                   buf[j + 2] == 0x00;
        }
    return false;
}

} // namespace

std::optional<std::string> certificate_problem(const std::string& url,
                                               const std::optional<std::string>& ca_file,
                                               bool use_start_tls, int timeout_seconds) {
    auto e = endpoint_of(url);
    if (!e)
        return std::nullopt;
    Socket sock(*e, timeout_seconds);
    if (sock.fd() < 0 || (use_start_tls && !start_tls(sock.fd())))
        return std::nullopt;
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                          SSL_CTX_free);
    if (!ctx)
        return std::nullopt;
    if (ca_file) {
        if (SSL_CTX_load_verify_locations(ctx.get(), ca_file->c_str(), nullptr) != 1) {
            ERR_clear_error();
            return "caFile " + *ca_file + " holds no PEM certificate that could be read";
        }
    } else {
        SSL_CTX_set_default_verify_paths(ctx.get());
    }
    // Verification is judged after the handshake, so that its result can be named.
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
    if (!ssl)
        return std::nullopt;
    SSL_set_tlsext_host_name(ssl.get(), e->host.c_str());
    SSL_set1_host(ssl.get(), e->host.c_str());
    SSL_set_fd(ssl.get(), sock.fd());
    if (SSL_connect(ssl.get()) != 1) {
        ERR_clear_error();
        return std::nullopt;
    }
    long result = SSL_get_verify_result(ssl.get());
    SSL_shutdown(ssl.get());
    ERR_clear_error();
    if (result == X509_V_OK)
        return std::nullopt;
    return X509_verify_cert_error_string(result);
}

} // namespace fedi::account
