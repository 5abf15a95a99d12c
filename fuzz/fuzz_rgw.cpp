// Ceph RGW admin ops answers (users with their keys, bucket lists and statistics) and
// error answers (JSON or S3's XML). from_json's contract is nlohmann::json's exceptions
// for a wrong shape, a float where an integer belongs included (the client turns them into
// a fedi::Error naming the operation); anything else is a finding.
#include "fuzz.hpp"
#include "storage/rgw_admin.hpp"

#include <nlohmann/json.hpp>

using namespace fedi;
using namespace fedi::storage::rgw;
using nlohmann::json;

namespace {

template <typename T> void parse_as(const json& j) {
    try {
        (void)j.get<T>();
    } catch (const json::exception&) {
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto body = fuzz::bytes(data, size);
    http::Response response;
    response.status = 404;
    response.body = body;
    rgw_error_message("GetUserInfo", response);

    auto j = json::parse(body, nullptr, false);
    if (j.is_discarded())
        return 0;
    parse_as<User>(j);
    parse_as<std::vector<S3Key>>(j);
    parse_as<Bucket>(j);
    parse_as<std::vector<std::string>>(j);
    return 0;
}
