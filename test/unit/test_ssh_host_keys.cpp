// Host key policy against a real sshd that has an ed25519 and an RSA host key.
#include "sshd_fixture.hpp"

#include <catch2/catch.hpp>

using namespace fedi;
using namespace fedi::test;
using fedi::ssh::HostKey;

namespace {

std::string where(const Sshd& sshd) {
    return "testhost (127.0.0.1:" + std::to_string(sshd.port()) + ")";
}

// Options with nothing pinned, no known_hosts and no trusted keys.
ssh::ConnectOptions unpinned(const Sshd& sshd) {
    auto o = sshd.connect_options();
    o.host_keys.pinned.reset();
    return o;
}

} // namespace

TEST_CASE("a pinned host key is accepted, and its type is the one negotiated", "[sshd]") {
    auto& sshd = shared_sshd();
    auto o = sshd.connect_options();
    auto s = ssh::Session::connect(o);
    CHECK(s->host_key() == HostKey::parse(sshd.host_ed25519.public_key));
    CHECK_FALSE(s->host_key_is_new());

    // A stock OpenSSH 9 does not offer ssh-rsa, the only RSA host key algorithm libssh2
    // 1.10 has: pinning the RSA key must fail with that explanation.
    o.host_keys.pinned = sshd.host_rsa.public_key;
    auto msg = error_message([&] { ssh::Session::connect(o); });
    REQUIRE(msg);
    CHECK_THAT(*msg, Catch::Contains("host key mismatch"));
    CHECK_THAT(*msg, Catch::Contains("libssh2 1.10"));
    CHECK_THAT(*msg, Catch::Contains("ed25519"));

    // A server offering ed25519 first and ssh-rsa too: pinning RSA makes it show RSA.
    Sshd rsa_sshd(Sshd::Options{kAllowSshRsa});
    o = rsa_sshd.connect_options();
    o.host_keys.pinned = rsa_sshd.host_rsa.public_key + " comment";
    s = ssh::Session::connect(o);
    CHECK(s->host_key().type == "ssh-rsa");
    CHECK(s->host_key().fingerprint_sha256() == rsa_sshd.host_rsa.fingerprint);
    CHECK(s->run("echo ok").out == "ok\n");
}

TEST_CASE("a wrong pinned key is refused as a changed host key, even with accept_new", "[sshd]") {
    auto& sshd = shared_sshd();
    auto o = sshd.connect_options();
    o.host_keys.pinned = sshd.client_ed25519.public_key; // some other ed25519 key
    o.host_keys.accept_new = true;
    auto msg = error_message([&] { ssh::Session::connect(o); });
    REQUIRE(msg);
    CHECK_THAT(*msg, Catch::Contains("host key changed"));
    CHECK_THAT(*msg, Catch::Contains(where(sshd)));
    CHECK_THAT(*msg, Catch::Contains(sshd.host_ed25519.fingerprint));   // offered
    CHECK_THAT(*msg, Catch::Contains(sshd.client_ed25519.fingerprint)); // pinned
    CHECK_THAT(*msg, Catch::Contains("pinned"));

    // A garbage pin is the deployment's fault: a usage error.
    o.host_keys.pinned = "ssh-ed25519 nonsense";
    try {
        ssh::Session::connect(o);
        FAIL("connected with a garbage pin");
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::Usage);
    }
}

TEST_CASE("an unknown host key is refused unless new keys are accepted", "[sshd]") {
    auto& sshd = shared_sshd();
    auto o = unpinned(sshd);
    auto msg = error_message([&] { ssh::Session::connect(o); });
    REQUIRE(msg);
    CHECK_THAT(*msg, Catch::Contains("unknown host key"));
    CHECK_THAT(*msg, Catch::Contains(where(sshd)));
    CHECK_THAT(*msg, Catch::Contains(sshd.host_ed25519.fingerprint));
    CHECK_THAT(*msg, Catch::Contains("--accept-new-host-keys"));
    CHECK_THAT(*msg, Catch::Contains("hostKey"));

    o.host_keys.accept_new = true;
    auto s = ssh::Session::connect(o);
    CHECK(s->host_key_is_new());
    CHECK(s->host_key() == HostKey::parse(sshd.host_ed25519.public_key));
}

TEST_CASE("keys recorded in fedi's state are trusted, and a different one is refused", "[sshd]") {
    auto& sshd = shared_sshd();
    auto o = unpinned(sshd);
    o.host_keys.trusted_keys = {sshd.host_ed25519.public_key};
    auto s = ssh::Session::connect(o);
    CHECK_FALSE(s->host_key_is_new());

    o.host_keys.trusted_keys = {sshd.client_ed25519.public_key};
    o.host_keys.accept_new = true;
    auto msg = error_message([&] { ssh::Session::connect(o); });
    REQUIRE(msg);
    CHECK_THAT(*msg, Catch::Contains("host key changed"));
    CHECK_THAT(*msg, Catch::Contains("fedi's state"));
}

TEST_CASE("known_hosts files are honoured like OpenSSH does", "[sshd]") {
    auto& sshd = shared_sshd();
    TempDir dir;
    auto kh = dir / "known_hosts";
    auto o = unpinned(sshd);
    o.host_keys.known_hosts_files = {dir / "missing", kh};
    auto name = sshd.known_hosts_name();

    SECTION("[host]:port entry") {
        write_file(kh, "# comment\nother.example ssh-ed25519 " +
                           sshd.client_ed25519.public_key.substr(12) + "\n" + name + " " +
                           sshd.host_ed25519.public_key + "\n");
        auto s = ssh::Session::connect(o);
        CHECK_FALSE(s->host_key_is_new());
    }
    SECTION("hashed entry written by ssh-keygen -H") {
        write_file(kh, name + " " + sshd.host_ed25519.public_key + "\n");
        run_checked({"ssh-keygen", "-q", "-H", "-f", kh});
        REQUIRE(read_file(kh).rfind("|1|", 0) == 0);
        auto s = ssh::Session::connect(o);
        CHECK_FALSE(s->host_key_is_new());
    }
    SECTION("only the RSA key is known") {
        write_file(kh, name + " " + sshd.host_rsa.public_key + "\n");
        auto msg = error_message([&] { ssh::Session::connect(o); });
        REQUIRE(msg);
        CHECK_THAT(*msg, Catch::Contains("host key mismatch"));
        CHECK_THAT(*msg, Catch::Contains(sshd.host_rsa.fingerprint));
    }
    SECTION("a different key is a changed host key, even with accept_new") {
        write_file(kh, name + " " + sshd.client_ed25519.public_key + "\n");
        run_checked({"ssh-keygen", "-q", "-H", "-f", kh});
        o.host_keys.accept_new = true;
        auto msg = error_message([&] { ssh::Session::connect(o); });
        REQUIRE(msg);
        CHECK_THAT(*msg, Catch::Contains("host key changed"));
        CHECK_THAT(*msg, Catch::Contains(kh));
        CHECK_THAT(*msg, Catch::Contains("ssh-keygen -f " + kh + " -R"));
        CHECK_THAT(*msg, Catch::Contains(sshd.host_ed25519.fingerprint));
        CHECK_THAT(*msg, Catch::Contains(sshd.client_ed25519.fingerprint));
    }
    SECTION("a plain-host entry is for port 22 only, as in OpenSSH") {
        write_file(kh, "127.0.0.1 " + sshd.client_ed25519.public_key + "\n");
        auto msg = error_message([&] { ssh::Session::connect(o); });
        REQUIRE(msg);
        CHECK_THAT(*msg, Catch::Contains("unknown host key"));
    }
    SECTION("a @revoked key is refused") {
        write_file(kh, "@revoked * " + sshd.host_ed25519.public_key + "\n");
        o.host_keys.accept_new = true;
        auto msg = error_message([&] { ssh::Session::connect(o); });
        REQUIRE(msg);
        CHECK_THAT(*msg, Catch::Contains("@revoked"));
    }
}
