// Running commands over a real sshd: exit status, both outputs, stdin, streaming, and
// volumes that would deadlock a client that does not drain everything at once.
#include "sshd_fixture.hpp"

#include <catch2/catch.hpp>

#include <thread>

using namespace fedi;
using namespace fedi::test;

namespace {

std::string pattern(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i)
        s[i] = char('a' + (i * 7 + i / 4096) % 26);
    return s;
}

// A small receive window, so that a few MB overflow every buffer on the way (our window,
// the server's 2 MB one, pipes) and a client that does not drain everything while it
// writes would deadlock (and fail here by idle timeout).
ssh::ConnectOptions small_window_options() {
    auto o = shared_sshd().connect_options();
    o.receive_window = 512 * 1024;
    o.idle_timeout = std::chrono::seconds(10);
    return o;
}

} // namespace

TEST_CASE("run reports exit status, stdout and stderr and feeds stdin", "[sshd]") {
    auto session = ssh::Session::connect(shared_sshd().connect_options());
    auto r = session->run("echo out; echo err >&2; exit 3");
    CHECK(r.exit_status == 3);
    CHECK(r.out == "out\n");
    CHECK(r.err == "err\n");

    std::vector<std::string> out_lines, err_lines;
    r = session->run(
        "cat; echo done >&2; printf 'a\\nb'", std::string("secret-line\n"),
        [&](const std::string& l) { out_lines.push_back(l); },
        [&](const std::string& l) { err_lines.push_back(l); });
    CHECK(r.ok());
    CHECK(r.out == "secret-line\na\nb");
    CHECK(out_lines == std::vector<std::string>{"secret-line", "a", "b"});
    CHECK(err_lines == std::vector<std::string>{"done"});

    CHECK(session->run("kill -TERM $$").exit_status == 128 + 15);
    CHECK(session->run("exit 0").exit_status == 0);
}

TEST_CASE("the round trip is known once a channel was opened, and is the quickest", "[sshd]") {
    auto session = ssh::Session::connect(shared_sshd().connect_options());
    CHECK_FALSE(session->round_trip());
    // The command's own time (a second) is not a round trip: only the channel's opening is.
    REQUIRE(session->run("sleep 1").ok());
    REQUIRE(session->round_trip());
    auto first = *session->round_trip();
    CHECK(first > std::chrono::steady_clock::duration::zero());
    CHECK(first < std::chrono::seconds(1));
    REQUIRE(session->run("true").ok());
    CHECK(*session->round_trip() <= first);
}

TEST_CASE("large stdout, stderr and stdin flow together without deadlock", "[sshd]") {
    auto session = ssh::Session::connect(small_window_options());
    // 3 MB on stderr before any stdout.
    auto r = session->run(
        "head -c 3000000 /dev/zero | tr '\\0' e >&2; head -c 3000000 /dev/zero | tr '\\0' o");
    CHECK(r.ok());
    CHECK(r.err.size() == 3000000);
    CHECK(r.out.size() == 3000000);
    CHECK(r.err.find_first_not_of('e') == std::string::npos);
    CHECK(r.out.find_first_not_of('o') == std::string::npos);

    // cat echoes while we still write.
    auto input = pattern(5 * 1000 * 1000);
    r = session->run("cat", input);
    CHECK(r.ok());
    CHECK(r.out == input);
    r = session->run("cat >&2", input);
    CHECK(r.err == input);

    // The default (large) window moves the same data.
    auto big_window = ssh::Session::connect(shared_sshd().connect_options());
    CHECK(big_window->run("cat", input).out == input);
}

TEST_CASE("exec gives a duplex stream with exit status and stderr", "[sshd]") {
    auto session = ssh::Session::connect(small_window_options());
    {
        auto ch = session->exec("read x; echo got:$x; read y; echo got:$y");
        ch->write(std::string_view("one\n"));
        char buf[8];
        ch->read_exact(buf, 8);
        CHECK(std::string(buf, 8) == "got:one\n");
        ch->write(std::string_view("two\n"));
        ch->read_exact(buf, 8);
        CHECK(std::string(buf, 8) == "got:two\n");
        CHECK(ch->wait_exit_status() == 0);
    }
    {
        // One big write into a command that echoes it: the stdout arriving meanwhile is
        // buffered, so the write completes.
        auto input = pattern(5 * 1000 * 1000);
        auto ch = session->exec("cat; echo bye >&2; exit 5");
        ch->write(input);
        ch->close_input();
        std::string got;
        char buf[100000];
        while (std::size_t n = ch->read_some(buf, sizeof buf))
            got.append(buf, n);
        CHECK(got == input);
        CHECK(ch->wait_exit_status() == 5);
        CHECK(ch->stderr_text() == "bye\n");
    }
    // The session is still usable after channels came and went.
    CHECK(session->run("echo again").out == "again\n");
}

TEST_CASE("writing to a command that exited fails instead of hanging", "[sshd]") {
    auto opts = shared_sshd().connect_options();
    auto session = ssh::Session::connect(opts);
    auto big = pattern(8 * 1000 * 1000);
    auto start = std::chrono::steady_clock::now();
    auto ch = session->exec("echo 'cannot take this' >&2; exit 1");
    auto msg = error_message([&] { ch->write(big); });
    REQUIRE(msg);
    CHECK_THAT(*msg, Catch::Contains("stopped reading its input"));
    CHECK_THAT(*msg, Catch::Contains("cannot take this"));
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));

    // run() treats it like a closed pipe: the rest of stdin is dropped.
    auto session2 = ssh::Session::connect(opts);
    auto r = session2->run("exit 4", big);
    CHECK(r.exit_status == 4);
}

TEST_CASE("sessions run in parallel threads", "[sshd]") {
    auto opts = shared_sshd().connect_options();
    std::vector<std::string> outputs(6);
    std::vector<std::string> errors(6);
    std::vector<std::thread> threads;
    for (int i = 0; i < 6; ++i)
        threads.emplace_back([&, i] {
            try {
                auto s = ssh::Session::connect(opts);
                outputs[i] = s->run("echo machine-" + std::to_string(i)).out;
            } catch (const Error& e) {
                errors[i] = e.describe();
            }
        });
    for (auto& t : threads)
        t.join();
    for (int i = 0; i < 6; ++i) {
        CHECK(errors[i] == "");
        CHECK(outputs[i] == "machine-" + std::to_string(i) + "\n");
    }
}

TEST_CASE("streams survive the server re-keying mid-transfer", "[sshd]") {
    Sshd::Options rekey;
    rekey.extra_config = "RekeyLimit 1M";
    rekey.rsa_keys = false;
    Sshd sshd(rekey);
    auto session = ssh::Session::connect(sshd.connect_options());
    auto input = pattern(4 * 1000 * 1000);
    auto r = session->run("cat", input);
    CHECK(r.ok());
    CHECK(r.out == input);
    auto ch = session->exec("wc -c");
    ch->write(input);
    ch->close_input();
    std::string got;
    char buf[64];
    while (std::size_t n = ch->read_some(buf, sizeof buf))
        got.append(buf, n);
    CHECK(got == "4000000\n");
    CHECK(ch->wait_exit_status() == 0);
}

TEST_CASE("IPv6 hosts connect and are named [host]:port", "[sshd]") {
    Sshd::Options v6;
    v6.rsa_keys = false;
    v6.ipv6 = true;
    Sshd sshd(v6);
    auto o = sshd.connect_options();
    o.host = "::1";
    CHECK(ssh::Session::connect(o)->run("echo $SSH_CONNECTION").out.rfind("::1 ", 0) == 0);

    o.host_keys.pinned.reset();
    auto msg = error_message([&] { ssh::Session::connect(o); });
    REQUIRE(msg);
    auto name = "[::1]:" + std::to_string(sshd.port());
    CHECK_THAT(*msg, Catch::Contains("testhost (" + name + ")"));

    TempDir dir;
    write_file(dir / "known_hosts", name + " " + sshd.host_ed25519.public_key + "\n");
    o.host_keys.known_hosts_files = {dir / "known_hosts"};
    CHECK_FALSE(ssh::Session::connect(o)->host_key_is_new());
}

TEST_CASE("compression is negotiated when asked for and data survives it", "[sshd]") {
    auto plain = ssh::Session::connect(shared_sshd().connect_options());
    CHECK(plain->compression() == "none");
    auto o = shared_sshd().connect_options();
    o.compress = true;
    auto session = ssh::Session::connect(o);
    CHECK(session->compression() != "none");
    std::string data(3 << 20, 'z');
    auto r = session->run("wc -c", data);
    CHECK(r.exit_status == 0);
    CHECK(r.out.find(std::to_string(data.size())) != std::string::npos);
}
