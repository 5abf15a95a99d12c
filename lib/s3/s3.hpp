#pragma once
// An S3 client for the operations fedi needs on buckets and objects, over lib/http with
// SigV4. Path-style addressing (http://endpoint/bucket/key), which Garage and Ceph RGW
// both serve without DNS set-up. One client per thread.
#include "http/http.hpp"
#include "s3/sigv4.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fedi::storage {

struct S3Config {
    std::string endpoint;             // "http://host:port", optionally with a path prefix
    std::string region = "us-east-1"; // Garage: "garage"
    sigv4::Credentials credentials;   // required unless anonymous
    bool anonymous = false;           // send requests unsigned (public buckets, tests)
    bool unsigned_payload = false;    // sign "UNSIGNED-PAYLOAD" instead of the body hash
    http::ClientOptions http;
};

struct S3Bucket {
    std::string name;
    std::string creation_date;
};

struct S3Object {
    std::string key;
    std::uint64_t size = 0;
    std::string etag; // without quotes
    std::string last_modified;
};

struct S3ObjectHead {
    std::uint64_t size = 0;
    std::string etag;
    std::string content_type;
    std::string last_modified;
};

// Errors are fedi::Error with messages like
//   S3 PutObject mastodon-media/x: AccessDenied: Access Denied (HTTP 403)
// naming the operation, the bucket/key and what the server said.
class S3Client {
  public:
    explicit S3Client(S3Config config);

    // CreateBucket, with a LocationConstraint unless the region is us-east-1.
    void create_bucket(const std::string& bucket);
    // HeadBucket: false when the bucket does not exist, an error when access is refused.
    bool bucket_exists(const std::string& bucket);
    std::vector<S3Bucket> list_buckets();
    void delete_bucket(const std::string& bucket);

    void put_object(const std::string& bucket, const std::string& key, std::string body,
                    const std::string& content_type = "application/octet-stream");
    std::string get_object(const std::string& bucket, const std::string& key);

    // Conditional writes (RFC 7232 preconditions, as S3 reads them on PutObject).
    struct PutCondition {
        std::optional<std::string> if_match; // the header's value, sent as given
        bool if_none_match_any = false;      // If-None-Match: * (create only)
    };
    // PutObject under `condition`: the new ETag (without quotes), or nothing when the
    // server refused the precondition (HTTP 412).
    std::optional<std::string> put_object_if(const std::string& bucket, const std::string& key,
                                             std::string body, const PutCondition& condition);
    struct ObjectWithEtag {
        std::string body;
        std::string etag; // without quotes
    };
    // GetObject with its ETag; nothing when there is no such key (a missing bucket is an
    // error).
    std::optional<ObjectWithEtag> get_object_with_etag(const std::string& bucket,
                                                       const std::string& key);
    // HeadObject: nullopt when the object does not exist.
    std::optional<S3ObjectHead> head_object(const std::string& bucket, const std::string& key);
    // ListObjectsV2, every page.
    std::vector<S3Object> list_objects(const std::string& bucket, const std::string& prefix = "");
    void delete_object(const std::string& bucket, const std::string& key);

    // PutBucketPolicy: the bucket's policy document (JSON), replacing any earlier one.
    void put_bucket_policy(const std::string& bucket, const std::string& policy);

    // Multipart upload, for objects too large to send in one request (each part but the
    // last at least 5 MiB). Parts are numbered from 1; complete takes their ETags in
    // order. An upload that is neither completed nor aborted keeps its parts stored.
    std::string create_multipart_upload(const std::string& bucket, const std::string& key,
                                        const std::string& content_type);
    std::string upload_part(const std::string& bucket, const std::string& key,
                            const std::string& upload_id, int part_number, std::string body);
    void complete_multipart_upload(const std::string& bucket, const std::string& key,
                                   const std::string& upload_id,
                                   const std::vector<std::string>& part_etags);
    void abort_multipart_upload(const std::string& bucket, const std::string& key,
                                const std::string& upload_id);

    // A URL anyone can GET until it expires.
    std::string presigned_get_url(const std::string& bucket, const std::string& key,
                                  std::chrono::seconds expires);

    const S3Config& config() const { return config_; }

  private:
    struct Call {
        const char* operation; // "PutObject", for messages
        std::string resource;  // "bucket/key", for messages
        std::string method;
        std::string path;  // already encoded
        std::string query; // already encoded, without '?'
        http::Headers headers;
        std::string body;
    };
    http::Response send(Call call, std::initializer_list<long> ok = {200});
    http::Request build(const Call& call) const;
    sigv4::Options sign_options() const;

    S3Config config_;
    http::Client http_;
};

// S3 bucket naming rules (3-63 characters of a-z 0-9 . -, starting and ending with a
// letter or digit, not an IP address); throws a usage error naming the rule broken.
void check_bucket_name(const std::string& bucket);

// Builds "S3 <operation> <resource>: <Code>: <Message> (HTTP <status>)" from a response.
std::string s3_error_message(std::string_view operation, std::string_view resource,
                             const http::Response& response);

// The XML answers of ListBuckets and of one ListObjectsV2 page, parsed (no network: the
// client calls these, tests and fuzz targets too). A Size that is not a number throws.
std::vector<S3Bucket> parse_list_buckets(std::string_view body);
struct S3ObjectPage {
    std::vector<S3Object> objects;
    bool truncated = false;         // IsTruncated: more pages follow
    std::string continuation_token; // NextContinuationToken, for the next page
};
S3ObjectPage parse_list_objects_page(std::string_view body);

} // namespace fedi::storage
