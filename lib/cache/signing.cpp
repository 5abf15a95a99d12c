#include "cache/signing.hpp"

#include "core/error.hpp"
#include "core/secret_memory.hpp"
#include "core/text.hpp"

#include <fmt/format.h>
#include <memory>
#include <openssl/evp.h>
#include <optional>

namespace fedi::cache {

namespace {

struct Named {
    std::string name;
    std::string raw;
};

// "name:base64" split and decoded; nothing when it is not that or not `size` bytes.
std::optional<Named> split_key(std::string_view text, std::size_t size) {
    auto colon = text.find(':');
    if (colon == 0 || colon == std::string_view::npos)
        return std::nullopt;
    auto raw = base64_decode(text.substr(colon + 1));
    if (!raw || raw->size() != size) {
        if (raw)
            wipe(*raw);
        return std::nullopt;
    }
    return Named{std::string(text.substr(0, colon)), std::move(*raw)};
}

using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Context = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

Key raw_key(bool secret, std::string_view bytes) {
    const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
    EVP_PKEY* key = secret ? EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, data, 32)
                           : EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, data, 32);
    if (!key)
        throw Error("OpenSSL refused an ed25519 key");
    return Key(key, &EVP_PKEY_free);
}

} // namespace

SigningKey::SigningKey(std::string& text, const std::string& origin) {
    WipeOnExit wipe_text(text);
    auto trimmed = trim(text);
    WipeOnExit wipe_trimmed(trimmed);
    auto key = split_key(trimmed, 64);
    if (!key)
        throw usage_error(fmt::format("{}: not a Nix secret signing key (\"name:base64\" of 64 "
                                      "bytes, as `nix-store --generate-binary-cache-key` writes)",
                                      origin));
    name_ = std::move(key->name);
    secret_ = std::move(key->raw);
}

SigningKey::~SigningKey() {
    wipe(secret_);
}

std::string SigningKey::public_key() const {
    return name_ + ":" + base64_encode(std::string_view(secret_).substr(32));
}

std::string SigningKey::sign(std::string_view fingerprint) const {
    auto key = raw_key(true, std::string_view(secret_).substr(0, 32));
    Context ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    unsigned char sig[64];
    std::size_t len = sizeof sig;
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
        EVP_DigestSign(ctx.get(), sig, &len,
                       reinterpret_cast<const unsigned char*>(fingerprint.data()),
                       fingerprint.size()) != 1)
        throw Error("OpenSSL could not make an ed25519 signature");
    return name_ + ":" + base64_encode(std::string_view(reinterpret_cast<char*>(sig), len));
}

bool verify_signature(const std::string& public_key, std::string_view fingerprint,
                      const std::string& sig) {
    auto pub = split_key(public_key, 32);
    auto s = split_key(sig, 64);
    if (!pub || !s || pub->name != s->name)
        return false;
    auto key = raw_key(false, pub->raw);
    Context ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) == 1 &&
           EVP_DigestVerify(
               ctx.get(), reinterpret_cast<const unsigned char*>(s->raw.data()), s->raw.size(),
               reinterpret_cast<const unsigned char*>(fingerprint.data()), fingerprint.size()) == 1;
}

} // namespace fedi::cache
