#include "fake_machines.hpp"
#include <catch2/catch.hpp>
#include <fmt/format.h>
TEST_CASE("fake machines: a switch moves the profile and the running system") {
    fedi::test::FakeConnector c;
    auto m = c.add("web");
    fedi::model::Machine mm;
    mm.name = "web";
    auto h = c.connect(mm);
    fedi::host::ActivationRequest r;
    r.system = "/nix/store/x";
    r.goal = fedi::model::Goal::Switch;
    CHECK(h->activate(r).ok());
    CHECK(h->system_status().current == "/nix/store/x");
    CHECK(*h->system_status().generation == 1);
    mm.name = "db";
    CHECK_THROWS(c.connect(mm));
}
