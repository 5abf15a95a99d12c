#pragma once
// Checking a Proxmox node certificate against the fingerprint Proxmox shows (SHA-256 of
// the certificate), and turning it into the public-key pin libcurl checks on every
// connection.
#include <optional>
#include <string>
#include <string_view>

namespace fedi::provider::pve {

struct CertificateDigests {
    std::string fingerprint; // SHA-256 of the DER certificate, "AB:CD:..." upper case
    std::string key_sha256;  // SHA-256 of the DER SubjectPublicKeyInfo, 64 hex digits
};
// Digests of a PEM certificate; throws fedi::Error when it cannot be parsed.
CertificateDigests certificate_digests(const std::string& pem);

// A certificate fingerprint in Proxmox's form ("AB:CD:..."), from 64 hex digits with or
// without colons, any case. nullopt for a "sha256//" public-key pin; a usage error for
// anything else.
std::optional<std::string> normalise_fingerprint(std::string_view text);

} // namespace fedi::provider::pve
