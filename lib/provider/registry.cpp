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

} // namespace fedi::provider
