#pragma once
// Why an LDAP directory's TLS certificate is refused. libldap (built with GnuTLS on
// Debian) reports a certificate it does not trust as "Can't contact LDAP server"
// with no detail; this probe makes the TLS handshake itself (after StartTLS where the
// URL uses it) and asks OpenSSL what is wrong with the certificate.
#include <optional>
#include <string>

namespace fedi::account {

// What is wrong with the certificate the server at `url` (ldap:// with `start_tls`, or
// ldaps://) presents, checked against `ca_file` (or the system's CAs) and the URL's host
// name; nullopt when it verifies or the probe cannot tell (no connection, no TLS).
std::optional<std::string> certificate_problem(const std::string& url,
                                               const std::optional<std::string>& ca_file,
                                               bool start_tls, int timeout_seconds);

} // namespace fedi::account
