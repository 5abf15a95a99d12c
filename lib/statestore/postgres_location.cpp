// A PostgreSQL state location: libpq's URL plus fedi's own table= and deployment=.
#include "statestore/postgres_backend.hpp"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <algorithm>
#include <cctype>

namespace fedi::statestore {

namespace {

std::string percent_decoded(const std::string& s, const std::string& name) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out += s[i];
            continue;
        }
        if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
            !std::isxdigit(static_cast<unsigned char>(s[i + 2])))
            throw usage_error(fmt::format("state URL: a bad %-escape in its {} parameter", name));
        out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
        i += 2;
    }
    return out;
}

// `user:password@` in the authority: refused before libpq (or a message) sees it.
bool has_password_in_userinfo(const std::string& location) {
    auto start = location.find("://");
    if (start == std::string::npos)
        return false;
    start += 3;
    auto end = location.find_first_of("/?", start);
    auto authority = location.substr(start, end == std::string::npos ? end : end - start);
    auto at = authority.rfind('@');
    return at != std::string::npos && authority.substr(0, at).find(':') != std::string::npos;
}

// What libpq makes of the URL: a usage error when it would refuse it or when it carries a
// password in its query.
void check_with_libpq(const std::string& conninfo) {
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
    if (!options) {
        std::string why = error ? error : "out of memory";
        PQfreemem(error);
        while (!why.empty() && why.back() == '\n')
            why.pop_back();
        throw usage_error(fmt::format("state URL: libpq refuses it: {}", why));
    }
    bool password = false;
    for (auto* o = options; o->keyword; ++o) {
        std::string keyword = o->keyword;
        if ((keyword == "password" || keyword == "sslpassword") && o->val && *o->val)
            password = true;
    }
    PQconninfoFree(options);
    if (password)
        throw usage_error(
            "state URL: it carries a password; give it in a password file (~/.pgpass, or "
            "PGPASSFILE) or in PGPASSWORD instead: a URL is seen in process lists and "
            "shell histories");
}

void check_table_name(const std::string& table) {
    bool plain = !table.empty() && table.size() <= 48 &&
                 !std::isdigit(static_cast<unsigned char>(table[0])) &&
                 std::all_of(table.begin(), table.end(), [](char c) {
                     return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
                 });
    if (!plain)
        throw usage_error(
            fmt::format("state URL: table=\"{}\" is not a plain table name (lower-case "
                        "letters, digits and _, at most 48)",
                        table));
}

} // namespace

PostgresLocation parse_postgres_location(const std::string& location) {
    if (has_password_in_userinfo(location))
        throw usage_error("state URL: it carries a password (user:password@); give it in a "
                          "password file (~/.pgpass, or PGPASSFILE) or in PGPASSWORD instead: a "
                          "URL is seen in process lists and shell histories");
    PostgresLocation loc;
    auto q = location.find('?');
    loc.conninfo = location.substr(0, q);
    std::string kept;
    for (std::size_t at = q; at != std::string::npos && at < location.size();) {
        auto next = location.find('&', at + 1);
        auto part = location.substr(at + 1, next == std::string::npos ? next : next - at - 1);
        at = next;
        auto eq = part.find('=');
        auto key = part.substr(0, eq);
        auto value = eq == std::string::npos ? "" : part.substr(eq + 1);
        if (key == "table")
            loc.table = percent_decoded(value, key);
        else if (key == "deployment")
            loc.deployment = percent_decoded(value, key);
        else if (!part.empty())
            kept += (kept.empty() ? "?" : "&") + part;
    }
    loc.conninfo += kept;
    check_table_name(loc.table);
    if (loc.deployment.empty())
        throw usage_error("state URL: deployment= names no deployment");
    check_with_libpq(loc.conninfo);
    return loc;
}

} // namespace fedi::statestore
