#pragma once
// AWS Signature Version 4 (AWS4-HMAC-SHA256): signs an http::Request in place, either
// with an Authorization header or as a presigned URL (query parameters).
//
// Two flavours differ in how the path enters the canonical request:
//  - generic AWS services: the path is normalised (dot segments, repeated slashes) and
//    URI-encoded once more, even when it is already encoded ("double encoding");
//  - S3: the path is taken exactly as sent, and x-amz-content-sha256 is sent and signed.
#include "http/http.hpp"

#include <chrono>
#include <string>

namespace fedi::storage::sigv4 {

struct Credentials {
    std::string access_key_id;
    std::string secret_access_key;
    std::string session_token; // empty: none
};

inline constexpr const char* unsigned_payload = "UNSIGNED-PAYLOAD";

struct Options {
    std::string region;
    std::string service;
    bool normalize_path = true;
    bool double_encode_path = true;
    bool add_content_sha256_header = false; // send and sign x-amz-content-sha256
    // The payload hash to sign; empty means hex SHA-256 of the body. S3 also accepts
    // unsigned_payload.
    std::string payload_hash;
    // false: add X-Amz-Security-Token after signing, unsigned (some services want that).
    bool sign_session_token = true;

    static Options generic(std::string region, std::string service);
    static Options s3(std::string region, bool unsigned_payload_ = false);
};

// What signing produced, for tests and debugging (the signature is not a secret, the
// signing key is never exposed).
struct Signed {
    std::string canonical_request;
    std::string string_to_sign;
    std::string signature;
    http::Headers added_headers; // header signing: appended to the request, in this order
    std::string added_query;     // query signing: appended to the URL ("&"-joined)
};

using Clock = std::chrono::system_clock;

// Adds Host (from the URL, unless present), X-Amz-Date, [X-Amz-Security-Token],
// [x-amz-content-sha256] and Authorization headers to the request.
Signed sign_headers(http::Request& request, const Credentials& credentials, const Options& options,
                    Clock::time_point now);

// Adds the X-Amz-* query parameters of a presigned URL valid for `expires` to the
// request's URL; Host is signed, and any other header present on the request.
Signed presign_query(http::Request& request, const Credentials& credentials, const Options& options,
                     Clock::time_point now, std::chrono::seconds expires);

// Building blocks, public for tests.
// RFC 3986 unreserved characters pass, everything else is %XX (upper case);
// '/' passes only when keep_slash.
std::string uri_encode(std::string_view s, bool keep_slash);
// Removes "." and ".." segments and empty segments; keeps a trailing slash.
std::string normalize_path(std::string_view path);
// Query parameters decoded, re-encoded and sorted, "k=v" joined by '&'.
std::string canonical_query(std::string_view query);
// "20150830T123600Z"
std::string amz_date(Clock::time_point t);

} // namespace fedi::storage::sigv4
