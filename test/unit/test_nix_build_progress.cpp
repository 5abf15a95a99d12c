#include "nix/build.hpp"
#include "nix_test_util.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>

using namespace fedi;
using namespace fedi::nix;

TEST_CASE("build_systems streams every builder line and counts derivations done") {
    nix::test::TempDir dir;
    auto salt = std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
    nix::test::write_file(dir / "two.nix", R"nix(
{ salt }:
let
  step = n: derivation {
    name = "step${toString n}";
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" "echo line-one-${toString n}-${salt}; echo line-two-${toString n} >&2; echo > $out" ];
  };
in derivation {
  name = "top";
  system = builtins.currentSystem;
  builder = "/bin/sh";
  args = [ "-c" "echo top-says-${salt}; echo ${step 1} ${step 2} > $out" ];
}
)nix");
    auto drv =
        nix::test::run_ok({"nix-instantiate", dir / "two.nix", "--argstr", "salt", salt}).out;
    drv.erase(drv.find_last_not_of('\n') + 1);

    std::vector<std::string> lines;
    std::vector<BuildProgress> progress;
    auto outcome = build_systems(
        {drv}, {}, [&](const std::string& l) { lines.push_back(l); }, 25,
        [&](const BuildProgress& p) { progress.push_back(p); });
    REQUIRE(outcome.failed.empty());

    auto has = [&](const std::string& line) {
        return std::find(lines.begin(), lines.end(), line) != lines.end();
    };
    // Each builder's lines, stdout and stderr, prefixed with the derivation's name.
    CHECK(has("step1> line-one-1-" + salt));
    CHECK(has("step1> line-two-1"));
    CHECK(has("step2> line-one-2-" + salt));
    CHECK(has("top> top-says-" + salt));
    // Nix's count: three derivations to build, all done at the end, never more done
    // than expected.
    REQUIRE_FALSE(progress.empty());
    CHECK(progress.back().done == 3);
    CHECK(progress.back().expected == 3);
    CHECK(progress.back().failed == 0);
    for (const auto& p : progress)
        CHECK(p.done <= p.expected);
    CHECK(std::any_of(progress.begin(), progress.end(),
                      [](const BuildProgress& p) { return p.done < p.expected; }));
}
