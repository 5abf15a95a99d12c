// The binary cache format against what real Nix wrote: narinfo text, NarHash in Nix's
// base-32 and the ed25519 signature of `nix copy --to file://…?secret-key=…` (Nix 2.8)
// for one path with references, made with a key from `nix-store
// --generate-binary-cache-key cache-1`.
#include "cache/compress.hpp"
#include "cache/narinfo.hpp"
#include "cache/signing.hpp"
#include "core/error.hpp"
#include "core/text.hpp"

#include <catch2/catch.hpp>

using namespace fedi;

namespace {

const std::string secret_key = "cache-1:W9sYbpltcT3gBA2J9PEJtnKLN/b/lacR0ZdO0dWCG0vkf0+cjtR3U1XU4ie"
                               "sCnPRXJ8/godmf7edgJh71hqEGg==";
const std::string public_key = "cache-1:5H9PnI7Ud1NV1OInrApz0VyfP4KHZn+3nYCYe9YahBo=";

// Written by `nix copy --to file://` (Nix 2.8).
const std::string nix_narinfo =
    "StorePath: /nix/store/03y6nk6k7dnf9j08702v9fi4ipiq6zcw-nixos-system-m0-1\n"
    "URL: nar/1cvw6sq2m16ax7zizfbaa1faxrfyqfcp6vz0jz07i6j9x6bjvl9d.nar.xz\n"
    "Compression: xz\n"
    "FileHash: sha256:1cvw6sq2m16ax7zizfbaa1faxrfyqfcp6vz0jz07i6j9x6bjvl9d\n"
    "FileSize: 1448\n"
    "NarHash: sha256:1bid1z293gljyc8s9przlgal9w685rca0ixkm21y6azw6fhibkzl\n"
    "NarSize: 5808\n"
    "References: 03y6nk6k7dnf9j08702v9fi4ipiq6zcw-nixos-system-m0-1 "
    "am5dkzpldsd5wdcah055b7izr2fs4sfd-hello-1.0 md18k0wcbm56cy6wzvqpnwagm1dy3fk1-greeting-1.0\n"
    "Deriver: ixfs0xvsp9cmbzn02qybmqzb36wckxw6-nixos-system-m0-1.drv\n"
    "Sig: cache-1:KvVXwmGsGjsDOlVkFl7YQS9t0TvethGkP+Y183w6drfxYc/QJTulna9y8YnzafBo78u7fCeFpyk+"
    "i3UCHNBjCg==\n";

// Written by `nix copy --to file://…?compression=zstd` (Nix 2.8) with the same key, for a
// path `nix-store --add` made; its "CA: fixed:r:…" line left out (fedi writes none).
const std::string nix_zstd_narinfo =
    "StorePath: /nix/store/7sk4mqh96wkci379646sjd30rmf8sfng-d\n"
    "URL: nar/0fkz84s0g9sb31s6aa90dl97iiqza1fsbqkv7fa6yiyfll4jyaq2.nar.zst\n"
    "Compression: zstd\n"
    "FileHash: sha256:0fkz84s0g9sb31s6aa90dl97iiqza1fsbqkv7fa6yiyfll4jyaq2\n"
    "FileSize: 144\n"
    "NarHash: sha256:17a2vi1mwv9y2z8ihj4n0wz6v4acmclnbadcnby264msniyvyb4q\n"
    "NarSize: 296\n"
    "References: \n"
    "Sig: cache-1:eH8qLom8H9Cu6gkn2FyqRFsgXMv4d/AVwUyeJ5EQxxsuxX/RZK2MdO12mpH4BFIbZLnW08c87jAK8Luf"
    "X9sjBQ==\n";

std::string unhex(const std::string& hex) {
    std::string out;
    for (std::size_t i = 0; i < hex.size(); i += 2)
        out += static_cast<char>(hex_value(hex[i]) * 16 + hex_value(hex[i + 1]));
    return out;
}

cache::SigningKey key() {
    auto text = secret_key;
    return cache::SigningKey(text, "test key");
}

} // namespace

TEST_CASE("nix32 writes hashes as Nix does") {
    // `nix-store --dump-db` gives the NAR hash in hex; the narinfo in Nix's base-32.
    CHECK(cache::nix32(unhex("f4cf15a133fc2be383a8b347a0582ec8f044d5a33fdfa411f392be91c40f2dae")) ==
          "1bid1z293gljyc8s9przlgal9w685rca0ixkm21y6azw6fhibkzl");
    CHECK(cache::nix32("") == "");
    CHECK(cache::nix32(std::string(1, '\x1f')) == "0z");
}

TEST_CASE("a narinfo parses and renders back to the text Nix wrote") {
    auto info = cache::parse_narinfo(nix_narinfo, "x.narinfo");
    CHECK(info.store_path == "/nix/store/03y6nk6k7dnf9j08702v9fi4ipiq6zcw-nixos-system-m0-1");
    CHECK(info.nar_size == 5808);
    CHECK(info.file_size == 1448);
    REQUIRE(info.references.size() == 3);
    CHECK(info.references[1] == "am5dkzpldsd5wdcah055b7izr2fs4sfd-hello-1.0");
    CHECK(cache::render(info) == nix_narinfo);
    CHECK(cache::hash_part(info.store_path) == "03y6nk6k7dnf9j08702v9fi4ipiq6zcw");
}

TEST_CASE("a zstd narinfo: Nix's names for the compression and the NAR are fedi's") {
    auto text = GENERATE(nix_narinfo, nix_zstd_narinfo);
    auto info = cache::parse_narinfo(text, "x.narinfo");
    auto suffix = ".nar" + cache::compression_suffix(info.compression);
    CHECK(info.url.substr(info.url.size() - suffix.size()) == suffix);
    CHECK(cache::render(info) == text);
    CHECK(cache::verify_signature(public_key, cache::fingerprint(info), info.sigs.at(0)));
}

TEST_CASE("the signature of the fingerprint is the one Nix made") {
    auto info = cache::parse_narinfo(nix_narinfo, "x.narinfo");
    auto fp = cache::fingerprint(info);
    CHECK(fp == "1;/nix/store/03y6nk6k7dnf9j08702v9fi4ipiq6zcw-nixos-system-m0-1;"
                "sha256:1bid1z293gljyc8s9przlgal9w685rca0ixkm21y6azw6fhibkzl;5808;"
                "/nix/store/03y6nk6k7dnf9j08702v9fi4ipiq6zcw-nixos-system-m0-1,"
                "/nix/store/am5dkzpldsd5wdcah055b7izr2fs4sfd-hello-1.0,"
                "/nix/store/md18k0wcbm56cy6wzvqpnwagm1dy3fk1-greeting-1.0");
    auto k = key();
    CHECK(k.public_key() == public_key);
    CHECK(k.sign(fp) == info.sigs.at(0)); // ed25519 signatures are deterministic
    CHECK(cache::verify_signature(public_key, fp, info.sigs.at(0)));
    SECTION("a changed fingerprint does not verify") {
        info.nar_size += 1;
        CHECK_FALSE(cache::verify_signature(public_key, cache::fingerprint(info), info.sigs[0]));
    }
    SECTION("a signature under another key name does not verify") {
        auto renamed = "other" + info.sigs[0].substr(info.sigs[0].find(':'));
        CHECK_FALSE(cache::verify_signature(public_key, fp, renamed));
    }
}

TEST_CASE("a secret key that is not one is refused without quoting it") {
    std::string text = "cache-1:c2VjcmV0";
    try {
        cache::SigningKey k(text, "cache.secretKeyEnv");
        FAIL("accepted");
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::Usage);
        CHECK_THAT(e.message(), Catch::StartsWith("cache.secretKeyEnv: not a Nix secret"));
        CHECK(e.message().find("c2VjcmV0") == std::string::npos);
    }
    CHECK(text.empty()); // wiped
}

TEST_CASE("a narinfo without a required field names what it lacks") {
    CHECK_THROWS_WITH(cache::parse_narinfo("StorePath: /nix/store/x\nURL: nar/x\n", "x.narinfo"),
                      "x.narinfo: the narinfo has no NarHash");
    CHECK_THROWS_WITH(cache::parse_narinfo(nix_narinfo + "NarSize: many\n", "y.narinfo"),
                      "y.narinfo: NarSize is not a number: 'many'");
}
