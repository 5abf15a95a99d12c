// The S3 state location and where its keys come from (no network: the backend itself is
// tested against Ceph RGW and test/servers/s3-conditional in test_state_s3.py).
#include "statestore/s3_backend.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>

using namespace fedi;
using namespace fedi::statestore;

namespace {

// Sets the S3 key variables for one test and restores the environment's on destruction.
class KeyEnvironment {
  public:
    KeyEnvironment() {
        for (const auto* name : names)
            if (const char* v = std::getenv(name))
                saved_.emplace_back(name, v);
        for (const auto* name : names)
            ::unsetenv(name);
    }
    ~KeyEnvironment() {
        for (const auto* name : names)
            ::unsetenv(name);
        for (const auto& [name, value] : saved_)
            ::setenv(name.c_str(), value.c_str(), 1);
    }
    void set(const char* name, const std::string& value) { ::setenv(name, value.c_str(), 1); }

  private:
    static constexpr const char* names[] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                            "AWS_SESSION_TOKEN", "FEDI_STATE_S3_ACCESS_KEY_FILE",
                                            "FEDI_STATE_S3_SECRET_KEY_FILE"};
    std::vector<std::pair<std::string, std::string>> saved_;
};

std::string usage_message(const std::string& location) {
    try {
        parse_s3_location(location);
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::Usage);
        return e.message();
    }
    FAIL("accepted: " << location);
    return "";
}

} // namespace

TEST_CASE("an S3 state location names bucket, key, endpoint and region") {
    auto l = parse_s3_location(
        "s3://fedi-state/teams/web%20site/state.age?endpoint=http%3A%2F%2F127.0.0.1%3A7480/"
        "&region=garage");
    CHECK(l.bucket == "fedi-state");
    CHECK(l.key == "teams/web site/state.age");
    CHECK(l.endpoint == "http://127.0.0.1:7480");
    CHECK(l.region == "garage");

    auto aws = parse_s3_location("s3://fedi-state/state.json?region=eu-west-3");
    CHECK(aws.endpoint == "https://s3.eu-west-3.amazonaws.com");
    auto plain = parse_s3_location("s3://fedi-state/state.json?endpoint=https://s3.example.org");
    CHECK(plain.region == "us-east-1");
    CHECK(plain.endpoint == "https://s3.example.org");
}

TEST_CASE("an S3 state location never carries credentials, and says where they go") {
    auto in_user_info = usage_message("s3://AKIAEXAMPLE:topsecret@fedi-state/state.json");
    CHECK_THAT(in_user_info, Catch::Contains("must not carry credentials"));
    CHECK_THAT(in_user_info, !Catch::Contains("topsecret"));

    auto as_parameter =
        usage_message("s3://fedi-state/state.json?endpoint=http://h:1&secret_key=topsecret");
    CHECK_THAT(as_parameter, Catch::Contains("unknown parameter 'secret_key'"));
    CHECK_THAT(as_parameter, Catch::Contains("AWS_SECRET_ACCESS_KEY"));
    CHECK_THAT(as_parameter, !Catch::Contains("topsecret"));

    auto in_endpoint = usage_message("s3://fedi-state/s?endpoint=http://ak:topsecret@h:1");
    CHECK_THAT(in_endpoint, Catch::Contains("must not carry credentials"));
    CHECK_THAT(in_endpoint, !Catch::Contains("topsecret"));
}

TEST_CASE("an S3 state location without a key, or with a bad bucket or endpoint, is refused") {
    CHECK_THAT(usage_message("s3://fedi-state"), Catch::Contains("name the state object"));
    CHECK_THAT(usage_message("s3://fedi-state/dir/"), Catch::Contains("name the state object"));
    CHECK_THAT(usage_message("s3://Fedi_State/state.json"),
               Catch::Contains("invalid S3 bucket name"));
    CHECK_THAT(usage_message("s3://fedi-state/s.json?endpoint=ftp://h"),
               Catch::Contains("must start with http:// or https://"));
}

TEST_CASE("S3 state keys come from files named in the environment, else AWS_* variables") {
    KeyEnvironment env;
    auto missing = [] {
        try {
            s3_keys_from_environment();
        } catch (const Error& e) {
            return e.message();
        }
        return std::string("accepted");
    };
    CHECK_THAT(missing(), Catch::Contains("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"));

    env.set("AWS_ACCESS_KEY_ID", "AKIAFROMENV");
    env.set("AWS_SECRET_ACCESS_KEY", "secret-from-env");
    CHECK(s3_keys_from_environment().secret_access_key == "secret-from-env");

    test::TempDir dir("fedi-s3-keys");
    auto access = dir.path() + "/access", secret = dir.path() + "/secret";
    std::ofstream(access) << "AKIAFROMFILE\n";
    std::ofstream(secret) << "secret-from-file\n";
    env.set("FEDI_STATE_S3_ACCESS_KEY_FILE", access);
    CHECK_THAT(missing(), Catch::Contains("set both"));
    env.set("FEDI_STATE_S3_SECRET_KEY_FILE", secret);
    auto keys = s3_keys_from_environment();
    CHECK(keys.access_key_id == "AKIAFROMFILE");
    CHECK(keys.secret_access_key == "secret-from-file");
}
