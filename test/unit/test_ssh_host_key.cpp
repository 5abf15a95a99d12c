// HostKey parsing and fingerprints, checked against ssh-keygen's own output.
#include "sshd_fixture.hpp"

#include <catch2/catch.hpp>

using namespace fedi;
using namespace fedi::test;
using fedi::ssh::HostKey;

TEST_CASE("HostKey reads OpenSSH public keys and fingerprints them like ssh-keygen", "[ssh]") {
    TempDir dir;
    for (const char* type : {"ed25519", "rsa", "ecdsa"}) {
        auto pair = make_key(dir.path(), std::string("key_") + type, type);
        // The .pub file has a trailing comment and newline.
        auto key = HostKey::parse(read_file(pair.private_path + ".pub"));
        CHECK(key.openssh() == pair.public_key);
        CHECK(key.fingerprint_sha256() == pair.fingerprint);
        CHECK(HostKey::parse(key.openssh()) == key);
    }
    auto ed = HostKey::parse(make_key(dir.path(), "other", "ed25519").public_key);
    CHECK(ed.type == "ssh-ed25519");
}

TEST_CASE("HostKey::parse rejects garbage as a usage error", "[ssh]") {
    TempDir dir;
    auto ed = make_key(dir.path(), "k", "ed25519").public_key;
    auto blob = ed.substr(ed.find(' ') + 1);
    std::vector<std::string> inputs = {"", "ssh-ed25519", "ssh-ed25519 not*base64!", "hello world",
                                       "ssh-rsa " + blob /* type disagrees with the key data */};
    for (const auto& bad : inputs) {
        INFO("input: " << bad);
        try {
            HostKey::parse(bad);
            FAIL("accepted");
        } catch (const Error& e) {
            CHECK(e.kind() == ErrorKind::Usage);
            CHECK_THAT(e.message(), Catch::Contains("SSH public key"));
        }
    }
}
