#include "s3/sigv4.hpp"

#include "core/text.hpp"

#include "core/error.hpp"
#include "s3/hash.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>

#include <fmt/format.h>

namespace fedi::storage::sigv4 {
namespace {

constexpr const char* algorithm = "AWS4-HMAC-SHA256";

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// Trims and collapses runs of whitespace (folded lines included) into one space.
std::string canonical_header_value(std::string_view v) {
    std::string out;
    bool pending_space = false;
    for (char c : v) {
        if (is_space(c)) {
            pending_space = !out.empty();
        } else {
            if (pending_space)
                out += ' ';
            pending_space = false;
            out += c;
        }
    }
    return out;
}

// Headers that proxies and HTTP stacks add or rewrite; signing them breaks requests.
bool never_signed(const std::string& lower_name) {
    return lower_name == "authorization" || lower_name == "user-agent" || lower_name == "expect" ||
           lower_name == "connection" || lower_name == "transfer-encoding" ||
           lower_name == "x-amzn-trace-id";
}

struct UrlParts {
    std::string base;      // everything before '?'
    std::string authority; // host[:port], without user info
    std::string path;      // as written, "/" when empty
    std::string query;     // without '?', fragment dropped
};

UrlParts split_url(const std::string& url) {
    UrlParts parts;
    auto end = url.find('#');
    std::string_view u(url.data(), end == std::string::npos ? url.size() : end);
    auto q = u.find('?');
    parts.base = std::string(u.substr(0, q));
    if (q != std::string_view::npos)
        parts.query = std::string(u.substr(q + 1));
    std::string_view base = parts.base;
    auto scheme = base.find("://");
    if (scheme == std::string_view::npos)
        throw Error(fmt::format("cannot sign a request for '{}': not an absolute URL",
                                http::redact_url(url)));
    auto rest = base.substr(scheme + 3);
    auto slash = rest.find('/');
    auto authority = rest.substr(0, slash);
    if (auto at = authority.rfind('@'); at != std::string_view::npos)
        authority.remove_prefix(at + 1);
    parts.authority = std::string(authority);
    parts.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
    return parts;
}

struct Prepared {
    std::string canonical_headers; // "name:value\n" lines
    std::string signed_headers;    // "a;b;c"
};

Prepared prepare_headers(const http::Headers& headers) {
    // Stable sort keeps the sending order of repeated headers, which joins their values.
    std::vector<std::pair<std::string, std::string>> list;
    for (const auto& h : headers) {
        auto name = lower(h.name);
        if (!never_signed(name))
            list.emplace_back(name, canonical_header_value(h.value));
    }
    std::stable_sort(list.begin(), list.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    Prepared p;
    for (std::size_t i = 0; i < list.size(); ++i) {
        if (i > 0 && list[i].first == list[i - 1].first) {
            p.canonical_headers.pop_back(); // the '\n'
            p.canonical_headers += ',' + list[i].second + '\n';
            continue;
        }
        p.canonical_headers += list[i].first + ':' + list[i].second + '\n';
        if (!p.signed_headers.empty())
            p.signed_headers += ';';
        p.signed_headers += list[i].first;
    }
    return p;
}

std::string canonical_uri(const std::string& path, const Options& options) {
    std::string p = options.normalize_path ? normalize_path(path) : path;
    if (options.double_encode_path)
        p = uri_encode(p, true);
    return p.empty() ? "/" : p;
}

std::string scope_of(const std::string& date, const Options& options) {
    return fmt::format("{}/{}/{}/aws4_request", date, options.region, options.service);
}

// Fills canonical request, string to sign and signature.
void compute(Signed& out, const std::string& method, const UrlParts& url, const std::string& query,
             const Prepared& headers, const std::string& payload_hash,
             const Credentials& credentials, const Options& options, const std::string& date_time) {
    out.canonical_request = fmt::format(
        "{}\n{}\n{}\n{}\n{}\n{}", method, canonical_uri(url.path, options), canonical_query(query),
        headers.canonical_headers, headers.signed_headers, payload_hash);
    auto date = date_time.substr(0, 8);
    out.string_to_sign = fmt::format("{}\n{}\n{}\n{}", algorithm, date_time,
                                     scope_of(date, options), hex(sha256(out.canonical_request)));
    auto key = hmac_sha256("AWS4" + credentials.secret_access_key, date);
    key = hmac_sha256(key, options.region);
    key = hmac_sha256(key, options.service);
    key = hmac_sha256(key, "aws4_request");
    out.signature = hex(hmac_sha256(key, out.string_to_sign));
}

void check_credentials(const Credentials& c, const http::Request& r) {
    if (c.access_key_id.empty() || c.secret_access_key.empty())
        throw Error(fmt::format("cannot sign {} {}: access key id or secret key is empty", r.method,
                                http::redact_url(r.url)));
}

void add_host(http::Request& request, const UrlParts& url, http::Headers* added) {
    if (http::find_header(request.headers, "Host"))
        return;
    request.headers.push_back({"Host", url.authority});
    if (added)
        added->push_back(request.headers.back());
}

void erase_header(http::Headers& headers, std::string_view name) {
    auto lname = lower(name);
    std::erase_if(headers, [&](const http::Header& h) { return lower(h.name) == lname; });
}

} // namespace

Options Options::generic(std::string region, std::string service) {
    Options o;
    o.region = std::move(region);
    o.service = std::move(service);
    return o;
}

Options Options::s3(std::string region, bool unsigned_payload_) {
    Options o;
    o.region = std::move(region);
    o.service = "s3";
    o.normalize_path = false;
    o.double_encode_path = false;
    o.add_content_sha256_header = true;
    if (unsigned_payload_)
        o.payload_hash = unsigned_payload;
    return o;
}

std::string uri_encode(std::string_view s, bool keep_slash) {
    return percent_encode(s, keep_slash ? "/" : "");
}

std::string normalize_path(std::string_view path) {
    std::vector<std::string_view> segments;
    std::size_t pos = 0;
    while (pos <= path.size()) {
        auto next = path.find('/', pos);
        if (next == std::string_view::npos)
            next = path.size();
        auto seg = path.substr(pos, next - pos);
        if (seg == "..") {
            if (!segments.empty())
                segments.pop_back();
        } else if (!seg.empty() && seg != ".") {
            segments.push_back(seg);
        }
        pos = next + 1;
    }
    std::string out;
    for (auto seg : segments) {
        out += '/';
        out += seg;
    }
    if (out.empty())
        return "/";
    if (path.ends_with('/'))
        out += '/';
    return out;
}

std::string canonical_query(std::string_view query) {
    std::vector<std::pair<std::string, std::string>> params;
    std::size_t pos = 0;
    while (pos < query.size()) {
        auto amp = query.find('&', pos);
        if (amp == std::string_view::npos)
            amp = query.size();
        auto item = query.substr(pos, amp - pos);
        pos = amp + 1;
        if (item.empty())
            continue;
        auto eq = item.find('=');
        auto key = item.substr(0, eq);
        auto value = eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1);
        params.emplace_back(uri_encode(percent_decode(key), false),
                            uri_encode(percent_decode(value), false));
    }
    std::sort(params.begin(), params.end());
    std::string out;
    for (const auto& [k, v] : params) {
        if (!out.empty())
            out += '&';
        out += k + '=' + v;
    }
    return out;
}

std::string amz_date(Clock::time_point t) {
    return format_utc(Clock::to_time_t(t), "%Y%m%dT%H%M%SZ");
}

Signed sign_headers(http::Request& request, const Credentials& credentials, const Options& options,
                    Clock::time_point now) {
    check_credentials(credentials, request);
    Signed out;
    auto url = split_url(request.url);
    auto date_time = amz_date(now);
    add_host(request, url, &out.added_headers);
    erase_header(request.headers, "X-Amz-Date");
    erase_header(request.headers, "Authorization");
    auto add = [&](std::string name, std::string value) {
        request.headers.push_back({std::move(name), std::move(value)});
        out.added_headers.push_back(request.headers.back());
    };
    add("X-Amz-Date", date_time);
    bool token = !credentials.session_token.empty();
    if (token) {
        erase_header(request.headers, "X-Amz-Security-Token");
        if (options.sign_session_token)
            add("X-Amz-Security-Token", credentials.session_token);
    }
    auto payload_hash =
        options.payload_hash.empty() ? hex(sha256(request.body)) : options.payload_hash;
    if (options.add_content_sha256_header) {
        erase_header(request.headers, "x-amz-content-sha256");
        add("x-amz-content-sha256", payload_hash);
    }
    auto prepared = prepare_headers(request.headers);
    compute(out, request.method, url, url.query, prepared, payload_hash, credentials, options,
            date_time);
    if (token && !options.sign_session_token)
        add("X-Amz-Security-Token", credentials.session_token);
    add("Authorization",
        fmt::format("{} Credential={}/{}, SignedHeaders={}, Signature={}", algorithm,
                    credentials.access_key_id, scope_of(date_time.substr(0, 8), options),
                    prepared.signed_headers, out.signature));
    return out;
}

Signed presign_query(http::Request& request, const Credentials& credentials, const Options& options,
                     Clock::time_point now, std::chrono::seconds expires) {
    check_credentials(credentials, request);
    Signed out;
    auto url = split_url(request.url);
    auto date_time = amz_date(now);
    add_host(request, url, &out.added_headers);
    auto prepared = prepare_headers(request.headers);
    bool token = !credentials.session_token.empty();

    std::vector<std::pair<std::string, std::string>> params = {
        {"X-Amz-Algorithm", algorithm},
        {"X-Amz-Credential",
         credentials.access_key_id + "/" + scope_of(date_time.substr(0, 8), options)},
        {"X-Amz-Date", date_time},
        {"X-Amz-SignedHeaders", prepared.signed_headers},
        {"X-Amz-Expires", std::to_string(expires.count())},
    };
    if (token && options.sign_session_token)
        params.emplace_back("X-Amz-Security-Token", credentials.session_token);
    auto join = [](const auto& list) {
        std::string s;
        for (const auto& [k, v] : list) {
            if (!s.empty())
                s += '&';
            s += uri_encode(k, false) + '=' + uri_encode(v, false);
        }
        return s;
    };
    auto signed_query = url.query.empty() ? join(params) : url.query + '&' + join(params);
    auto payload_hash =
        options.payload_hash.empty() ? hex(sha256(request.body)) : options.payload_hash;
    compute(out, request.method, url, signed_query, prepared, payload_hash, credentials, options,
            date_time);
    if (token && !options.sign_session_token)
        params.emplace_back("X-Amz-Security-Token", credentials.session_token);
    params.emplace_back("X-Amz-Signature", out.signature);
    out.added_query = join(params);
    request.url = url.base + '?' + (url.query.empty() ? "" : url.query + '&') + out.added_query;
    return out;
}

} // namespace fedi::storage::sigv4
