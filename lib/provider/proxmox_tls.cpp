#include "provider/proxmox_tls.hpp"

#include "core/error.hpp"

#include <cctype>
#include <memory>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

namespace fedi::provider::pve {
namespace {

std::string hex(const unsigned char* data, unsigned n, bool colons) {
    std::string out;
    for (unsigned i = 0; i < n; ++i) {
        if (colons && i)
            out += ':';
        out += fmt::format("{:02X}", data[i]);
    }
    return out;
}

} // namespace

CertificateDigests certificate_digests(const std::string& pem) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
    if (!bio)
        throw Error("out of memory reading a certificate");
    std::unique_ptr<X509, decltype(&X509_free)> cert(
        PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
    if (!cert)
        throw Error("the server's certificate cannot be parsed");
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;
    if (!X509_digest(cert.get(), EVP_sha256(), md, &md_len))
        throw Error("cannot compute the certificate's SHA-256 fingerprint");
    CertificateDigests out;
    out.fingerprint = hex(md, md_len, true);
    // curl pins the SHA-256 of the whole DER SubjectPublicKeyInfo.
    unsigned char* der = nullptr;
    int der_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert.get()), &der);
    if (der_len <= 0)
        throw Error("cannot encode the certificate's public key");
    std::unique_ptr<unsigned char, void (*)(unsigned char*)> der_owner(
        der, [](unsigned char* p) { OPENSSL_free(p); });
    if (!EVP_Digest(der, static_cast<std::size_t>(der_len), md, &md_len, EVP_sha256(), nullptr))
        throw Error("cannot compute the SHA-256 of the certificate's public key");
    out.key_sha256 = hex(md, md_len, false);
    return out;
}

std::optional<std::string> normalise_fingerprint(std::string_view text) {
    if (text.rfind("sha256//", 0) == 0)
        return std::nullopt;
    std::string digits;
    for (char c : text) {
        if (c == ':')
            continue;
        if (!std::isxdigit(static_cast<unsigned char>(c))) {
            digits.clear();
            break;
        }
        digits += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    if (digits.size() != 64)
        throw usage_error(fmt::format(
            "fingerprint '{}' is neither a SHA-256 certificate fingerprint (AB:CD:... as "
            "Proxmox shows it) nor a public-key pin 'sha256//BASE64'",
            text));
    std::string out;
    for (std::size_t i = 0; i < 64; i += 2) {
        if (i)
            out += ':';
        out += digits.substr(i, 2);
    }
    return out;
}

} // namespace fedi::provider::pve
