#include "deploy/secrets_registry.hpp"

namespace fedi::deploy {

void SecretsRegistry::add(const std::string& machine, std::vector<host::SecretFile> files) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& mine = files_[machine];
    for (auto& f : files)
        mine.push_back(std::move(f));
}

std::vector<host::SecretFile> SecretsRegistry::of(const std::string& machine) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = files_.find(machine);
    return it == files_.end() ? std::vector<host::SecretFile>{} : it->second;
}

} // namespace fedi::deploy
