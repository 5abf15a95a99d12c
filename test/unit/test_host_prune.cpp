// Pruning a machine's history: what is listed, what is kept (newest N, whatever is in
// use, unfinished activations), and the command that removes the rest.
#include "core/error.hpp"
#include "host/prune.hpp"

#include <catch2/catch.hpp>

using namespace fedi::host;

namespace {
std::string listing_text() {
    return "profile system-7-link\n"
           "gen system-1-link /nix/store/aaaa-sys-1\n"
           "gen system-2-link /nix/store/bbbb-sys-2\n"
           "gen system-3-link /nix/store/cccc-sys-3\n"
           "gen system-5-link /nix/store/eeee-sys-5\n"
           "gen system-6-link /nix/store/ffff-sys-6\n"
           "gen system-7-link /nix/store/gggg-sys-7\n"
           "gen system-x-link /nix/store/junk\n"
           "running /nix/store/ffff-sys-6\n"
           "booted /nix/store/bbbb-sys-2\n"
           "act done /var/lib/fedi/activations 2026-01-01T00:00:01Z-10-0\n"
           "act done /var/lib/fedi/activations 2026-01-02T00:00:01Z-10-0\n"
           "act running /var/lib/fedi/activations 2025-12-31T00:00:01Z-9-0\n"
           "act done /run/fedi/activations 2026-01-03T00:00:01Z-11-0\n"
           "act done /var/lib/fedi/activations not-ours\n"
           "act done /etc 2020-01-01T00:00:01Z-1-0\n"
           "act done /var/lib/fedi/activations 2026-01-04T00:00:01Z-12-0\n";
}
} // namespace

TEST_CASE("the machine's listing is parsed, junk skipped") {
    auto l = parse_prune_listing(listing_text());
    REQUIRE(l.profile_generation == 7);
    REQUIRE(l.running == "/nix/store/ffff-sys-6");
    REQUIRE(l.booted == "/nix/store/bbbb-sys-2");
    REQUIRE(l.generations.size() == 6);
    REQUIRE(l.generations[3].number == 5);
    REQUIRE(l.generations[3].system == "/nix/store/eeee-sys-5");
    REQUIRE(l.activations.size() == 6); // "/etc" is no activation directory
    REQUIRE_FALSE(l.activations[2].finished);
    auto empty = parse_prune_listing("profile \nrunning \nbooted \n");
    REQUIRE_FALSE(empty.profile_generation);
    REQUIRE(empty.generations.empty());
}

TEST_CASE("pruning keeps the newest N and whatever is in use") {
    auto l = parse_prune_listing(listing_text());
    // keep 2: 7 and 6 are the newest; 2 is booted; 1, 3, 5 go.
    auto plan = plan_prune(l, 2);
    REQUIRE(plan.generations == std::vector<int>{1, 3, 5});
    // Finished fedi activations, newest 2 kept: 01-01 and 01-02 go; the running one and
    // the file that is not fedi's stay.
    REQUIRE(plan.activations.size() == 2);
    REQUIRE(plan.activations[0].id == "2026-01-01T00:00:01Z-10-0");
    REQUIRE(plan.activations[1].id == "2026-01-02T00:00:01Z-10-0");

    // keep 1: the profile's (7), the running (6) and the booted (2) generations stay.
    REQUIRE(plan_prune(l, 1).generations == std::vector<int>{1, 3, 5});
    // The running system pinned at an old generation stays even if it is the oldest.
    l.running = "/nix/store/aaaa-sys-1";
    REQUIRE(plan_prune(l, 1).generations == std::vector<int>{3, 5, 6});
    // Nothing beyond N: nothing to do.
    REQUIRE(plan_prune(l, 10).empty());
    REQUIRE(prune_command(plan_prune(l, 10)) == "true");
    REQUIRE_THROWS_AS(plan_prune(l, 0), fedi::Error);
}

TEST_CASE("a generation number listed twice stays if either line is in use") {
    // Found by fuzz_activation: a machine printing one number twice, once with the
    // running system, had that generation planned for removal.
    auto l = parse_prune_listing("profile system-3-link\n"
                                 "gen system-1-link /nix/store/aaaa-sys-1\n"
                                 "gen system-1-link /nix/store/zzzz-other\n"
                                 "gen system-2-link /nix/store/bbbb-sys-2\n"
                                 "gen system-3-link /nix/store/cccc-sys-3\n"
                                 "running /nix/store/aaaa-sys-1\n");
    REQUIRE(plan_prune(l, 1).generations == std::vector<int>{2});
}

TEST_CASE("the removal command names exactly the planned generations and files") {
    PrunePlan plan;
    plan.generations = {3, 4};
    plan.activations.push_back({"/var/lib/fedi/activations", "2026-01-01T00:00:01Z-10-0", true});
    auto cmd = prune_command(plan);
    REQUIRE(cmd == "set -e; nix-env -p /nix/var/nix/profiles/system --delete-generations 3 4; "
                   "rm -f /var/lib/fedi/activations/2026-01-01T00:00:01Z-10-0.log "
                   "/var/lib/fedi/activations/2026-01-01T00:00:01Z-10-0.result");
}
