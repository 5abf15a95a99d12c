// The one list of provider types (no static-initialiser registration).
#include "provider/existing.hpp"
#include "provider/provider.hpp"
#include "provider/proxmox_provider.hpp"

namespace fedi::provider {

const std::vector<ProviderType>& provider_types() {
    static const std::vector<ProviderType> types = {
        existing_type(),
        container_type(),
        pve::proxmox_type(),
    };
    return types;
}

const ProviderType* find_provider_type(const std::string& name) {
    for (const auto& t : provider_types())
        if (t.name == name)
            return &t;
    return nullptr;
}

namespace {

class Registry : public model::ProviderParsers {
  public:
    const model::ProviderParser* find(const std::string& type) const override {
        return find_provider_type(type);
    }
    std::vector<std::string> names() const override {
        std::vector<std::string> out;
        for (const auto& t : provider_types())
            out.push_back(t.name);
        return out;
    }
};

} // namespace

const model::ProviderParsers& provider_parsers() {
    static const Registry registry;
    return registry;
}

} // namespace fedi::provider

namespace fedi::model {

Deployment parse_deployment(const nlohmann::json& evaluated, const std::string& file) {
    return parse_deployment(evaluated, file, provider::provider_parsers());
}

} // namespace fedi::model
