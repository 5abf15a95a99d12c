#include "s3/s3.hpp"

#include "core/error.hpp"
#include "s3/xml.hpp"

#include <cctype>

#include <fmt/format.h>

namespace fedi::storage {
namespace {

std::string strip_quotes(std::string s) {
    if (s.size() >= 2 && s.front() == '"' && s.back() == '"')
        return s.substr(1, s.size() - 2);
    return s;
}

std::uint64_t to_size(const std::string& s, std::string_view what) {
    try {
        std::size_t used = 0;
        auto v = std::stoull(s, &used);
        if (used == s.size())
            return v;
    } catch (const std::exception&) {
    }
    throw Error(fmt::format("S3 answered a {} that is not a number: '{}'", what, s));
}

std::string status_code_name(long status) {
    switch (status) {
    case 301:
        return "PermanentRedirect";
    case 400:
        return "BadRequest";
    case 403:
        return "Forbidden";
    case 404:
        return "NotFound";
    case 409:
        return "Conflict";
    default:
        return "";
    }
}

} // namespace

void check_bucket_name(const std::string& bucket) {
    auto bad = [&](std::string_view why) {
        return usage_error(fmt::format("invalid S3 bucket name '{}': {}", bucket, why));
    };
    if (bucket.size() < 3 || bucket.size() > 63)
        throw bad("it must have 3 to 63 characters");
    for (char c : bucket)
        if (!(std::islower(static_cast<unsigned char>(c)) ||
              std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-'))
            throw bad("only lower-case letters, digits, '.' and '-' are allowed");
    if (!std::isalnum(static_cast<unsigned char>(bucket.front())) ||
        !std::isalnum(static_cast<unsigned char>(bucket.back())))
        throw bad("it must start and end with a letter or digit");
    if (bucket.find("..") != std::string::npos)
        throw bad("it must not contain '..'");
    int dots = 0;
    bool digits_and_dots = true;
    for (char c : bucket) {
        dots += c == '.';
        digits_and_dots =
            digits_and_dots && (c == '.' || std::isdigit(static_cast<unsigned char>(c)));
    }
    if (dots == 3 && digits_and_dots)
        throw bad("it must not look like an IP address");
}

std::string s3_error_message(std::string_view operation, std::string_view resource,
                             const http::Response& response) {
    auto prefix = resource.empty() ? fmt::format("S3 {}", operation)
                                   : fmt::format("S3 {} {}", operation, resource);
    auto code = xml::text(response.body, "Code");
    auto message = xml::text(response.body, "Message");
    if (!code) // HEAD answers have no body; some servers say it in a header
        code = response.header("x-amz-error-code");
    if (!code || code->empty()) {
        auto name = status_code_name(response.status);
        if (!response.body.empty() && response.body.find("<Error") == std::string::npos)
            return fmt::format("{}: HTTP {}: {}", prefix, response.status,
                               http::body_excerpt(response.body));
        return name.empty() ? fmt::format("{}: HTTP {}", prefix, response.status)
                            : fmt::format("{}: {} (HTTP {})", prefix, name, response.status);
    }
    if (message && !message->empty())
        return fmt::format("{}: {}: {} (HTTP {})", prefix, *code, *message, response.status);
    return fmt::format("{}: {} (HTTP {})", prefix, *code, response.status);
}

std::vector<S3Bucket> parse_list_buckets(std::string_view body) {
    std::vector<S3Bucket> out;
    for (auto b : xml::elements(body, "Bucket"))
        out.push_back(
            {xml::text(b, "Name").value_or(""), xml::text(b, "CreationDate").value_or("")});
    return out;
}

S3ObjectPage parse_list_objects_page(std::string_view body) {
    S3ObjectPage page;
    for (auto c : xml::elements(body, "Contents")) {
        S3Object o;
        o.key = xml::text(c, "Key").value_or("");
        o.size = to_size(xml::text(c, "Size").value_or("0"), "Size");
        o.etag = strip_quotes(xml::text(c, "ETag").value_or(""));
        o.last_modified = xml::text(c, "LastModified").value_or("");
        page.objects.push_back(std::move(o));
    }
    page.truncated = xml::text(body, "IsTruncated").value_or("false") == "true";
    page.continuation_token = xml::text(body, "NextContinuationToken").value_or("");
    return page;
}

S3Client::S3Client(S3Config config) : config_(std::move(config)), http_(config_.http) {
    while (!config_.endpoint.empty() && config_.endpoint.back() == '/')
        config_.endpoint.pop_back();
    if (config_.endpoint.rfind("http://", 0) != 0 && config_.endpoint.rfind("https://", 0) != 0)
        throw usage_error(
            fmt::format("S3 endpoint '{}' must start with http:// or https://", config_.endpoint));
    if (config_.region.empty())
        throw usage_error(fmt::format("S3 endpoint {}: the region is empty", config_.endpoint));
}

sigv4::Options S3Client::sign_options() const {
    return sigv4::Options::s3(config_.region, config_.unsigned_payload);
}

http::Request S3Client::build(const Call& call) const {
    http::Request r;
    r.method = call.method;
    r.url = config_.endpoint + call.path;
    if (!call.query.empty())
        r.url += "?" + call.query;
    r.headers = call.headers;
    r.body = call.body;
    return r;
}

http::Response S3Client::send(Call call, std::initializer_list<long> ok) {
    auto request = build(call);
    if (!config_.anonymous)
        sigv4::sign_headers(request, config_.credentials, sign_options(), sigv4::Clock::now());
    http::Response response;
    try {
        response = http_.send(request);
    } catch (Error& e) {
        e.with_context(fmt::format("S3 {} {}", call.operation, call.resource));
        throw;
    }
    for (long status : ok)
        if (response.status == status)
            return response;
    throw Error(s3_error_message(call.operation, call.resource, response));
}

static std::string bucket_path(const std::string& bucket) {
    // Appended, not `"/" + temporary`: GCC 12's -O2 inlining of operator+(const char*,
    // string&&) trips a false -Wrestrict (GCC bug 105651).
    std::string path = "/";
    path += sigv4::uri_encode(bucket, false);
    return path;
}

static std::string object_path(const std::string& bucket, const std::string& key) {
    return bucket_path(bucket) + "/" + sigv4::uri_encode(key, true);
}

void S3Client::create_bucket(const std::string& bucket) {
    check_bucket_name(bucket);
    Call call{"CreateBucket", bucket, "PUT", bucket_path(bucket), "", {}, ""};
    if (config_.region != "us-east-1") {
        call.body = fmt::format(
            "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            "<LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
            xml::escape(config_.region));
        call.headers.push_back({"Content-Type", "application/xml"});
    }
    send(std::move(call));
}

bool S3Client::bucket_exists(const std::string& bucket) {
    auto r = send({"HeadBucket", bucket, "HEAD", bucket_path(bucket), "", {}, ""}, {200, 404});
    return r.status == 200;
}

std::vector<S3Bucket> S3Client::list_buckets() {
    auto r = send({"ListBuckets", "", "GET", "/", "", {}, ""});
    return parse_list_buckets(r.body);
}

void S3Client::delete_bucket(const std::string& bucket) {
    send({"DeleteBucket", bucket, "DELETE", bucket_path(bucket), "", {}, ""}, {204, 200});
}

void S3Client::put_object(const std::string& bucket, const std::string& key, std::string body,
                          const std::string& content_type) {
    Call call{"PutObject", bucket + "/" + key, "PUT", object_path(bucket, key), "",
              {},          std::move(body)};
    if (!content_type.empty())
        call.headers.push_back({"Content-Type", content_type});
    send(std::move(call));
}

std::optional<std::string> S3Client::put_object_if(const std::string& bucket,
                                                   const std::string& key, std::string body,
                                                   const PutCondition& condition) {
    Call call{"PutObject", bucket + "/" + key, "PUT", object_path(bucket, key), "",
              {},          std::move(body)};
    call.headers.push_back({"Content-Type", "application/octet-stream"});
    if (condition.if_match)
        call.headers.push_back({"If-Match", *condition.if_match});
    if (condition.if_none_match_any)
        call.headers.push_back({"If-None-Match", "*"});
    auto r = send(std::move(call), {200, 412});
    if (r.status == 412)
        return std::nullopt;
    return strip_quotes(r.header("ETag").value_or(""));
}

std::optional<S3Client::ObjectWithEtag> S3Client::get_object_with_etag(const std::string& bucket,
                                                                       const std::string& key) {
    auto r = send({"GetObject", bucket + "/" + key, "GET", object_path(bucket, key), "", {}, ""},
                  {200, 404});
    if (r.status == 404) {
        if (xml::text(r.body, "Code").value_or("NoSuchKey") != "NoSuchKey")
            throw Error(s3_error_message("GetObject", bucket + "/" + key, r));
        return std::nullopt;
    }
    return ObjectWithEtag{std::move(r.body), strip_quotes(r.header("ETag").value_or(""))};
}

std::string S3Client::get_object(const std::string& bucket, const std::string& key) {
    return send({"GetObject", bucket + "/" + key, "GET", object_path(bucket, key), "", {}, ""})
        .body;
}

std::optional<S3ObjectHead> S3Client::head_object(const std::string& bucket,
                                                  const std::string& key) {
    auto r = send({"HeadObject", bucket + "/" + key, "HEAD", object_path(bucket, key), "", {}, ""},
                  {200, 404});
    if (r.status == 404)
        return std::nullopt;
    S3ObjectHead head;
    head.size = to_size(r.header("Content-Length").value_or("0"), "Content-Length");
    head.etag = strip_quotes(r.header("ETag").value_or(""));
    head.content_type = r.header("Content-Type").value_or("");
    head.last_modified = r.header("Last-Modified").value_or("");
    return head;
}

std::vector<S3Object> S3Client::list_objects(const std::string& bucket, const std::string& prefix) {
    std::vector<S3Object> out;
    std::string token;
    for (;;) {
        std::string query = "list-type=2";
        if (!prefix.empty())
            query += "&prefix=" + sigv4::uri_encode(prefix, false);
        if (!token.empty())
            query += "&continuation-token=" + sigv4::uri_encode(token, false);
        auto r = send({"ListObjectsV2", bucket, "GET", bucket_path(bucket), query, {}, ""});
        auto page = parse_list_objects_page(r.body);
        for (auto& o : page.objects)
            out.push_back(std::move(o));
        if (!page.truncated)
            return out;
        token = page.continuation_token;
        if (token.empty())
            throw Error(fmt::format(
                "S3 ListObjectsV2 {}: the listing is truncated but has no continuation token",
                bucket));
    }
}

void S3Client::delete_object(const std::string& bucket, const std::string& key) {
    send({"DeleteObject", bucket + "/" + key, "DELETE", object_path(bucket, key), "", {}, ""},
         {204, 200});
}

void S3Client::put_bucket_policy(const std::string& bucket, const std::string& policy) {
    Call call{"PutBucketPolicy", bucket, "PUT", bucket_path(bucket), "policy=", {}, policy};
    call.headers.push_back({"Content-Type", "application/json"});
    send(std::move(call), {200, 204});
}

std::string S3Client::create_multipart_upload(const std::string& bucket, const std::string& key,
                                              const std::string& content_type) {
    Call call{"CreateMultipartUpload",
              bucket + "/" + key,
              "POST",
              object_path(bucket, key),
              "uploads=",
              {},
              ""};
    call.headers.push_back({"Content-Type", content_type});
    auto r = send(std::move(call));
    auto id = xml::text(r.body, "UploadId");
    if (!id || id->empty())
        throw Error(
            fmt::format("S3 CreateMultipartUpload {}/{}: the answer has no UploadId", bucket, key));
    return *id;
}

std::string S3Client::upload_part(const std::string& bucket, const std::string& key,
                                  const std::string& upload_id, int part_number, std::string body) {
    auto query =
        fmt::format("partNumber={}&uploadId={}", part_number, sigv4::uri_encode(upload_id, false));
    auto r = send({"UploadPart",
                   fmt::format("{}/{} part {}", bucket, key, part_number),
                   "PUT",
                   object_path(bucket, key),
                   query,
                   {},
                   std::move(body)});
    auto etag = strip_quotes(r.header("ETag").value_or(""));
    if (etag.empty())
        throw Error(fmt::format("S3 UploadPart {}/{} part {}: the answer has no ETag", bucket, key,
                                part_number));
    return etag;
}

void S3Client::complete_multipart_upload(const std::string& bucket, const std::string& key,
                                         const std::string& upload_id,
                                         const std::vector<std::string>& part_etags) {
    std::string body = "<CompleteMultipartUpload>";
    for (std::size_t i = 0; i < part_etags.size(); ++i)
        body += fmt::format("<Part><PartNumber>{}</PartNumber><ETag>\"{}\"</ETag></Part>", i + 1,
                            xml::escape(part_etags[i]));
    body += "</CompleteMultipartUpload>";
    Call call{"CompleteMultipartUpload",
              bucket + "/" + key,
              "POST",
              object_path(bucket, key),
              "uploadId=" + sigv4::uri_encode(upload_id, false),
              {},
              std::move(body)};
    call.headers.push_back({"Content-Type", "application/xml"});
    auto r = send(std::move(call));
    // S3 may answer 200 and still fail the completion, with an <Error> body.
    if (r.body.find("<Error>") != std::string::npos)
        throw Error(s3_error_message("CompleteMultipartUpload", bucket + "/" + key, r));
}

void S3Client::abort_multipart_upload(const std::string& bucket, const std::string& key,
                                      const std::string& upload_id) {
    send({"AbortMultipartUpload",
          bucket + "/" + key,
          "DELETE",
          object_path(bucket, key),
          "uploadId=" + sigv4::uri_encode(upload_id, false),
          {},
          ""},
         {204, 200});
}

std::string S3Client::presigned_get_url(const std::string& bucket, const std::string& key,
                                        std::chrono::seconds expires) {
    auto request =
        build({"GetObject", bucket + "/" + key, "GET", object_path(bucket, key), "", {}, ""});
    auto options = sign_options();
    options.payload_hash = sigv4::unsigned_payload; // the body is not known when presigning
    sigv4::presign_query(request, config_.credentials, options, sigv4::Clock::now(), expires);
    return request.url;
}

} // namespace fedi::storage
