// S3's XML answers (ListBuckets, ListObjectsV2, error documents) from whatever endpoint
// the deployment names: parsed by lib/storage's few element and entity functions.
#include "fuzz.hpp"
#include "s3/s3.hpp"
#include "s3/xml.hpp"

using namespace fedi;
using namespace fedi::storage;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto body = fuzz::bytes(data, size);
    for (auto tag : {"Bucket", "Contents", "Key", "Code", "Message"})
        for (auto element : xml::elements(body, tag))
            fuzz::check(element.empty() ||
                            (element.data() >= body.data() &&
                             element.data() + element.size() <= body.data() + body.size()),
                        "an element outside the document");
    xml::unescape(body);
    fuzz::check(xml::unescape(xml::escape(body)) == body, "escape does not round-trip");
    parse_list_buckets(body);
    fuzz::refused_or_parsed([&] { parse_list_objects_page(body); });
    http::Response response;
    response.status = 403;
    response.body = body;
    s3_error_message("GetObject", "bucket/key", response);
    return 0;
}
