#pragma once
#include "provider/provider.hpp"

namespace fedi::provider {
ProviderType existing_type();
ProviderType container_type();
} // namespace fedi::provider
