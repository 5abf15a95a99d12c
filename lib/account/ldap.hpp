#pragma once
// A small LDAP client on OpenLDAP's libldap (simple bind; TLS for ldaps:// URLs or with
// StartTLS, checking the server certificate against a CA file or the system's CAs).
#include "core/enum_names.hpp"
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace fedi::account {

using LdapAttrs = std::map<std::string, std::vector<std::string>>;

struct LdapOptions {
    std::string url;
    std::optional<std::string> ca_file;
    bool start_tls = false;
    int timeout_seconds = 15;
};

class LdapConnection : NonCopyable {
  public:
    // Connects lazily (libldap connects at the first operation); StartTLS at once.
    explicit LdapConnection(const LdapOptions& opts);
    ~LdapConnection();

    // Simple bind; throws naming the DN and what the server said.
    void bind(const std::string& dn, const std::string& password);
    // Simple bind; false when the server says the credentials are wrong.
    bool try_bind(const std::string& dn, const std::string& password);
    // The entry's attributes (those asked for, or all user attributes), or nothing.
    std::optional<LdapAttrs> read(const std::string& dn,
                                  const std::vector<std::string>& attrs = {});
    void add(const std::string& dn, const LdapAttrs& attrs);
    void replace(const std::string& dn, const LdapAttrs& attrs);

  private:
    [[noreturn]] void fail(const std::string& what, int rc);
    void* ld_ = nullptr; // LDAP*
    std::string url_;
    LdapOptions opts_; // to probe the certificate when the connection fails
};

} // namespace fedi::account
