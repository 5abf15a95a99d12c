// What moved between a saved plan and a plan made now: each thing named once, nothing
// when the plan still holds.
#include "plan/drift.hpp"
#include "plan_samples.hpp"

#include <catch2/catch.hpp>

using namespace fedi;
using Catch::Matchers::VectorContains;

namespace {

plan::Plan saved() {
    auto p = test::full_plan();
    p.errors.clear();
    p.machines[1].errors.clear();
    return p;
}

} // namespace

TEST_CASE("plan drift: a plan made again from the same world holds") {
    auto now = saved();
    now.created = "2026-12-07T12:05:00Z"; // made later: that is not a change
    CHECK(plan::drift(saved(), now).empty());
}

TEST_CASE("plan drift: a new system and a generation changed behind the plan's back") {
    auto now = saved();
    now.observed["machine.web.system"] = "/nix/store/eeee-nixos-system-web";
    now.observed["machine.web.generation"] = "5";
    auto moved = plan::drift(saved(), now);
    CHECK_THAT(moved,
               VectorContains(std::string(
                   "web: system /nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-nixos-system-web → "
                   "/nix/store/eeee-nixos-system-web (the deployment changed)")));
    CHECK_THAT(moved, VectorContains(std::string("web: generation 4 → 5 (changed by someone "
                                                 "else)")));
    CHECK(moved.size() == 2);
}

TEST_CASE("plan drift: a VM or a bucket that changed, appeared or went") {
    auto now = saved();
    now.observed["vm.web"] = "sha256:4567";
    now.observed.erase("bucket.s3.media");
    now.observed["bucket.s3.new"] = "absent";
    auto moved = plan::drift(saved(), now);
    // In the order of the keys.
    CHECK(moved == std::vector<std::string>{"bucket.s3.media: planned, now missing",
                                            "vm.web changed", "bucket.s3.new: new since the plan"});
}

TEST_CASE("plan drift: machines planned and gone, or new, are named once") {
    auto now = saved();
    auto web = now.machines.back();
    now.machines.pop_back();
    web.name = "cache";
    now.machines.push_back(web);
    now.observed.erase("machine.web.system");
    now.observed.erase("machine.web.generation");
    now.observed["machine.cache.system"] = web.system.system;
    auto moved = plan::drift(saved(), now);
    CHECK(moved == std::vector<std::string>{"web: planned, no longer selected",
                                            "cache: selected now, not in the plan"});
}

TEST_CASE("plan drift: what a machine's or the fleet's plan would do changed") {
    auto now = saved();
    now.machines[3].secrets[0].action = plan::Action::None;
    now.storage.items[0].changes[0].to = "20 GiB";
    now.destroyed.clear();
    auto moved = plan::drift(saved(), now);
    CHECK(moved == std::vector<std::string>{"web: its secrets changed", "the storage plan changed",
                                            "the machines to destroy changed"});
}
