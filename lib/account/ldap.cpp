#include "account/ldap.hpp"

#include "account/tls_probe.hpp"
#include "core/error.hpp"

#include <fmt/format.h>
#include <ldap.h>
#include <sys/time.h>

namespace fedi::account {

namespace {

LDAP* handle(void* p) {
    return static_cast<LDAP*>(p);
}

// LDAPMod arrays pointing into `attrs` (which must outlive them).
struct Mods {
    std::vector<LDAPMod> mods;
    std::vector<std::vector<berval>> values;
    std::vector<std::vector<berval*>> value_ptrs;
    std::vector<LDAPMod*> ptrs;
    Mods(const LdapAttrs& attrs, int op) {
        mods.reserve(attrs.size());
        values.reserve(attrs.size());
        value_ptrs.reserve(attrs.size());
        for (const auto& [name, vals] : attrs) {
            auto& bv = values.emplace_back();
            for (const auto& v : vals)
                bv.push_back({static_cast<ber_len_t>(v.size()), const_cast<char*>(v.data())});
            auto& bp = value_ptrs.emplace_back();
            for (auto& b : bv)
                bp.push_back(&b);
            bp.push_back(nullptr);
            LDAPMod m{};
            m.mod_op = op | LDAP_MOD_BVALUES;
            m.mod_type = const_cast<char*>(name.c_str());
            m.mod_bvalues = bp.data();
            mods.push_back(m);
        }
        for (auto& m : mods)
            ptrs.push_back(&m);
        ptrs.push_back(nullptr);
    }
};

} // namespace

LdapConnection::LdapConnection(const LdapOptions& opts) : url_(opts.url), opts_(opts) {
    LDAP* ld = nullptr;
    int rc = ldap_initialize(&ld, opts.url.c_str());
    if (rc != LDAP_SUCCESS)
        throw Error(fmt::format("LDAP URL {}: {}", opts.url, ldap_err2string(rc)));
    ld_ = ld;
    int version = LDAP_VERSION3;
    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    timeval tv{opts.timeout_seconds, 0};
    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv);
    int demand = LDAP_OPT_X_TLS_DEMAND;
    ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
    if (opts.ca_file)
        ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, opts.ca_file->c_str());
    int is_server = 0; // a TLS context of this handle's own, with the options above
    rc = ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &is_server);
    if (rc != LDAP_SUCCESS)
        fail("setting up TLS", rc);
    if (opts.start_tls) {
        rc = ldap_start_tls_s(ld, nullptr, nullptr);
        if (rc != LDAP_SUCCESS)
            fail("StartTLS", rc);
    }
}

LdapConnection::~LdapConnection() {
    if (ld_)
        ldap_unbind_ext_s(handle(ld_), nullptr, nullptr);
}

void LdapConnection::fail(const std::string& what, int rc) {
    std::string detail;
    char* diag = nullptr;
    if (ldap_get_option(handle(ld_), LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag) == LDAP_SUCCESS && diag) {
        if (*diag)
            detail = std::string(" (") + diag + ")";
        ldap_memfree(diag);
    }
    // A certificate libldap does not trust looks like an unreachable server; say which.
    bool tls = opts_.start_tls || url_.rfind("ldaps://", 0) == 0;
    if (tls && (rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR))
        if (auto why =
                certificate_problem(url_, opts_.ca_file, opts_.start_tls, opts_.timeout_seconds))
            throw Error(fmt::format(
                "LDAP {} at {}: the directory's TLS certificate is not trusted: {} (checked "
                "against {}{})",
                what, url_, *why,
                opts_.ca_file ? "caFile " + *opts_.ca_file : "the system's CA certificates",
                opts_.ca_file ? ": is it the CA that signed the directory's certificate?"
                              : "; set caFile to the CA that signed it"));
    throw Error(fmt::format("LDAP {} at {}: {}{}", what, url_, ldap_err2string(rc), detail));
}

bool LdapConnection::try_bind(const std::string& dn, const std::string& password) {
    berval cred{static_cast<ber_len_t>(password.size()), const_cast<char*>(password.data())};
    int rc = ldap_sasl_bind_s(handle(ld_), dn.c_str(), LDAP_SASL_SIMPLE, &cred, nullptr, nullptr,
                              nullptr);
    if (rc == LDAP_INVALID_CREDENTIALS)
        return false;
    if (rc != LDAP_SUCCESS)
        fail("bind as " + dn, rc);
    return true;
}

void LdapConnection::bind(const std::string& dn, const std::string& password) {
    if (!try_bind(dn, password))
        throw Error(fmt::format("LDAP bind as {} at {}: invalid credentials", dn, url_));
}

std::optional<LdapAttrs> LdapConnection::read(const std::string& dn,
                                              const std::vector<std::string>& attrs) {
    std::vector<char*> names;
    for (const auto& a : attrs)
        names.push_back(const_cast<char*>(a.c_str()));
    names.push_back(nullptr);
    LDAPMessage* res = nullptr;
    int rc = ldap_search_ext_s(handle(ld_), dn.c_str(), LDAP_SCOPE_BASE, "(objectClass=*)",
                               attrs.empty() ? nullptr : names.data(), 0, nullptr, nullptr, nullptr,
                               1, &res);
    if (rc == LDAP_NO_SUCH_OBJECT) {
        ldap_msgfree(res);
        return std::nullopt;
    }
    if (rc != LDAP_SUCCESS) {
        ldap_msgfree(res);
        fail("read of " + dn, rc);
    }
    LdapAttrs out;
    LDAPMessage* e = ldap_first_entry(handle(ld_), res);
    if (!e) {
        ldap_msgfree(res);
        return std::nullopt;
    }
    BerElement* ber = nullptr;
    for (char* a = ldap_first_attribute(handle(ld_), e, &ber); a;
         a = ldap_next_attribute(handle(ld_), e, ber)) {
        berval** vals = ldap_get_values_len(handle(ld_), e, a);
        auto& list = out[a];
        for (int i = 0; vals && vals[i]; ++i)
            list.emplace_back(vals[i]->bv_val, vals[i]->bv_len);
        ldap_value_free_len(vals);
        ldap_memfree(a);
    }
    if (ber)
        ber_free(ber, 0);
    ldap_msgfree(res);
    return out;
}

void LdapConnection::add(const std::string& dn, const LdapAttrs& attrs) {
    Mods m(attrs, LDAP_MOD_ADD);
    int rc = ldap_add_ext_s(handle(ld_), dn.c_str(), m.ptrs.data(), nullptr, nullptr);
    if (rc != LDAP_SUCCESS)
        fail("add of " + dn, rc);
}

void LdapConnection::replace(const std::string& dn, const LdapAttrs& attrs) {
    Mods m(attrs, LDAP_MOD_REPLACE);
    int rc = ldap_modify_ext_s(handle(ld_), dn.c_str(), m.ptrs.data(), nullptr, nullptr);
    if (rc != LDAP_SUCCESS)
        fail("change of " + dn, rc);
}

} // namespace fedi::account
