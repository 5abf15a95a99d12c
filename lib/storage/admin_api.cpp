#include "storage/admin_api.hpp"

#include "http/http.hpp"

namespace fedi::storage {

std::string admin_error_message(std::string_view service, std::string_view operation, long status,
                                std::string_view code, std::string_view message,
                                std::string_view body) {
    if (!code.empty() && !message.empty())
        return fmt::format("{} {}: {}: {} (HTTP {})", service, operation, code, message, status);
    if (!code.empty())
        return fmt::format("{} {}: {} (HTTP {})", service, operation, code, status);
    if (!body.empty())
        return fmt::format("{} {}: HTTP {}: {}", service, operation, status,
                           http::body_excerpt(body));
    return fmt::format("{} {}: HTTP {}", service, operation, status);
}

std::string checked_endpoint(std::string endpoint, std::string_view what) {
    while (!endpoint.empty() && endpoint.back() == '/')
        endpoint.pop_back();
    if (endpoint.rfind("http://", 0) != 0 && endpoint.rfind("https://", 0) != 0)
        throw usage_error(
            fmt::format("{} '{}' must start with http:// or https://", what, endpoint));
    return endpoint;
}

nlohmann::json json_answer(std::string_view service, std::string_view operation,
                           const std::string& body) {
    if (body.empty())
        return nullptr;
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_discarded())
        throw Error(fmt::format("{} {}: the answer is not JSON: {}", service, operation,
                                http::body_excerpt(body)));
    return j;
}

} // namespace fedi::storage
