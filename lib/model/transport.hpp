#pragma once
// Which endpoints of a deployment carry tokens or secrets, and whether they are protected
// in transit. A plain http:// endpoint is refused unless the deployment accepts it
// explicitly (allowInsecureHttp), and then it is warned about on every run, as is a TLS
// check turned off (a provider's insecure = true).
#include "model/deployment.hpp"

#include <string>
#include <utility>
#include <vector>

namespace fedi::model {

bool is_plain_http(const std::string& url);

// A storage's endpoints as (attribute, URL), e.g. ("adminEndpoint", "http://...").
std::vector<std::pair<std::string, std::string>> endpoints(const Storage& storage);

// What an endpoint carries, for messages: "the Garage admin token", ...
std::string what_travels(StorageType type, const std::string& attribute);

// The warnings every command prints when it loads this deployment.
std::vector<Warning> transport_warnings(const Deployment& d);

} // namespace fedi::model
