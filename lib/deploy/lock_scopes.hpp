#pragma once
// What a deploy changes besides the state document, named as lock scopes: against a
// remote state, two deploys whose selections share none of these run at once.
#include "deploy/deploy.hpp"
#include "model/deployment.hpp"

#include <string>
#include <vector>

namespace fedi::deploy {

// "machine NAME" for each selected machine, "provider NAME" for the providers that
// provision them, "storage NAME" for the storage clusters they need, and "directory
// NAME" for every identity directory (the secrets phase converges them all). Sorted.
std::vector<std::string> lock_scopes(const model::Deployment& d, const DeployOptions& opts);

} // namespace fedi::deploy
