#include "model/transport.hpp"

#include "model/provider_settings.hpp"

#include <fmt/format.h>
#include <strings.h>

namespace fedi::model {

bool is_plain_http(const std::string& url) {
    return url.size() >= 7 && ::strncasecmp(url.c_str(), "http://", 7) == 0;
}

std::vector<std::pair<std::string, std::string>> endpoints(const Storage& storage) {
    std::vector<std::pair<std::string, std::string>> out;
    if (storage.type == StorageType::Garage)
        out.emplace_back("adminEndpoint", storage.admin_endpoint);
    out.emplace_back("s3Endpoint", storage.s3_endpoint);
    return out;
}

std::string what_travels(StorageType type, const std::string& attribute) {
    if (type == StorageType::Garage && attribute == "adminEndpoint")
        return "the Garage admin token and the secrets of the keys fedi creates";
    if (type == StorageType::Rgw)
        return "the secrets of the keys fedi creates and the objects";
    return "the services' requests and objects";
}

std::vector<Warning> transport_warnings(const Deployment& d) {
    std::vector<Warning> out;
    for (const auto& [name, decl] : d.providers)
        if (decl.settings)
            for (const auto& [attr, message] : decl.settings->warnings())
                out.push_back({fmt::format("providers.{}.{}", name, attr), message});
    for (const auto& [name, storage] : d.storage)
        for (const auto& [attr, url] : endpoints(storage))
            if (is_plain_http(url))
                out.push_back({fmt::format("storage.{}.{}", name, attr),
                               fmt::format("{} is plain http (allowInsecureHttp = true): {} "
                                           "cross the network in clear text",
                                           url, what_travels(storage.type, attr))});
    return out;
}

} // namespace fedi::model
