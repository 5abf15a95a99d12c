// Network trouble must end in a clear error within the configured time, never a hang.
#include "sshd_fixture.hpp"

#include <catch2/catch.hpp>

using namespace fedi;
using namespace fedi::test;
using Clock = std::chrono::steady_clock;

namespace {

// A loopback listener whose accept queue is full, so new SYNs are dropped: to a client
// it looks like a blackholed host.
struct BlackholePort {
    BlackholePort() {
        listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        REQUIRE(bind(listener, (sockaddr*)&a, sizeof a) == 0);
        REQUIRE(listen(listener, 0) == 0);
        getsockname(listener, (sockaddr*)&a, &len);
        port = ntohs(a.sin_port);
        for (int i = 0; i < 3; ++i) {
            int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            connect(c, (sockaddr*)&a, sizeof a);
            fillers.push_back(c);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ~BlackholePort() {
        for (int c : fillers)
            close(c);
        close(listener);
    }
    int listener;
    int port;
    std::vector<int> fillers;
};

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

} // namespace

TEST_CASE("connecting to a closed port fails at once", "[sshd]") {
    ssh::ConnectOptions o;
    o.host = "127.0.0.1";
    o.port = free_loopback_port();
    o.label = "ghost";
    auto msg = error_message([&] { ssh::Session::connect(o); });
    REQUIRE(msg);
    CHECK_THAT(*msg, Catch::Contains("ghost (127.0.0.1:" + std::to_string(o.port) + ")"));
    CHECK_THAT(*msg, Catch::Contains("Connection refused"));
}

TEST_CASE("an unresponsive port fails after the connect timeout", "[sshd]") {
    ssh::ConnectOptions o;
    o.host = "127.0.0.1";
    o.label = "ghost";
    o.connect_timeout = std::chrono::seconds(1);

    SECTION("no TCP answer") {
        BlackholePort hole;
        o.port = hole.port;
        auto start = Clock::now();
        auto msg = error_message([&] { ssh::Session::connect(o); });
        REQUIRE(msg);
        CHECK_THAT(*msg, Catch::Contains("no answer within 1 s"));
        CHECK(seconds_since(start) < 3);
    }
    SECTION("TCP answers but SSH never does") {
        int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        REQUIRE(bind(listener, (sockaddr*)&a, sizeof a) == 0);
        REQUIRE(listen(listener, 8) == 0);
        getsockname(listener, (sockaddr*)&a, &len);
        o.port = ntohs(a.sin_port);
        auto start = Clock::now();
        auto msg = error_message([&] { ssh::Session::connect(o); });
        close(listener);
        REQUIRE(msg);
        CHECK_THAT(*msg, Catch::Contains("no SSH handshake within 1 s"));
        CHECK(seconds_since(start) < 3);
    }
}

namespace {
Sshd::Options private_sshd() {
    Sshd::Options o;
    o.rsa_keys = false;
    return o;
}
} // namespace

TEST_CASE("a server that dies mid-command gives an error, not a hang", "[sshd]") {
    Sshd sshd(private_sshd());
    auto s = ssh::Session::connect(sshd.connect_options());
    auto start = Clock::now();
    // The command's parent is the sshd process serving this connection.
    auto msg = error_message([&] { s->run("echo started; kill -9 $PPID; sleep 20"); });
    REQUIRE(msg);
    CHECK_THAT(*msg, Catch::Contains("connection lost"));
    CHECK_THAT(*msg, Catch::Contains("testhost"));
    CHECK(seconds_since(start) < 5);
    // Later calls fail at once rather than touching the dead connection.
    auto again = error_message([&] { s->run("true"); });
    REQUIRE(again);
    CHECK_THAT(*again, Catch::Contains("unusable"));
}

TEST_CASE("a frozen server is caught by unanswered keepalives", "[sshd]") {
    Sshd sshd(private_sshd());
    auto o = sshd.connect_options();
    o.keepalive = std::chrono::seconds(1);
    auto s = ssh::Session::connect(o);
    auto start = Clock::now();
    // Stops the sshd process serving this connection: TCP stays up, SSH goes silent.
    auto msg = error_message([&] { s->run("kill -STOP $PPID; sleep 20"); });
    REQUIRE(msg);
    CHECK_THAT(*msg, Catch::Contains("no answer from the host to 3 keepalives"));
    CHECK(seconds_since(start) < 8);
}

TEST_CASE("a command that makes no progress hits the idle timeout", "[sshd]") {
    auto o = shared_sshd().connect_options();
    o.keepalive = std::chrono::seconds(1); // answered: the server is fine, the command is not
    o.idle_timeout = std::chrono::seconds(2);
    auto s = ssh::Session::connect(o);
    auto start = Clock::now();
    auto msg = error_message([&] { s->run("sleep 20"); });
    REQUIRE(msg);
    CHECK_THAT(*msg, Catch::Contains("no progress for 2 s"));
    CHECK_THAT(*msg, Catch::Contains("sleep 20"));
    CHECK(seconds_since(start) < 5);
}
