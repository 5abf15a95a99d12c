// Garage admin API answers: every response shape the client reads (v1 and v2), and error
// answers. from_json's contract is nlohmann::json's exceptions for a wrong shape (the
// client turns them into a fedi::Error naming the operation), a float where an integer
// belongs included; anything else is a finding.
// The admin token must never come out in an error message, whatever the server echoes.
#include "fuzz.hpp"
#include "storage/garage_admin.hpp"

#include <nlohmann/json.hpp>

using namespace fedi;
using namespace fedi::storage::garage;
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
    const std::string token = "fuzz-admin-token";
    http::Response response;
    response.status = 400;
    response.body = body;
    auto message = garage_error_message("GetBucketInfo", response, token);
    fuzz::check(message.find(token) == std::string::npos, "the admin token in a message");

    auto j = json::parse(body, nullptr, false);
    if (j.is_discarded())
        return 0;
    parse_as<Health>(j);
    parse_as<ClusterStatus>(j);
    parse_as<Layout>(j);
    parse_as<std::vector<BucketSummary>>(j);
    parse_as<BucketInfo>(j);
    parse_as<std::vector<KeySummary>>(j);
    parse_as<KeyInfo>(j);
    try {
        auto info = j.get<BucketInfo>();
        for (const auto& k : info.keys)
            (void)info.permissions_of(k.access_key_id);
    } catch (const json::exception&) {
    }
    return 0;
}
