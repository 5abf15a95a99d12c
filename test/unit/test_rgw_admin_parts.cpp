// The RGW admin client's offline parts: error messages and answer parsing. The client
// against a real RGW is test/integration/test_rgw_admin.py.
#include "storage/rgw_admin.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace fedi;
using namespace fedi::storage::rgw;

TEST_CASE("RGW admin error messages from JSON, XML and other answers") {
    http::Response r;
    r.status = 404;
    r.body = R"({"Code":"NoSuchUser","Message":"","RequestId":"tx1","HostId":"1-default"})";
    CHECK(rgw_error_message("GetUserInfo", r) == "RGW GetUserInfo: NoSuchUser (HTTP 404)");
    r.status = 400;
    r.body = R"({"Code":"InvalidArgument","Message":"bad uid"})";
    CHECK(rgw_error_message("CreateUser", r) ==
          "RGW CreateUser: InvalidArgument: bad uid (HTTP 400)");
    // Without format=json RGW answers S3's XML error document.
    r.status = 403;
    r.body = "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>no caps"
             "</Message></Error>";
    CHECK(rgw_error_message("ListBuckets", r) ==
          "RGW ListBuckets: AccessDenied: no caps (HTTP 403)");
    r.status = 502;
    r.body = "upstream\ngone";
    CHECK(rgw_error_message("ListBuckets", r) == "RGW ListBuckets: HTTP 502: upstream gone");
}

TEST_CASE("RGW admin answers: users with keys, and bucket statistics") {
    // Shapes as Ceph Pacific's radosgw answers them (flags as 0/1 or "true"/"false").
    auto user = nlohmann::json::parse(R"({"tenant":"","user_id":"alice","display_name":"Alice",
        "email":"","suspended":1,"max_buckets":1000,"subusers":[],
        "keys":[{"user":"alice","access_key":"AK1","secret_key":"SK1"}],"swift_keys":[],
        "caps":[],"system":"false"})")
                    .get<User>();
    CHECK(user.user_id == "alice");
    CHECK(user.display_name == "Alice");
    CHECK(user.suspended);
    REQUIRE(user.keys.size() == 1);
    CHECK(user.keys[0].access_key == "AK1");
    CHECK(user.keys[0].secret_key == "SK1");

    auto bucket = nlohmann::json::parse(R"({"bucket":"media","id":"z.1","owner":"alice",
        "usage":{"rgw.main":{"size":5100,"size_actual":8192,"num_objects":2}}})")
                      .get<Bucket>();
    CHECK(bucket.name == "media");
    CHECK(bucket.owner == "alice");
    CHECK(bucket.objects == 2);
    CHECK(bucket.size == 5100);
    auto empty = nlohmann::json::parse(R"({"bucket":"e","owner":"a","usage":{}})").get<Bucket>();
    CHECK(empty.objects == 0);

    // A named config, not a braced temporary inside the macro: GCC 12 -O3 warns
    // (falsely) that the temporary's TLS strings may be used uninitialised.
    AdminConfig no_secret;
    no_secret.endpoint = "http://127.0.0.1:1";
    no_secret.credentials = {"AK", "", ""};
    CHECK_THROWS_WITH(RgwAdmin(no_secret), Catch::Contains("secret key is empty"));
}
