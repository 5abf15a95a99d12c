// `fedi status` PREVIOUS: the generation before the running one, also after a rollback
// (when the newer generation sits before the current one in fedi's history).
#include "deploy/status.hpp"

#include <catch2/catch.hpp>

using namespace fedi;

namespace {
state::Generation gen(const std::string& system, int number, const std::string& goal = "switch") {
    return {system, "2026-01-01T00:00:00Z", goal, number};
}
} // namespace

TEST_CASE("previous generation: the one before the running one") {
    CHECK_FALSE(deploy::previous_generation({}));
    CHECK_FALSE(deploy::previous_generation({gen("/nix/store/a", 1)}));
    auto p = deploy::previous_generation({gen("/nix/store/a", 1), gen("/nix/store/b", 2)});
    REQUIRE(p);
    CHECK(p->system == "/nix/store/a");
}

TEST_CASE("previous generation after a rollback is not the newer one") {
    // 1 (a), 2 (b), 3 (c), rolled back to 2: previous is 1, not 3.
    auto p =
        deploy::previous_generation({gen("/nix/store/a", 1), gen("/nix/store/b", 2),
                                     gen("/nix/store/c", 3), gen("/nix/store/b", 2, "rollback")});
    REQUIRE(p);
    CHECK(*p->number == 1);
    CHECK(p->system == "/nix/store/a");
    // Rolled back to the first generation fedi knows: nothing older is known.
    CHECK_FALSE(deploy::previous_generation(
        {gen("/nix/store/a", 1), gen("/nix/store/b", 2), gen("/nix/store/a", 1, "rollback")}));
}
