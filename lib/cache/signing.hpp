#pragma once
// Nix's ed25519 signing keys ("name:base64", as `nix-store --generate-binary-cache-key`
// writes them): the secret key is the 32-byte seed followed by the 32-byte public key;
// a signature is "name:base64" of the 64-byte ed25519 signature of a fingerprint.
#include <string>
#include <string_view>

namespace fedi::cache {

class SigningKey {
  public:
    // Reads "name:base64" of a 64-byte secret key; throws a usage error naming `origin`
    // (never quoting the key) when it is not one. `text` is wiped.
    SigningKey(std::string& text, const std::string& origin);
    ~SigningKey();
    SigningKey(const SigningKey&) = delete;
    SigningKey& operator=(const SigningKey&) = delete;

    const std::string& name() const { return name_; }
    // "name:base64" of the public half.
    std::string public_key() const;
    // "name:base64" of the signature of `fingerprint`.
    std::string sign(std::string_view fingerprint) const;

  private:
    std::string name_;
    std::string secret_; // 64 bytes: seed, then public key
};

// Whether `sig` ("name:base64") is `public_key`'s ("name:base64") valid signature of
// `fingerprint`; a signature under another key name is not.
bool verify_signature(const std::string& public_key, std::string_view fingerprint,
                      const std::string& sig);

} // namespace fedi::cache
