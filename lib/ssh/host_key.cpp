#include "core/error.hpp"
#include "ssh/internal.hpp"
#include "ssh/ssh.hpp"

#include <cstdlib>
#include <sstream>

#include <fmt/format.h>
#include <openssl/evp.h>

namespace fedi::ssh {
namespace {

std::string home_path(const char* rel) {
    const char* home = std::getenv("HOME");
    return std::string(home && *home ? home : "/root") + "/" + rel;
}

} // namespace

std::optional<std::string> blob_key_type(const std::string& blob) {
    if (blob.size() < 4)
        return std::nullopt;
    std::size_t len = (unsigned char)blob[0] << 24 | (unsigned char)blob[1] << 16 |
                      (unsigned char)blob[2] << 8 | (unsigned char)blob[3];
    if (len == 0 || len > 64 || 4 + len > blob.size())
        return std::nullopt;
    return blob.substr(4, len);
}

std::string HostKey::openssh() const {
    return type + " " + blob_base64;
}

std::string HostKey::fingerprint_sha256() const {
    auto raw = base64_decode(blob_base64).value_or("");
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(raw.data(), raw.size(), digest, &len, EVP_sha256(), nullptr);
    return "SHA256:" + base64_encode(std::string((const char*)digest, len), false);
}

HostKey HostKey::from_blob(const std::string& raw_blob) {
    auto type = blob_key_type(raw_blob);
    if (!type)
        throw Error("malformed SSH public key blob");
    return HostKey{*type, base64_encode(raw_blob, true)};
}

HostKey HostKey::parse(const std::string& openssh_line) {
    std::istringstream in(openssh_line);
    std::string type, blob;
    in >> type >> blob;
    auto shown = openssh_line.size() > 60 ? openssh_line.substr(0, 60) + "..." : openssh_line;
    if (type.empty() || blob.empty())
        throw usage_error(fmt::format(
            "'{}' is not an SSH public key: expected \"TYPE BASE64\", e.g. \"ssh-ed25519 AAAA...\"",
            shown));
    auto raw = base64_decode(blob);
    if (!raw)
        throw usage_error(fmt::format("'{}' is not an SSH public key: bad base64", shown));
    auto inner = blob_key_type(*raw);
    if (!inner)
        throw usage_error(fmt::format("'{}' is not an SSH public key: malformed key data", shown));
    if (*inner != type)
        throw usage_error(
            fmt::format("'{}' is not a valid SSH public key: it says {} but the key data is {}",
                        shown, type, *inner));
    return HostKey{type, base64_encode(*raw, true)};
}

std::vector<std::string> default_known_hosts_files() {
    return {home_path(".ssh/known_hosts")};
}

std::vector<std::string> default_identity_files() {
    return {home_path(".ssh/id_ed25519"), home_path(".ssh/id_rsa")};
}

std::optional<std::string> default_agent_socket() {
    const char* s = std::getenv("SSH_AUTH_SOCK");
    if (s && *s)
        return std::string(s);
    return std::nullopt;
}

} // namespace fedi::ssh
