#pragma once
// The typed settings of providers (providers.<name>) and of provisioned machines
// (machines.<name>.provision), and how the deployment reads them. Each provider type in
// provider/ parses its own settings; model knows no provider type: it reads them through
// the ProviderParsers its caller passes in (provider/'s registry), so that provider/
// depends on model and never the other way round.
#include "model/attrs.hpp"

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace fedi::model {

struct ProviderSettings {
    virtual ~ProviderSettings() = default;
    virtual nlohmann::json to_json() const = 0; // for `fedi eval`; no secrets
    // (attribute, message) for settings the deployment accepts but every run warns about.
    virtual std::vector<std::pair<std::string, std::string>> warnings() const { return {}; }
};
struct MachineSettings {
    virtual ~MachineSettings() = default;
    virtual nlohmann::json to_json() const = 0;
};

// The parsers of one provider type.
struct ProviderParser {
    std::string name; // value of providers.<name>.type
    // Reads providers.<name> (its `type` is already read); calls finish().
    std::function<std::shared_ptr<const ProviderSettings>(AttrSet&)> parse_provider;
    // Reads machines.<name>.provision (its `provider` is already read); calls finish().
    std::function<std::shared_ptr<const MachineSettings>(AttrSet&, const ProviderSettings&,
                                                         const std::string& machine)>
        parse_machine;
};

// Every provider type's parsers.
class ProviderParsers {
  public:
    virtual ~ProviderParsers() = default;
    // The parsers of a type, or nullptr for a type there is none of.
    virtual const ProviderParser* find(const std::string& type) const = 0;
    // The known types, in the order messages list them.
    virtual std::vector<std::string> names() const = 0;
};

} // namespace fedi::model
