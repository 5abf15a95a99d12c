// A test-only command line over storage::rgw::RgwAdmin, so that integration tests can
// drive the admin ops client against a real RGW. Credentials come from a JSON file
// ({endpoint, region, accessKey, secretKey}, as test/servers/rgw/rgw writes it), never
// from arguments. Results are JSON on stdout, secrets included (it is a test tool).
//
//   fedi-rgw-admin-check --config FILE OPERATION ARGS...
//     create-user UID DISPLAY-NAME | user-info UID | find-user UID | create-key UID
//     remove-key UID ACCESS-KEY | remove-user UID [--purge-data]
//     list-buckets [UID] | bucket-info BUCKET
//
// Exit codes: 0 done, 1 the operation failed (message on stderr), 2 usage error.
#include "core/error.hpp"
#include "storage/rgw_admin.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>

using namespace fedi;
using namespace fedi::storage::rgw;
using nlohmann::json;

namespace {

[[noreturn]] void usage(const std::string& why) {
    throw usage_error("fedi-rgw-admin-check: " + why);
}

AdminConfig load_config(const std::string& path) {
    std::ifstream in(path);
    if (!in)
        throw usage_error("cannot read " + path);
    auto j = json::parse(in);
    AdminConfig c;
    c.endpoint = j.at("endpoint");
    c.region = j.value("region", "us-east-1");
    c.credentials.access_key_id = j.value("accessKey", "");
    c.credentials.secret_access_key = j.value("secretKey", "");
    c.http.connect_timeout = std::chrono::seconds(5);
    c.http.total_timeout = std::chrono::seconds(30);
    return c;
}

json key_json(const S3Key& k) {
    return {{"user", k.user}, {"accessKey", k.access_key}, {"secretKey", k.secret_key}};
}

json user_json(const User& u) {
    json keys = json::array();
    for (const auto& k : u.keys)
        keys.push_back(key_json(k));
    return {{"userId", u.user_id},
            {"displayName", u.display_name},
            {"suspended", u.suspended},
            {"keys", keys}};
}

int run(std::vector<std::string> args) {
    if (args.size() < 3 || args[0] != "--config")
        usage("--config FILE and an operation are required");
    RgwAdmin admin(load_config(args[1]));
    args.erase(args.begin(), args.begin() + 2);
    auto op = args[0];
    auto need = [&](std::size_t n) {
        if (args.size() != n + 1)
            usage(op + " takes " + std::to_string(n) + " argument(s)");
    };

    if (op == "create-user") {
        need(2);
        std::cout << user_json(admin.create_user(args[1], args[2])) << std::endl;
    } else if (op == "user-info") {
        need(1);
        std::cout << user_json(admin.user_info(args[1])) << std::endl;
    } else if (op == "find-user") {
        need(1);
        auto user = admin.find_user(args[1]);
        std::cout << (user ? user_json(*user) : json(nullptr)) << std::endl;
    } else if (op == "create-key") {
        need(1);
        std::cout << key_json(admin.create_key(args[1])) << std::endl;
    } else if (op == "remove-key") {
        need(2);
        admin.remove_key(args[1], args[2]);
    } else if (op == "remove-user") {
        if (args.size() == 3 && args[2] == "--purge-data")
            admin.remove_user(args[1], true);
        else if (args.size() == 2)
            admin.remove_user(args[1]);
        else
            usage("remove-user takes UID [--purge-data]");
    } else if (op == "list-buckets") {
        if (args.size() > 2)
            usage("list-buckets takes [UID]");
        std::cout << json(admin.list_buckets(args.size() == 2 ? args[1] : "")) << std::endl;
    } else if (op == "bucket-info") {
        need(1);
        auto b = admin.bucket_info(args[1]);
        std::cout << json{{"name", b.name},
                          {"id", b.id},
                          {"owner", b.owner},
                          {"objects", b.objects},
                          {"size", b.size}}
                  << std::endl;
    } else {
        usage("unknown operation " + op);
    }
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    try {
        return run(std::vector<std::string>(argv + 1, argv + argc));
    } catch (const Error& e) {
        std::cerr << "error: " << e.describe() << std::endl;
        return e.kind() == ErrorKind::Usage ? 2 : 1;
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << std::endl;
        return 1;
    }
}
