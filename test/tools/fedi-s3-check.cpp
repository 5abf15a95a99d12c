// A test-only command line over storage::S3Client, so that integration tests can drive
// the client against a real server and check what it did. Credentials come from a JSON
// file ({endpoint, region, accessKey, secretKey}, as test/servers/rgw/rgw writes it),
// never from arguments.
//
//   fedi-s3-check --config FILE [--anonymous] [--region R] OPERATION ARGS...
//     create-bucket B | bucket-exists B | list-buckets | delete-bucket B
//     put B K (body on stdin) | get B K (body on stdout) | head B K | list B [PREFIX]
//     delete B K | presign-get B K SECONDS
//     raw METHOD PATH   a signed request with no client-side checks: prints status, body
//
// Exit codes: 0 done, 1 the operation failed (message on stderr), 2 usage error.
#include "core/error.hpp"
#include "s3/s3.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

using namespace fedi;
using namespace fedi::storage;

namespace {

[[noreturn]] void usage(const std::string& why) {
    throw usage_error("fedi-s3-check: " + why);
}

S3Config load_config(const std::string& path) {
    std::ifstream in(path);
    if (!in)
        throw usage_error("cannot read " + path);
    auto j = nlohmann::json::parse(in);
    S3Config c;
    c.endpoint = j.at("endpoint");
    c.region = j.value("region", "us-east-1");
    c.credentials.access_key_id = j.value("accessKey", "");
    c.credentials.secret_access_key = j.value("secretKey", "");
    c.http.connect_timeout = std::chrono::seconds(5);
    c.http.total_timeout = std::chrono::seconds(30);
    return c;
}

int run(std::vector<std::string> args) {
    std::string config_path, region;
    bool anonymous = false;
    while (!args.empty() && args[0].rfind("--", 0) == 0) {
        auto opt = args[0];
        args.erase(args.begin());
        if (opt == "--anonymous") {
            anonymous = true;
            continue;
        }
        if (args.empty())
            usage(opt + " needs a value");
        if (opt == "--config")
            config_path = args[0];
        else if (opt == "--region")
            region = args[0];
        else
            usage("unknown option " + opt);
        args.erase(args.begin());
    }
    if (config_path.empty() || args.empty())
        usage("--config FILE and an operation are required");
    auto config = load_config(config_path);
    config.anonymous = anonymous;
    if (!region.empty())
        config.region = region;
    auto op = args[0];
    auto need = [&](std::size_t n) {
        if (args.size() != n + 1)
            usage(op + " takes " + std::to_string(n) + " argument(s)");
    };

    if (op == "raw") {
        need(2);
        http::Request r{args[1], config.endpoint + args[2], {}, ""};
        if (!anonymous)
            sigv4::sign_headers(r, config.credentials, sigv4::Options::s3(config.region),
                                sigv4::Clock::now());
        http::Client client(config.http);
        auto response = client.send(r);
        std::cout << response.status << "\n" << response.body << std::endl;
        return 0;
    }

    S3Client s3(config);
    if (op == "create-bucket") {
        need(1);
        s3.create_bucket(args[1]);
    } else if (op == "bucket-exists") {
        need(1);
        std::cout << (s3.bucket_exists(args[1]) ? "true" : "false") << std::endl;
    } else if (op == "list-buckets") {
        need(0);
        for (const auto& b : s3.list_buckets())
            std::cout << b.name << "\n";
    } else if (op == "delete-bucket") {
        need(1);
        s3.delete_bucket(args[1]);
    } else if (op == "put") {
        need(2);
        std::string body((std::istreambuf_iterator<char>(std::cin)), {});
        s3.put_object(args[1], args[2], std::move(body));
    } else if (op == "get") {
        need(2);
        std::cout << s3.get_object(args[1], args[2]) << std::flush;
    } else if (op == "head") {
        need(2);
        auto head = s3.head_object(args[1], args[2]);
        if (!head)
            std::cout << "null" << std::endl;
        else
            std::cout << nlohmann::json{{"size", head->size},
                                        {"etag", head->etag},
                                        {"contentType", head->content_type}}
                      << std::endl;
    } else if (op == "list") {
        if (args.size() != 2 && args.size() != 3)
            usage("list takes BUCKET [PREFIX]");
        auto list = nlohmann::json::array();
        for (const auto& o : s3.list_objects(args[1], args.size() == 3 ? args[2] : ""))
            list.push_back({{"key", o.key}, {"size", o.size}, {"etag", o.etag}});
        std::cout << list << std::endl;
    } else if (op == "delete") {
        need(2);
        s3.delete_object(args[1], args[2]);
    } else if (op == "presign-get") {
        need(3);
        std::cout << s3.presigned_get_url(args[1], args[2],
                                          std::chrono::seconds(std::stol(args[3])))
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
