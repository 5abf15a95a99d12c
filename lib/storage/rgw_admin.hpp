#pragma once
// A client for Ceph RGW's admin ops API (users, their S3 keys, buckets): REST under
// /admin on the S3 endpoint, signed with SigV4 like S3 by the keys of an RGW user with
// admin caps ("users=*;buckets=*"). Answers are JSON; errors carry RGW's S3-style Code.
#include "core/error.hpp"
#include "http/http.hpp"
#include "s3/sigv4.hpp"
#include "storage/admin_api.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace fedi::storage::rgw {

struct AdminConfig {
    std::string endpoint;              // the S3 endpoint, "http://rgw:7480"
    std::string region = "us-east-1";  // signing region
    sigv4::Credentials credentials;    // an RGW user with caps users=* and buckets=*
    std::string admin_entry = "admin"; // RGW's `rgw admin entry`
    http::ClientOptions http;
};

// An error RGW answered: "RGW <Operation>: <Code>[: <Message>] (HTTP <status>)", code
// "NoSuchUser" and the like.
using AdminError = storage::AdminError;

struct S3Key {
    std::string user;
    std::string access_key;
    std::string secret_key;
};

struct User {
    std::string user_id;
    std::string display_name;
    std::string email;
    bool suspended = false;
    std::vector<S3Key> keys;
};

struct Bucket {
    std::string name;
    std::string id;
    std::string owner;
    std::uint64_t objects = 0;
    std::uint64_t size = 0; // bytes
};

// One client per thread. Every method throws fedi::Error (AdminError when RGW answered
// an error) with a context line naming what was done.
class RgwAdmin {
  public:
    explicit RgwAdmin(AdminConfig config);

    // A new user with one generated S3 key. RGW refuses an existing uid
    // (UserAlreadyExists).
    User create_user(const std::string& uid, const std::string& display_name);
    User user_info(const std::string& uid);                // with its keys and secrets
    std::optional<User> find_user(const std::string& uid); // nullopt: NoSuchUser
    // Generates another S3 key for the user and returns it.
    S3Key create_key(const std::string& uid);
    void remove_key(const std::string& uid, const std::string& access_key);
    // With purge_data, the user's buckets and objects go too; without, RGW refuses a
    // user that still owns buckets (409, code BucketAlreadyExists).
    void remove_user(const std::string& uid, bool purge_data = false);

    // Bucket names, of one user or of everyone.
    std::vector<std::string> list_buckets(const std::string& uid = "");
    Bucket bucket_info(const std::string& bucket); // with usage statistics

    const std::string& endpoint() const { return config_.endpoint; }

  private:
    struct Call {
        const char* operation;
        std::string method;
        std::string resource;                                    // "user" or "bucket"
        std::vector<std::pair<std::string, std::string>> params; // value "": bare flag
    };
    nlohmann::json call(const Call& call);
    template <typename F> auto in_context(const std::string& what, F&& f) -> decltype(f());

    AdminConfig config_;
    http::Client http_;
};

// "RGW <operation>: <Code>[: <Message>] (HTTP <status>)" from an error answer (JSON, or
// S3's XML error document).
std::string rgw_error_message(std::string_view operation, const http::Response& response);

// How RGW's answers are read (JSON with format=json); unknown fields are ignored.
void from_json(const nlohmann::json& j, S3Key& v);
void from_json(const nlohmann::json& j, User& v);
void from_json(const nlohmann::json& j, Bucket& v);

} // namespace fedi::storage::rgw
