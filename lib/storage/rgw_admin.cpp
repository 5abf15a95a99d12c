#include "storage/rgw_admin.hpp"

#include "s3/xml.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace fedi::storage::rgw {

using nlohmann::json;

namespace {

// RGW writes some flags as 0/1, others as "true"/"false".
bool flag(const json& j, const char* name) {
    auto it = j.find(name);
    if (it == j.end())
        return false;
    if (it->is_boolean())
        return it->get<bool>();
    if (it->is_number()) // as a double: a float out of long's range must not be cast
        return it->get<double>() != 0;
    return it->is_string() && it->get<std::string>() == "true";
}

// Code and message of an error answer: JSON with format=json, S3's XML otherwise.
std::pair<std::string, std::string> code_and_message(const std::string& body) {
    auto j = json::parse(body, nullptr, false);
    if (j.is_object()) {
        // Whatever their type: an odd answer is still worth showing, never a crash.
        auto text = [&](const char* key) {
            auto it = j.find(key);
            if (it == j.end())
                return std::string();
            return it->is_string() ? it->get<std::string>() : it->dump();
        };
        return {text("Code"), text("Message")};
    }
    return {xml::text(body, "Code").value_or(""), xml::text(body, "Message").value_or("")};
}

template <typename F> auto parsing(const char* operation, F&& f) -> decltype(f()) {
    return storage::parsing("RGW", operation, std::forward<F>(f));
}

} // namespace

void from_json(const json& j, S3Key& v) {
    v = S3Key{};
    // "user" is the owner's uid ("uid:subuser" for a subuser's key).
    read_fields(j, required("access_key"), v.access_key, "user", v.user, "secret_key",
                v.secret_key);
}

void from_json(const json& j, User& v) {
    v = User{};
    read_fields(j, required("user_id"), v.user_id, "display_name", v.display_name, "email", v.email,
                "keys", v.keys);
    v.suspended = flag(j, "suspended");
}

void from_json(const json& j, Bucket& v) {
    v = Bucket{};
    read_fields(j, required("bucket"), v.name, "id", v.id, "owner", v.owner);
    // usage: {"rgw.main": {"size", "num_objects", ...}}, empty for an empty bucket
    if (auto usage = j.find("usage"); usage != j.end() && usage->is_object())
        if (auto main = usage->find("rgw.main"); main != usage->end() && main->is_object())
            read_fields(*main, "num_objects", v.objects, "size", v.size);
}

std::string rgw_error_message(std::string_view operation, const http::Response& response) {
    auto [code, message] = code_and_message(response.body);
    return admin_error_message("RGW", operation, response.status, code, message, response.body);
}

RgwAdmin::RgwAdmin(AdminConfig config) : config_(std::move(config)), http_(config_.http) {
    config_.endpoint = checked_endpoint(std::move(config_.endpoint), "RGW endpoint");
    if (config_.credentials.access_key_id.empty() || config_.credentials.secret_access_key.empty())
        throw usage_error(
            fmt::format("RGW endpoint {}: the admin user's access key or secret key is empty",
                        config_.endpoint));
    if (config_.region.empty())
        throw usage_error(fmt::format("RGW endpoint {}: the region is empty", config_.endpoint));
}

template <typename F> auto RgwAdmin::in_context(const std::string& what, F&& f) -> decltype(f()) {
    return with_context(fmt::format("{} (RGW admin API at {})", what, config_.endpoint),
                        std::forward<F>(f));
}

json RgwAdmin::call(const Call& call) {
    std::string query = "format=json";
    for (const auto& [name, value] : call.params) {
        // Appended piece by piece, not `"&" + temporary`: GCC 12's -O2 inlining of
        // operator+(const char*, string&&) trips a false -Wrestrict (GCC bug 105651).
        query += '&';
        query += sigv4::uri_encode(name, false);
        if (!value.empty()) {
            query += '=';
            query += sigv4::uri_encode(value, false);
        }
    }
    http::Request request;
    request.method = call.method;
    request.url =
        fmt::format("{}/{}/{}?{}", config_.endpoint, config_.admin_entry, call.resource, query);
    sigv4::sign_headers(request, config_.credentials, sigv4::Options::s3(config_.region),
                        sigv4::Clock::now());
    auto response = http_.send(request);
    if (response.status != 200)
        throw AdminError(rgw_error_message(call.operation, response), response.status,
                         code_and_message(response.body).first);
    return json_answer("RGW", call.operation, response.body);
}

User RgwAdmin::create_user(const std::string& uid, const std::string& display_name) {
    if (uid.empty() || display_name.empty())
        throw usage_error("RGW user: the uid and the display name must not be empty");
    return in_context(fmt::format("creating user '{}'", uid), [&] {
        auto j = call({"CreateUser",
                       "PUT",
                       "user",
                       {{"uid", uid},
                        {"display-name", display_name},
                        {"key-type", "s3"},
                        {"generate-key", "true"}}});
        return parsing("CreateUser", [&] { return j.get<User>(); });
    });
}

User RgwAdmin::user_info(const std::string& uid) {
    return in_context(fmt::format("reading user '{}'", uid), [&] {
        auto j = call({"GetUserInfo", "GET", "user", {{"uid", uid}}});
        return parsing("GetUserInfo", [&] { return j.get<User>(); });
    });
}

std::optional<User> RgwAdmin::find_user(const std::string& uid) {
    try {
        return user_info(uid);
    } catch (const AdminError& e) {
        if (e.code() == "NoSuchUser")
            return std::nullopt;
        throw;
    }
}

S3Key RgwAdmin::create_key(const std::string& uid) {
    return in_context(fmt::format("creating an S3 key for user '{}'", uid), [&] {
        // RGW answers with all the user's keys: the new one is the one not there before.
        std::set<std::string> before;
        for (const auto& k : user_info(uid).keys)
            before.insert(k.access_key);
        auto j = call({"CreateKey",
                       "PUT",
                       "user",
                       {{"key", ""}, {"uid", uid}, {"key-type", "s3"}, {"generate-key", "true"}}});
        auto keys = parsing("CreateKey", [&] { return j.get<std::vector<S3Key>>(); });
        auto added = std::find_if(keys.begin(), keys.end(),
                                  [&](const S3Key& k) { return !before.count(k.access_key); });
        if (added == keys.end())
            throw Error(fmt::format("RGW CreateKey: no new key among the {} key(s) of user '{}'",
                                    keys.size(), uid));
        return *added;
    });
}

void RgwAdmin::remove_key(const std::string& uid, const std::string& access_key) {
    in_context(fmt::format("removing S3 key {} of user '{}'", access_key, uid), [&] {
        call({"RemoveKey",
              "DELETE",
              "user",
              {{"key", ""}, {"uid", uid}, {"key-type", "s3"}, {"access-key", access_key}}});
    });
}

void RgwAdmin::remove_user(const std::string& uid, bool purge_data) {
    in_context(fmt::format("removing user '{}'", uid), [&] {
        Call c{"RemoveUser", "DELETE", "user", {{"uid", uid}}};
        if (purge_data)
            c.params.push_back({"purge-data", "true"});
        call(c);
    });
}

std::vector<std::string> RgwAdmin::list_buckets(const std::string& uid) {
    return in_context(uid.empty() ? std::string("listing buckets")
                                  : fmt::format("listing the buckets of user '{}'", uid),
                      [&] {
                          Call c{"ListBuckets", "GET", "bucket", {}};
                          if (!uid.empty())
                              c.params.push_back({"uid", uid});
                          auto j = call(c);
                          return parsing("ListBuckets",
                                         [&] { return j.get<std::vector<std::string>>(); });
                      });
}

Bucket RgwAdmin::bucket_info(const std::string& bucket) {
    return in_context(fmt::format("reading bucket '{}'", bucket), [&] {
        auto j = call({"GetBucketInfo", "GET", "bucket", {{"bucket", bucket}, {"stats", "true"}}});
        return parsing("GetBucketInfo", [&] { return j.get<Bucket>(); });
    });
}

} // namespace fedi::storage::rgw
