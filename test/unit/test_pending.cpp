// Pending failures kept in state (deploy/pending): recorded, read back through the state
// file's JSON, cleared; the rest of the free-form part is left alone.
#include "deploy/pending.hpp"

#include <catch2/catch.hpp>

using namespace fedi;

TEST_CASE("pending failures survive a state round trip and are cleared one by one") {
    state::State s;
    s.extra["somethingElse"] = 1;
    CHECK_FALSE(deploy::pending_failure(s, "machines.web"));
    deploy::record_failure(s, "machines.web",
                           {"activate", "health check failed\nmore lines", "/nix/store/x", "t"});
    deploy::record_failure(s, "accounts.admin", {"account", "email taken", "", "t"});
    auto back = state::from_json(state::to_json(s), "state.json");
    auto p = deploy::pending_failure(back, "machines.web");
    REQUIRE(p);
    CHECK(p->phase == "activate");
    CHECK(p->error == "health check failed"); // first line only
    CHECK(p->system == "/nix/store/x");
    deploy::clear_failure(back, "machines.web");
    CHECK_FALSE(deploy::pending_failure(back, "machines.web"));
    CHECK(deploy::pending_failure(back, "accounts.admin"));
    deploy::clear_failure(back, "accounts.admin");
    CHECK_FALSE(back.extra.contains("pendingFailures"));
    CHECK(back.extra["somethingElse"] == 1);
}
