// The S3 client's offline parts: XML extraction, error messages, bucket-name rules. The
// client against a real server is test/integration/test_s3_rgw.py.
#include "core/error.hpp"
#include "s3/s3.hpp"
#include "s3/xml.hpp"

#include <catch2/catch.hpp>

using namespace fedi;
using namespace fedi::storage;

TEST_CASE("xml::elements matches whole tag names, attributes and empty elements") {
    // Shaped like a ListAllMyBucketsResult: <Buckets> holds <Bucket>s.
    std::string doc = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Owner><ID>o</ID></Owner>
  <Buckets>
    <Bucket><Name>one</Name><CreationDate>2019-12-11T23:32:47+00:00</CreationDate></Bucket>
    <Bucket ><Name>two&amp;more</Name><CreationDate/></Bucket>
  </Buckets>
</ListAllMyBucketsResult>)";
    auto buckets = xml::elements(doc, "Bucket");
    REQUIRE(buckets.size() == 2);
    CHECK(xml::text(buckets[0], "Name") == "one");
    CHECK(xml::text(buckets[1], "Name") == "two&more");
    CHECK(xml::text(buckets[1], "CreationDate") == "");
    CHECK(xml::elements(doc, "Buckets").size() == 1);
    CHECK(!xml::text(doc, "Missing"));
    CHECK(xml::text(doc, "ListAllMyBucketsResult"));
}

TEST_CASE("xml escaping round-trips markup and decodes character references") {
    CHECK(xml::escape(R"(a<b>&"c'")") == "a&lt;b&gt;&amp;&quot;c&apos;&quot;");
    CHECK(xml::unescape("a&lt;b&gt;&amp;&quot;c&apos;") == R"(a<b>&"c')");
    CHECK(xml::unescape("&#233;&#x1F600;") == "\xC3\xA9\xF0\x9F\x98\x80");
    CHECK(xml::unescape("&unknown; & alone") == "&unknown; & alone");
}

TEST_CASE("S3 error messages carry operation, resource, code, message and status") {
    // The error document of the S3 API Reference ("Error responses").
    http::Response r;
    r.status = 404;
    r.body = R"(<?xml version="1.0" encoding="UTF-8"?>
<Error>
  <Code>NoSuchKey</Code>
  <Message>The resource you requested does not exist</Message>
  <Resource>/mybucket/myfoto.jpg</Resource>
  <RequestId>4442587FB7D0A2F9</RequestId>
</Error>)";
    CHECK(s3_error_message("GetObject", "mybucket/myfoto.jpg", r) ==
          "S3 GetObject mybucket/myfoto.jpg: NoSuchKey: The resource you requested does not "
          "exist (HTTP 404)");

    // Ceph RGW leaves Message empty.
    r.status = 403;
    r.body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code>"
             "<Message></Message><RequestId>tx1</RequestId></Error>";
    CHECK(s3_error_message("PutObject", "mastodon-media/x", r) ==
          "S3 PutObject mastodon-media/x: AccessDenied (HTTP 403)");

    // HEAD answers have no body.
    r.body.clear();
    CHECK(s3_error_message("HeadBucket", "b", r) == "S3 HeadBucket b: Forbidden (HTTP 403)");
    r.headers = {{"x-amz-error-code", "SignatureDoesNotMatch"}};
    CHECK(s3_error_message("HeadBucket", "b", r) ==
          "S3 HeadBucket b: SignatureDoesNotMatch (HTTP 403)");

    // Not S3 at all (a proxy's page): say what came back, on one line.
    r.headers.clear();
    r.status = 502;
    r.body = "<html>\n<body>Bad Gateway</body></html>";
    CHECK(s3_error_message("ListBuckets", "", r) ==
          "S3 ListBuckets: HTTP 502: <html> <body>Bad Gateway</body></html>");
}

TEST_CASE("S3 bucket names follow the S3 rules") {
    for (const std::string& good :
         std::vector<std::string>{"abc", "mastodon-media", "a.b.c", "0ab", std::string(63, 'a')})
        CHECK_NOTHROW(check_bucket_name(good));
    struct Bad {
        std::string name, why;
    };
    for (const auto& [name, why] : std::vector<Bad>{
             {"ab", "3 to 63"},
             {std::string(64, 'a'), "3 to 63"},
             {"Upper", "lower-case"},
             {"under_score", "lower-case"},
             {"-abc", "start and end"},
             {"abc.", "start and end"},
             {"a..b", "'..'"},
             {"192.168.1.1", "IP address"},
         }) {
        INFO(name);
        try {
            check_bucket_name(name);
            FAIL("accepted");
        } catch (const Error& e) {
            CHECK(e.kind() == ErrorKind::Usage);
            CHECK_THAT(e.message(), Catch::Contains("'" + name + "'") && Catch::Contains(why));
        }
    }
}

TEST_CASE("S3 client refuses an endpoint without a scheme") {
    S3Config c;
    c.endpoint = "127.0.0.1:7480";
    CHECK_THROWS_WITH(S3Client(c), Catch::Contains("must start with http://"));
}
