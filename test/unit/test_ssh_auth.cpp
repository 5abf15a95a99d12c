// Authentication: identity files (ed25519, RSA), ssh-agent, and the failure messages.
#include "sshd_fixture.hpp"

#include <catch2/catch.hpp>

using namespace fedi;
using namespace fedi::test;

TEST_CASE("ed25519 and RSA identity files authenticate", "[sshd]") {
    auto& sshd = shared_sshd();
    auto o = sshd.connect_options();
    CHECK(ssh::Session::connect(o)->run("whoami").out == "root\n");

    // libssh2 1.10 signs with RSA keys only as ssh-rsa (SHA-1): a stock sshd refuses that,
    // and the message must say why.
    o.identity_file = sshd.client_rsa.private_path;
    auto msg = error_message([&] { ssh::Session::connect(o); });
    REQUIRE(msg);
    CHECK_THAT(*msg, Catch::Contains("refused by the server; libssh2 1.10"));

    Sshd rsa_sshd(Sshd::Options{kAllowSshRsa});
    o = rsa_sshd.connect_options();
    o.identity_file = rsa_sshd.client_rsa.private_path;
    CHECK(ssh::Session::connect(o)->run("whoami").out == "root\n");
}

TEST_CASE("identity file problems give clear errors", "[sshd]") {
    auto& sshd = shared_sshd();
    TempDir dir;
    auto o = sshd.connect_options();

    o.identity_file = make_key(dir.path(), "stranger", "ed25519").private_path;
    auto msg = error_message([&] { ssh::Session::connect(o); });
    REQUIRE(msg);
    CHECK_THAT(*msg, Catch::Contains("authentication as root failed"));
    CHECK_THAT(*msg, Catch::Contains(*o.identity_file + " (refused by the server)"));
    CHECK_THAT(*msg, !Catch::Contains("PRIVATE KEY"));

    o.identity_file = dir / "nope";
    msg = error_message([&] { ssh::Session::connect(o); });
    REQUIRE(msg);
    CHECK_THAT(*msg, Catch::Contains("does not exist"));

    o.identity_file = make_key(dir.path(), "locked", "ed25519", "a passphrase").private_path;
    msg = error_message([&] { ssh::Session::connect(o); });
    REQUIRE(msg);
    CHECK_THAT(*msg, Catch::Contains("protected by a passphrase"));
    CHECK_THAT(*msg, Catch::Contains("ssh-agent"));
}

TEST_CASE("ssh-agent identities authenticate", "[sshd]") {
    auto& sshd = shared_sshd();
    TempDir dir;
    SshAgent agent;
    agent.add(make_key(dir.path(), "stranger", "ed25519").private_path); // tried first, refused
    agent.add(sshd.client_ed25519.private_path);
    auto o = sshd.connect_options();
    o.identity_file.reset();
    o.agent_socket = agent.socket;
    CHECK(ssh::Session::connect(o)->run("echo via-agent").out == "via-agent\n");
}

TEST_CASE("when nothing works, the error lists the agent keys and files tried", "[sshd]") {
    auto& sshd = shared_sshd();
    TempDir dir;
    SshAgent agent;
    auto stranger = make_key(dir.path(), "stranger", "ed25519");
    agent.add(stranger.private_path);
    auto o = sshd.connect_options();
    o.identity_file.reset();
    o.agent_socket = agent.socket;
    o.default_identity_files = {dir / "id_ed25519", stranger.private_path};
    auto msg = error_message([&] { ssh::Session::connect(o); });
    REQUIRE(msg);
    CHECK_THAT(*msg, Catch::Contains("ssh-agent at " + agent.socket));
    CHECK_THAT(*msg, Catch::Contains(stranger.fingerprint));
    CHECK_THAT(*msg, Catch::Contains(dir / "id_ed25519 (not present)"));
    CHECK_THAT(*msg, Catch::Contains(stranger.private_path + " (refused by the server)"));
}
