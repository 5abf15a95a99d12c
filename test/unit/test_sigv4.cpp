// SigV4 against published expectations only: the AWS signing test suite (aws-c-auth's
// v4 cases, vendored in test/data/sigv4) for the generic flavour, and the examples of
// the Amazon S3 API Reference (test/data/sigv4-s3) for the S3 flavour.
#include "core/text.hpp"
#include "s3/sigv4.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

using namespace fedi;
using namespace fedi::storage;
namespace fs = std::filesystem;

namespace {

const fs::path suite_dir = fs::path(FEDI_TEST_DATA_DIR) / "sigv4" / "v4";

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    REQUIRE(in);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// The expected texts have no trailing newline, or one added by an editor.
std::string expected_text(const fs::path& p) {
    auto s = read_file(p);
    while (!s.empty() && s.back() == '\n')
        s.pop_back();
    return s;
}

// An HTTP/1.1 message as the suite writes it: request line, "Name:value" lines (a line
// starting with whitespace continues the previous value), blank line, body.
struct Message {
    std::string method, target, version;
    http::Headers headers; // values exactly as written after the colon
    std::string body;
};

Message parse_message(const std::string& text) {
    Message m;
    std::size_t pos = 0;
    auto next_line = [&](std::string& line) {
        if (pos >= text.size())
            return false;
        auto end = text.find('\n', pos);
        if (end == std::string::npos)
            end = text.size();
        line = text.substr(pos, end - pos);
        pos = end + 1;
        return true;
    };
    std::string line;
    REQUIRE(next_line(line));
    // The target may hold spaces ("/example space/"): split at the first and last space.
    auto first = line.find(' '), last = line.rfind(' ');
    REQUIRE(first != last);
    m.method = line.substr(0, first);
    m.target = line.substr(first + 1, last - first - 1);
    m.version = line.substr(last + 1);
    while (next_line(line) && !line.empty()) {
        if ((line[0] == ' ' || line[0] == '\t') && !m.headers.empty()) {
            m.headers.back().value += "\n" + line;
            continue;
        }
        auto colon = line.find(':');
        REQUIRE(colon != std::string::npos);
        m.headers.push_back({line.substr(0, colon), line.substr(colon + 1)});
    }
    if (pos < text.size())
        m.body = text.substr(pos);
    return m;
}

// Order between different header names carries no meaning in HTTP; order among repeated
// names does. A stable sort by lower-case name keeps exactly what matters.
http::Headers comparable(http::Headers h) {
    std::stable_sort(h.begin(), h.end(),
                     [](const auto& a, const auto& b) { return lower(a.name) < lower(b.name); });
    return h;
}

// Query parameters in order of key, then value: their order on the wire is free.
std::vector<std::string> query_params(const std::string& target) {
    std::vector<std::string> out;
    auto q = target.find('?');
    if (q == std::string::npos)
        return out;
    std::stringstream s(target.substr(q + 1));
    std::string item;
    while (std::getline(s, item, '&'))
        out.push_back(item);
    std::sort(out.begin(), out.end());
    return out;
}

sigv4::Clock::time_point parse_time(const std::string& iso) {
    std::tm tm{};
    std::istringstream in(iso);
    in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%SZ");
    REQUIRE(!in.fail());
    return sigv4::Clock::from_time_t(timegm(&tm));
}

struct Case {
    std::string name;
    fs::path dir;
    nlohmann::json context;
    Message request;
};

std::vector<Case> load_suite() {
    std::vector<Case> cases;
    REQUIRE(fs::is_directory(suite_dir));
    for (const auto& entry : fs::directory_iterator(suite_dir)) {
        if (!entry.is_directory())
            continue;
        Case c;
        c.name = entry.path().filename().string();
        c.dir = entry.path();
        c.context = nlohmann::json::parse(read_file(c.dir / "context.json"));
        c.request = parse_message(read_file(c.dir / "request.txt"));
        cases.push_back(std::move(c));
    }
    std::sort(cases.begin(), cases.end(),
              [](const Case& a, const Case& b) { return a.name < b.name; });
    return cases;
}

sigv4::Credentials credentials_of(const nlohmann::json& context) {
    const auto& c = context.at("credentials");
    return {c.at("access_key_id"), c.at("secret_access_key"), c.value("token", "")};
}

// The suite's flags as the signer's options: every case is a generic (non-S3) service
// whose paths are encoded by the signer, normalised when "normalize" says so.
sigv4::Options options_of(const nlohmann::json& context) {
    auto o = sigv4::Options::generic(context.at("region"), context.at("service"));
    o.normalize_path = context.at("normalize");
    o.add_content_sha256_header = context.value("sign_body", false);
    o.sign_session_token = !context.value("omit_session_token", false);
    return o;
}

http::Request to_request(const Message& m) {
    http::Request r;
    r.method = m.method;
    r.url = "http://example.amazonaws.com" + m.target; // the Host header decides signing
    r.headers = m.headers;
    r.body = m.body;
    return r;
}

std::string target_of(const http::Request& r) {
    return r.url.substr(std::string("http://example.amazonaws.com").size());
}

// A case is skipped only when it lacks the expected files for a signing mode (then that
// mode does not apply to it). Every case of the suite as shipped has both modes' files,
// so nothing is skipped today; any skip is printed so that it cannot go unnoticed.
bool has_files(const Case& c, const std::string& mode) {
    for (auto f :
         {"-canonical-request.txt", "-string-to-sign.txt", "-signature.txt", "-signed-request.txt"})
        if (!fs::exists(c.dir / (mode + f)))
            return false;
    return true;
}

} // namespace

TEST_CASE("SigV4 test suite: header signing, every case") {
    auto cases = load_suite();
    REQUIRE(cases.size() >= 30); // the suite has 38 cases; a missing folder must not pass
    std::vector<std::string> skipped;
    std::size_t ran = 0;
    for (const auto& c : cases) {
        if (!has_files(c, "header")) {
            skipped.push_back(c.name + " (no header-* expected files)");
            continue;
        }
        {
            INFO("case: " << c.name);
            auto request = to_request(c.request);
            auto result =
                sigv4::sign_headers(request, credentials_of(c.context), options_of(c.context),
                                    parse_time(c.context.at("timestamp")));
            CHECK(result.canonical_request ==
                  expected_text(c.dir / "header-canonical-request.txt"));
            CHECK(result.string_to_sign == expected_text(c.dir / "header-string-to-sign.txt"));
            CHECK(result.signature == expected_text(c.dir / "header-signature.txt"));

            auto expected = parse_message(read_file(c.dir / "header-signed-request.txt"));
            CHECK(c.request.method == expected.method);
            CHECK(target_of(request) == expected.target);
            CHECK(comparable(request.headers) == comparable(expected.headers));
            CHECK(request.body == expected.body);
        }
        ++ran;
    }
    for (const auto& s : skipped)
        WARN("skipped " << s);
    CHECK(ran > 0);
}

TEST_CASE("SigV4 test suite: query (presigned) signing, every case") {
    auto cases = load_suite();
    REQUIRE(cases.size() >= 30);
    std::vector<std::string> skipped;
    for (const auto& c : cases) {
        if (!has_files(c, "query")) {
            skipped.push_back(c.name + " (no query-* expected files)");
            continue;
        }
        {
            INFO("case: " << c.name);
            auto request = to_request(c.request);
            auto result = sigv4::presign_query(
                request, credentials_of(c.context), options_of(c.context),
                parse_time(c.context.at("timestamp")),
                std::chrono::seconds(c.context.at("expiration_in_seconds").get<long>()));
            CHECK(result.canonical_request == expected_text(c.dir / "query-canonical-request.txt"));
            CHECK(result.string_to_sign == expected_text(c.dir / "query-string-to-sign.txt"));
            CHECK(result.signature == expected_text(c.dir / "query-signature.txt"));

            auto expected = parse_message(read_file(c.dir / "query-signed-request.txt"));
            auto target = target_of(request);
            CHECK(target.substr(0, target.find('?')) ==
                  expected.target.substr(0, expected.target.find('?')));
            CHECK(query_params(target) == query_params(expected.target));
            CHECK(comparable(request.headers) == comparable(expected.headers));
            CHECK(request.body == expected.body);
        }
    }
    for (const auto& s : skipped)
        WARN("skipped " << s);
    CHECK(skipped.size() < cases.size());
}

TEST_CASE("SigV4 S3 flavour: the Amazon S3 documentation examples") {
    auto doc = nlohmann::json::parse(
        read_file(fs::path(FEDI_TEST_DATA_DIR) / "sigv4-s3" / "aws-s3-doc-examples.json"));
    sigv4::Credentials creds{doc["credentials"]["access_key_id"],
                             doc["credentials"]["secret_access_key"], ""};
    auto now = parse_time(doc["timestamp"]);
    auto options = sigv4::Options::s3(doc["region"]);

    for (const auto& ex : doc["header_signed"]) {
        {
            INFO("example: " << ex["name"].get<std::string>());
            http::Request r{ex["method"], ex["url"], {}, ex["body"]};
            for (const auto& h : ex["headers"])
                r.headers.push_back({h[0], h[1]});
            auto result = sigv4::sign_headers(r, creds, options, now);
            CHECK(result.signature == ex["signature"].get<std::string>());
            auto auth = http::find_header(r.headers, "Authorization");
            REQUIRE(auth);
            CHECK_THAT(*auth, Catch::Contains("SignedHeaders=" +
                                              ex["signed_headers"].get<std::string>() + ","));
            // S3 wants the payload hash sent as a header too.
            CHECK(http::find_header(r.headers, "x-amz-content-sha256"));
        }
    }
    for (const auto& ex : doc["presigned"]) {
        {
            INFO("example: " << ex["name"].get<std::string>());
            http::Request r{ex["method"], ex["url"], {}, ""};
            auto presign = options;
            presign.payload_hash = sigv4::unsigned_payload;
            auto result = sigv4::presign_query(r, creds, presign, now,
                                               std::chrono::seconds(ex["expires"].get<long>()));
            CHECK(result.signature == ex["signature"].get<std::string>());
            CHECK_THAT(r.url,
                       Catch::EndsWith("&X-Amz-Signature=" + ex["signature"].get<std::string>()));
        }
    }
}

TEST_CASE("SigV4 S3 flavour signs the path exactly as sent") {
    // S3 object keys may hold "..", "//" and encoded bytes; the server signs the path it
    // received, so the signer must neither normalise nor re-encode it.
    http::Request r{"GET", "http://127.0.0.1:7480/bucket/a/..//b%20c", {}, ""};
    auto result = sigv4::sign_headers(r, {"AK", "SK", ""}, sigv4::Options::s3("us-east-1"),
                                      sigv4::Clock::now());
    auto second_line = result.canonical_request.substr(result.canonical_request.find('\n') + 1);
    CHECK(second_line.substr(0, second_line.find('\n')) == "/bucket/a/..//b%20c");
    // The host of a non-default port is signed with the port, as curl sends it.
    CHECK(http::find_header(r.headers, "Host") == "127.0.0.1:7480");
}

TEST_CASE("SigV4 unsigned payload is signed as the literal UNSIGNED-PAYLOAD") {
    http::Request r{"PUT", "http://s3.test/b/k", {}, "body bytes"};
    sigv4::sign_headers(r, {"AK", "SK", ""}, sigv4::Options::s3("garage", true),
                        sigv4::Clock::now());
    CHECK(http::find_header(r.headers, "x-amz-content-sha256") == "UNSIGNED-PAYLOAD");
}

TEST_CASE("SigV4 refuses to sign without credentials") {
    http::Request r{"GET", "http://s3.test/", {}, ""};
    CHECK_THROWS_WITH(
        sigv4::sign_headers(r, {"", "", ""}, sigv4::Options::s3("us-east-1"), sigv4::Clock::now()),
        Catch::Contains("access key id or secret key is empty"));
}
