// The HTTP client against a real loopback server (test/tools/http_echo_server.py), over
// plain HTTP and over TLS with a certificate made here by the openssl command.
#include "core/error.hpp"
#include "core/process.hpp"
#include "http/http.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

using namespace fedi;
namespace fs = std::filesystem;

using fedi::test::TempDir;

namespace {

const std::string echo_server =
    (fs::path(FEDI_TEST_DATA_DIR) / ".." / "tools" / "http_echo_server.py").string();

// The echo server as a child process; stopped (SIGTERM) when this goes out of scope.
struct EchoServer {
    ChildProcess child;
    std::string base;

    explicit EchoServer(std::vector<std::string> args = {}, const std::string& scheme = "http")
        : child(make_argv(std::move(args))) {
        std::string line;
        char c;
        while (child.read_some(&c, 1) == 1 && c != '\n')
            line += c;
        REQUIRE(!line.empty());
        base = scheme + "://127.0.0.1:" + line;
    }
    static std::vector<std::string> make_argv(std::vector<std::string> args) {
        args.insert(args.begin(), {"python3", echo_server});
        return args;
    }
};

nlohmann::json echo_of(const http::Response& r) {
    REQUIRE(r.status == 200);
    return nlohmann::json::parse(r.body);
}

std::string sh(const std::string& script) {
    auto r = run_process({"sh", "-c", script});
    INFO(r.err);
    REQUIRE(r.ok());
    auto out = r.out;
    while (!out.empty() && out.back() == '\n')
        out.pop_back();
    return out;
}

} // namespace

TEST_CASE("HTTP client sends method, ordered headers and body, and returns any status") {
    EchoServer server;
    http::Client client;

    http::Request put{"PUT",
                      server.base + "/a/b?x=1",
                      {{"X-One", "1"}, {"X-Two", "2"}},
                      std::string("body\0bytes", 10)};
    auto echo = echo_of(client.send(put));
    CHECK(echo["method"] == "PUT");
    CHECK(echo["path"] == "/a/b?x=1");
    CHECK(echo["body"] == std::string("body\0bytes", 10));
    std::vector<std::string> names;
    for (const auto& h : echo["headers"])
        names.push_back(h[0]);
    auto one = std::find(names.begin(), names.end(), "X-One");
    auto two = std::find(names.begin(), names.end(), "X-Two");
    CHECK(one < two);
    CHECK(two != names.end());
    // curl adds neither a form Content-Type nor Expect: 100-continue on its own.
    CHECK(std::find(names.begin(), names.end(), "Content-Type") == names.end());
    CHECK(std::find(names.begin(), names.end(), "Expect") == names.end());

    // An empty PUT still says Content-Length: 0, as S3 wants.
    auto empty = echo_of(client.send({"PUT", server.base + "/", {}, ""}));
    bool has_length = false;
    for (const auto& h : empty["headers"])
        has_length = has_length || (h[0] == "Content-Length" && h[1] == "0");
    CHECK(has_length);

    // A dot segment is sent as written: the signature covers the path as sent.
    CHECK(echo_of(client.send({"GET", server.base + "/a/../b", {}, ""}))["path"] == "/a/../b");

    auto missing = client.send({"GET", server.base + "/status/404", {}, ""});
    CHECK(missing.status == 404);
    CHECK(missing.reason == "Not Found");
    CHECK(missing.header("x-echo") == "yes");

    auto head = client.send({"HEAD", server.base + "/", {}, ""});
    CHECK(head.status == 200);
    CHECK(head.body.empty());
    CHECK(head.header("Content-Length"));
}

TEST_CASE("HTTP client errors name the URL but no secret") {
    // A port nobody listens on: bind, read the port, close.
    auto port = sh("python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\", 0)); "
                   "print(s.getsockname()[1])'");
    http::Client client;
    http::Request r{"GET",
                    "http://user:pw@127.0.0.1:" + port + "/bucket/key?X-Amz-Signature=abc",
                    {{"Authorization", "AWS4-HMAC-SHA256 Credential=SECRETKEYID/..."}},
                    ""};
    try {
        client.send(r);
        FAIL("no error");
    } catch (const Error& e) {
        std::string m = e.describe();
        CHECK_THAT(m, Catch::Contains("GET http://127.0.0.1:" + port + "/bucket/key"));
        CHECK_THAT(m, !Catch::Contains("SECRETKEYID"));
        CHECK_THAT(m, !Catch::Contains("pw@"));
        CHECK_THAT(m, !Catch::Contains("X-Amz-Signature"));
    }
}

TEST_CASE("HTTP client gives up after the total timeout") {
    EchoServer server;
    http::ClientOptions options;
    options.total_timeout = std::chrono::milliseconds(500);
    http::Client client(options);
    auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_WITH(client.send({"GET", server.base + "/slow", {}, ""}),
                      Catch::Contains("/slow") && Catch::Contains("timed out"));
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
}

TEST_CASE("HTTP clients on several threads at once") {
    EchoServer server;
    std::vector<std::thread> threads;
    std::vector<int> ok(4, 0);
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            http::Client client;
            for (int i = 0; i < 10; ++i) {
                auto path = "/t" + std::to_string(t) + "/" + std::to_string(i);
                auto r = client.send({"GET", server.base + path, {}, ""});
                if (r.status == 200 && nlohmann::json::parse(r.body)["path"] == path)
                    ++ok[t];
            }
        });
    for (auto& th : threads)
        th.join();
    CHECK(ok == std::vector<int>(4, 10));
}

TEST_CASE("HTTP client TLS: CA file, pinned public key, insecure") {
    TempDir dir;
    auto cert = dir / "cert.pem", key = dir / "key.pem";
    sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
       "-subj /CN=fedi-test -addext subjectAltName=IP:127.0.0.1 -keyout " +
       key + " -out " + cert + " 2>/dev/null");
    // The pin as the openssl tool computes it: SHA-256 of the DER SubjectPublicKeyInfo.
    auto spki = "openssl x509 -in " + cert +
                " -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 ";
    auto pin_base64 = "sha256//" + sh(spki + "-binary | base64");
    auto pin_hex = sh(spki + "-hex | sed 's/.*= //'");
    // Another key's pin, which must be refused.
    auto other_pin = "sha256//" + sh("openssl genpkey -algorithm ec -pkeyopt "
                                     "ec_paramgen_curve:P-256 2>/dev/null | openssl pkey "
                                     "-pubout -outform der | openssl dgst -sha256 -binary | "
                                     "base64");

    EchoServer server({"--cert", cert, "--key", key}, "https");
    auto get = [&](http::TlsOptions tls) {
        http::ClientOptions options;
        options.tls = tls;
        options.connect_timeout = std::chrono::seconds(5);
        http::Client client(options);
        return client.send({"GET", server.base + "/tls", {}, ""});
    };

    // the system CAs do not trust a self-signed certificate
    CHECK_THROWS_WITH(get({}), Catch::Contains(server.base + "/tls"));
    // a CA file that holds it does
    CHECK(get({cert, "", false}).status == 200);
    // the right pinned key is enough, in either notation
    CHECK(get({"", pin_base64, false}).status == 200);
    CHECK(get({"", pin_hex, false}).status == 200);
    // a wrong pinned key is refused, with or without a CA file
    CHECK_THROWS_WITH(get({"", other_pin, false}), Catch::Contains(server.base + "/tls"));
    CHECK_THROWS(get({cert, other_pin, false}));
    // insecure skips verification
    CHECK(get({"", "", true}).status == 200);
    // the server's certificate can be captured (to check a fingerprint)
    {
        http::ClientOptions options;
        options.tls.insecure = true;
        options.capture_certificate = true;
        http::Client client(options);
        auto pem = client.send({"GET", server.base + "/tls", {}, ""}).peer_certificate;
        auto file = sh("sed -n '/BEGIN/,/END/p' " + cert) + "\n";
        CHECK(pem == file);
        // also on the next request, which must not reuse the connection
        CHECK(client.send({"GET", server.base + "/tls", {}, ""}).peer_certificate == file);
        // not asked for, not there
        CHECK(get({"", "", true}).peer_certificate.empty());
    }
    // a malformed pin is a usage error
    CHECK_THROWS_WITH(get({"", "abc", false}), Catch::Contains("pinned public key"));
}
