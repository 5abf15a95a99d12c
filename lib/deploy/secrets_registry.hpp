#pragma once
// The secret files each machine must hold after this deploy, gathered from every phase
// that makes some (declared secrets and accounts, then storage keys) before the machines
// that receive them start. Thread-safe.
#include "host/secrets.hpp"

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace fedi::deploy {

class SecretsRegistry {
  public:
    void add(const std::string& machine, std::vector<host::SecretFile> files);
    std::vector<host::SecretFile> of(const std::string& machine) const;

  private:
    mutable std::mutex mutex_;
    std::map<std::string, std::vector<host::SecretFile>> files_;
};

} // namespace fedi::deploy
