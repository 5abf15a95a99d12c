// The plan on a terminal: markers, closure diff lines, bytes to send, activation, the
// summary line; colour only when asked.
#include "golden.hpp"
#include "plan/render.hpp"
#include "plan_samples.hpp"

#include <catch2/catch.hpp>

using namespace fedi;
using fedi::test::full_plan;

TEST_CASE("plan render: every kind of change, without colour") {
    auto text = plan::render_plan(full_plan(), false);
    fedi::test::check_golden("plan/full.txt", text);
    CHECK(text.find("\x1b[") == std::string::npos);
    CHECK_THAT(text, Catch::Contains("firefox: 119.0 → 120.0, +2.1 MiB"));
    CHECK_THAT(text, Catch::Contains("oldlib: 2.0, 2.1 → ∅, -1.0 MiB"));
    CHECK_THAT(text, Catch::Contains("send 12 of 340 paths, 412.0 MiB"));
    CHECK_THAT(text, Catch::Contains("machine db: no changes"));
}

TEST_CASE("plan render: colour marks actions and errors") {
    auto text = plan::render_plan(full_plan(), true);
    fedi::test::check_golden("plan/full-color.txt", text);
    CHECK_THAT(text, Catch::Contains("\x1b[32m+\x1b[0m secret db-password"));
    CHECK_THAT(text, Catch::Contains("\x1b[31m-\x1b[0m secret old-token"));
    CHECK_THAT(text, Catch::Contains("\x1b[31merror:\x1b[0m"));
}

TEST_CASE("plan render: a replace has its marker and its reason") {
    auto p = full_plan();
    p.machines[3].provision = {plan::Action::Replace,
                               "pve",
                               "proxmox",
                               "105",
                               {},
                               {{"disk", "10G", "20G"}},
                               "a disk cannot shrink or move storage in place"};
    auto text = plan::render_plan(p, false);
    CHECK_THAT(text,
               Catch::Contains("± proxmox 105 (providers.pve): cannot change in place: a disk"));
    CHECK_THAT(text, Catch::Contains("disk: 10G → 20G (fixed)"));
    CHECK(plan::marker(plan::Action::Replace) == "±");
}

TEST_CASE("plan render: the summary line counts what changes") {
    auto p = full_plan();
    CHECK(plan::summary_line(p) == "2 machines change, 1 VM created, 1 VM changed in place, 1 VM "
                                   "destroyed, 2 storage changes, 1 directory entry, 1.4 GiB to "
                                   "send; 2 errors: the plan is incomplete");
    plan::Plan quiet;
    quiet.machines = {test::unchanged_machine("db"), test::unchanged_machine("web")};
    CHECK(plan::summary_line(quiet) == "No changes.");
    CHECK(plan::render_plan(quiet, false) ==
          "machine db: no changes\nmachine web: no changes\n\nNo changes.\n");
    quiet.machines[1].errors = {"cannot connect"};
    CHECK(plan::summary_line(quiet) == "No changes. 1 error: the plan is incomplete");
}

TEST_CASE("plan render: one machine sending, as the issue's example") {
    plan::Plan p;
    for (const auto* name : {"a", "b", "c"}) {
        auto m = test::changed_machine();
        m.name = name;
        m.provision = {};
        m.secrets.clear();
        m.accounts.clear();
        m.system.bytes_to_send = 412 * 1024 * 1024 / 3;
        p.machines.push_back(m);
    }
    p.machines[0].provision.action = plan::Action::Create;
    CHECK(plan::summary_line(p) == "3 machines change, 1 VM created, 412.0 MiB to send");
}

TEST_CASE("plan render: an error that says so already is not said twice") {
    plan::Plan p;
    p.machines = {test::unchanged_machine("web")};
    p.machines[0].errors = {"error: builder for '/nix/store/x.drv' failed with exit code 1"};
    CHECK(plan::render_plan(p, false) ==
          "machine web\n  error: builder for '/nix/store/x.drv' failed with exit code 1\n\n"
          "No changes. 1 error: the plan is incomplete\n");
}
