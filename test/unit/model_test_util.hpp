#pragma once
// Helpers shared by the unit tests of the deployment model: evaluated values as
// nix::evaluate_deployment produces them, and the usage error a deployment gets.
#include "core/error.hpp"
#include "model/deployment.hpp"
#include "provider/provider.hpp" // parse_deployment with the registry's provider types

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

namespace fedi::test {

// An evaluated derivation, as the evaluation wrapper encodes it.
inline nlohmann::json derivation(const std::string& name) {
    return {{"__fedi", "derivation"},
            {"drvPath", "/nix/store/aaaa-" + name + ".drv"},
            {"outputPath", "/nix/store/bbbb-" + name},
            {"name", name}};
}

// The message of the usage error parsing `j` gives, or "no error".
inline std::string usage_message(const nlohmann::json& j) {
    try {
        model::parse_deployment(j, "/d/deployment.nix");
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::Usage);
        return e.message();
    }
    return "no error";
}

} // namespace fedi::test
