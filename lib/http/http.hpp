#pragma once
// A small HTTP(S) client over libcurl: one request in, one response out, bodies in
// memory. Each Client owns its own curl handle; use one Client per thread.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fedi::http {

struct Header {
    std::string name;
    std::string value;
    bool operator==(const Header&) const = default;
};
// Ordered, duplicates allowed: the order in which headers are sent.
using Headers = std::vector<Header>;

// The first header named `name` (case-insensitive), if any.
std::optional<std::string> find_header(const Headers& headers, std::string_view name);

struct Request {
    std::string method = "GET";
    std::string url; // sent as is: the caller percent-encodes the path and query
    Headers headers;
    std::string body;
};

struct Response {
    long status = 0;
    std::string reason; // the status line's reason phrase (some servers put the error there)
    Headers headers;    // of the final response, names as the server spelled them
    std::string body;
    // PEM of the server's leaf certificate, when ClientOptions::capture_certificate is set.
    std::string peer_certificate;
    std::optional<std::string> header(std::string_view name) const {
        return find_header(headers, name);
    }
};

struct TlsOptions {
    // PEM file of CA certificates to trust instead of the system's.
    std::string ca_file;
    // The server's public key, SHA-256 of its DER SubjectPublicKeyInfo, either as curl
    // writes it ("sha256//BASE64") or as 64 hex digits (colons allowed). A matching key
    // is trusted without a CA chain (self-signed servers); with ca_file both must hold.
    std::string pinned_public_key;
    // Skip all verification. Only when the user asked for it.
    bool insecure = false;
};

struct ClientOptions {
    TlsOptions tls;
    std::chrono::milliseconds connect_timeout{10'000};
    std::chrono::milliseconds total_timeout{120'000}; // whole request, 0 = none
    std::string user_agent = "fedi";
    // Fill Response::peer_certificate (for checking a certificate fingerprint); each
    // request then makes a new connection.
    bool capture_certificate = false;
};

class Client {
  public:
    explicit Client(ClientOptions options = {});
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Sends the request and returns whatever status the server answered. Throws
    // fedi::Error (naming the method and URL, never a header value) when no response
    // arrives: connection refused, TLS failure, timeout.
    Response send(const Request& request);

  private:
    ClientOptions options_;
    std::string pin_; // pinned key in curl's form
    void* curl_;      // CURL*, kept out of this header
};

// The URL for messages: scheme, host, port and path; user info and query (which may hold
// presigned credentials) are left out.
std::string redact_url(std::string_view url);

// Converts a pinned key given as hex or "sha256//BASE64" into curl's form; throws a
// usage error for anything else.
std::string normalise_pin(std::string_view pin);

// A short one-line excerpt of a response body, for error messages.
std::string body_excerpt(std::string_view body);

} // namespace fedi::http
