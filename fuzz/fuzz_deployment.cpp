// The evaluated model: the JSON the evaluation of a deployment file gives. A deployment
// is the user's, but it is also whatever its imports and the Nix evaluation make of them;
// parse_deployment must take any JSON to a model or to a usage error naming the attribute.
#include "fuzz.hpp"
#include "model/deployment.hpp"
#include "provider/provider.hpp" // parse_deployment with the registry's provider types

#include <nlohmann/json.hpp>

using namespace fedi;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto j = nlohmann::json::parse(fuzz::bytes(data, size), nullptr, false);
    if (j.is_discarded())
        return 0;
    fuzz::refused_or_parsed([&] {
        auto d = model::parse_deployment(j, "/fuzz/deployment.nix");
        (void)model::to_json(d).dump();
    });
    return 0;
}
