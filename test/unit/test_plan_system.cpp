// The system part of a plan: the probe's output parsed, the closure diff checked against
// Nix's own `nix store diff-closures` on small closures built here, and the plan of a
// system from what a machine said.
#include "core/process.hpp"
#include "host/paths.hpp"
#include "nix/store.hpp"
#include "nix_test_util.hpp"
#include "plan/closure_diff.hpp"
#include "plan/machine_probe.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <fmt/format.h>
#include <set>
#include <sstream>

using namespace fedi;
using namespace fedi::plan;
using fedi::nix::test::nix_build;
using fedi::nix::test::run_ok;
using fedi::nix::test::TempDir;

namespace {

// Two "systems" whose closures differ the ways diff-closures reports: a version bump,
// a size change at one version, a package added and one removed, several versions of a
// name, an output suffix, a path without version, and a change too small to show.
const char* two_systems_expr = R"nix(
{ salt }:
let
  pkg = name: bytes: derivation {
    inherit name;
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" "head -c ${toString bytes} /dev/zero | tr '\\0' x > $out; echo ${salt} >> $out" ];
    PATH = "/usr/bin:/bin";
  };
  sys = name: pkgs: derivation {
    inherit name;
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" "for p in $pkgs; do echo $p; done > $out" ];
    pkgs = pkgs;
    PATH = "/usr/bin:/bin";
  };
in {
  before = sys "nixos-system-t-1" [
    (pkg "hello-1.0" 100) (pkg "big-1.0" 20000) (pkg "oldpkg-0.5" 50)
    (pkg "multi-1.0" 10) (pkg "multi-2.0" 10) (pkg "tool-1.0-man" 30000)
    (pkg "source" 10) (pkg "tiny-1.0" 100) (pkg "same-3" 5000) ];
  after = sys "nixos-system-t-2" [
    (pkg "hello-1.1" 100) (pkg "big-1.0" 40000) (pkg "newpkg-2.0" 12000)
    (pkg "multi-2.0" 10) (pkg "multi-3.0" 10) (pkg "tool-1.1-man" 30000)
    (pkg "source" 9000) (pkg "tiny-1.0" 200) (pkg "same-3" 5000) ];
}
)nix";

ClosureSizes sizes_of(const std::string& root) {
    nix::LocalClosure c({root});
    c.start();
    ClosureSizes sizes;
    for (const auto& i : c.infos(c.paths()))
        sizes[i.path] = i.nar_size;
    return sizes;
}

std::string versions(const std::vector<std::string>& vs) {
    if (vs.empty())
        return "∅";
    std::set<std::string> shown;
    for (const auto& v : vs)
        shown.insert(v.empty() ? "ε" : v);
    std::string out;
    for (const auto& v : shown)
        out += (out.empty() ? "" : ", ") + v;
    return out;
}

// A change as `nix store diff-closures` prints it (Nix 2.8: "%+.1f KiB").
std::string as_nix_prints(const PackageChange& c) {
    std::vector<std::string> items;
    if (!c.from.empty() || !c.to.empty())
        items.push_back(versions(c.from) + " → " + versions(c.to));
    if (std::llabs(c.size_delta) >= kShownSizeDelta)
        items.push_back(fmt::format("{:+.1f} KiB", static_cast<double>(c.size_delta) / 1024.0));
    std::string line = c.name + ": ";
    for (std::size_t i = 0; i < items.size(); ++i)
        line += (i ? ", " : "") + items[i];
    return line;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
        if (!line.empty())
            lines.push_back(line);
    return lines;
}

// Nix's output without its colours.
std::string strip_ansi(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\x1b') {
            while (i < s.size() && s[i] != 'm')
                ++i;
            continue;
        }
        out += s[i];
    }
    return out;
}

} // namespace

TEST_CASE("plan system: package names are split as Nix's DrvName does") {
    CHECK(package_name("/nix/store/0123456789abcdfghijklmnpqrsvwxyz-hello-2.12.1") ==
          PackageName{"hello", "2.12.1"});
    CHECK(package_name("/nix/store/0123456789abcdfghijklmnpqrsvwxyz-apache-httpd-2.0.48") ==
          PackageName{"apache-httpd", "2.0.48"});
    // The output name goes first; then the version starts at a '-' not followed by a letter.
    CHECK(package_name("/nix/store/0123456789abcdfghijklmnpqrsvwxyz-util-linux-2.39-bin") ==
          PackageName{"util-linux", "2.39"});
    CHECK(package_name("/nix/store/0123456789abcdfghijklmnpqrsvwxyz-glibc-2.38-lib32") ==
          PackageName{"glibc", "2.38"});
    CHECK(package_name("/nix/store/0123456789abcdfghijklmnpqrsvwxyz-source") ==
          PackageName{"source", ""});
    CHECK(package_name("/nix/store/0123456789abcdfghijklmnpqrsvwxyz-etc-hosts") ==
          PackageName{"etc", ""});
    CHECK(package_name("/nix/store/0123456789abcdfghijklmnpqrsvwxyz-nixos-system-web-24.05") ==
          PackageName{"nixos-system-web", "24.05"});
    CHECK(package_name("/nix/store/0123456789abcdfghijklmnpqrsvwxyz-x-_y") ==
          PackageName{"x", "_y"});
}

TEST_CASE("plan system: the closure diff shows what diff-closures shows, under the same rules") {
    ClosureSizes before = {{"/nix/store/aaaa-hello-1.0", 100},
                           {"/nix/store/bbbb-small-1", 100},
                           {"/nix/store/cccc-gone-2", 20000}};
    ClosureSizes after = {{"/nix/store/dddd-hello-1.1", 100},
                          {"/nix/store/eeee-small-1", 8000},
                          {"/nix/store/ffff-big-1", 8192}};
    auto d = diff_closures(before, after);
    REQUIRE(d.size() == 3);
    CHECK(d[0] == PackageChange{"big", {}, {"1"}, 8192});
    CHECK(d[1] == PackageChange{"gone", {"2"}, {}, -20000});
    CHECK(d[2] == PackageChange{"hello", {"1.0"}, {"1.1"}, 0});
    CHECK(diff_closures(after, after).empty());
}

TEST_CASE("plan system: the closure diff matches `nix store diff-closures` on real closures") {
    TempDir dir;
    const auto salt = std::to_string(::getpid()) + "-" + std::to_string(std::time(nullptr));
    auto built = nix_build(dir, "systems", two_systems_expr, {"--argstr", "salt", salt});
    auto roots = lines_of(built);
    REQUIRE(roots.size() == 2);
    // nix-build prints the attributes' outputs in name order: after, before.
    const auto& after = roots[0];
    const auto& before = roots[1];
    REQUIRE(after.find("nixos-system-t-2") != std::string::npos);
    auto nix = run_ok({"nix", "--extra-experimental-features", "nix-command", "store",
                       "diff-closures", before, after});
    std::vector<std::string> ours;
    for (const auto& c : diff_closures(sizes_of(before), sizes_of(after)))
        ours.push_back(as_nix_prints(c));
    auto theirs = lines_of(strip_ansi(nix.out));
    CAPTURE(nix.out);
    CHECK(ours == theirs);
    // The cases the closures were made for are among them.
    CHECK(std::count(ours.begin(), ours.end(), "hello: 1.0 → 1.1") == 1);
    CHECK(std::count(ours.begin(), ours.end(), "multi: 1.0 → 3.0") == 1);
    CHECK(std::count(ours.begin(), ours.end(), "oldpkg: 0.5 → ∅") == 1);
    CHECK(std::count(ours.begin(), ours.end(), "tool: 1.0 → 1.1") == 1);
}

TEST_CASE("plan system: what travels and the activation each goal needs") {
    TempDir dir;
    const auto salt =
        "plan-" + std::to_string(::getpid()) + "-" + std::to_string(std::time(nullptr));
    auto roots = lines_of(nix_build(dir, "systems", two_systems_expr, {"--argstr", "salt", salt}));
    REQUIRE(roots.size() == 2);
    const auto& after = roots[0];
    const auto& before = roots[1];
    nix::LocalClosure closure({after});
    closure.start();
    const auto& paths = closure.paths();
    std::uint64_t all_bytes = 0;
    for (const auto& i : closure.infos(paths))
        all_bytes += i.nar_size;

    SECTION("a machine not made yet receives everything; nothing to compare with") {
        auto p = plan_system(after, model::Goal::Switch, std::nullopt, closure);
        CHECK(!p.observed);
        CHECK(p.activation == Activation::Activate);
        CHECK(p.paths_total == paths.size());
        CHECK(p.paths_to_send == paths.size());
        CHECK(p.bytes_to_send == all_bytes);
        CHECK(p.packages.empty());
        CHECK(plan_system(after, model::Goal::Boot, std::nullopt, closure).activation ==
              Activation::BootLoader);
    }
    MachineFacts facts;
    facts.status.current = before;
    facts.status.profile = before;
    facts.status.generation = 4;
    facts.current_closure = sizes_of(before);
    SECTION("a machine running another system: the diff, the bytes of the paths it lacks") {
        facts.missing = {after};
        auto p = plan_system(after, model::Goal::Switch, facts, closure);
        CHECK(p.observed);
        CHECK(p.current == before);
        CHECK(p.generation == 4);
        CHECK(p.activation == Activation::Activate);
        CHECK(p.paths_to_send == 1);
        CHECK(p.bytes_to_send == closure.infos({after}).at(0).nar_size);
        CHECK(p.packages == diff_closures(sizes_of(before), sizes_of(after)));
        CHECK(plan_system(after, model::Goal::Boot, facts, closure).activation ==
              Activation::BootLoader);
        CHECK(plan_system(after, model::Goal::Push, facts, closure).activation == Activation::None);
        CHECK(plan_system(after, model::Goal::DryActivate, facts, closure).activation ==
              Activation::Activate);
    }
    SECTION("a machine running the system: no diff, nothing to send; the profile decides") {
        facts.status.current = after;
        facts.current_closure = sizes_of(after);
        auto p = plan_system(after, model::Goal::Switch, facts, closure);
        CHECK(p.activation == Activation::BootLoader); // after `deploy --goal test`
        CHECK(p.packages.empty());
        CHECK((p.paths_to_send == 0 && p.bytes_to_send == 0));
        CHECK(plan_system(after, model::Goal::Test, facts, closure).activation == Activation::None);
        facts.status.profile = after;
        CHECK(!plan_system(after, model::Goal::Switch, facts, closure).changes());
        CHECK(plan_system(after, model::Goal::Boot, facts, closure).activation == Activation::None);
    }
}

TEST_CASE("plan system: the probe's output is parsed into the machine's facts") {
    // Captured from a test host (plan-probe.sh after the system status command).
    const std::string out = "@@ status\n"
                            "profile=/nix/store/1111-nixos-system-a-1\n"
                            "link=system-3-link\n"
                            "current=/nix/store/1111-nixos-system-a-1\n"
                            "@@ missing\n"
                            "/nix/store/2222-hello-1.1\n"
                            "/nix/store/3333-nixos-system-a-2\n"
                            "@@ current\n"
                            "/nix/store/1111-nixos-system-a-1\n"
                            "/nix/store/4444-hello-1.0\n"
                            "@@ sizes\n"
                            "1234\n"
                            "567\n"
                            "@@ secrets\n"
                            "root root 400 /var/lib/fedi/secrets/db-password\n"
                            "mastodon root 440 /var/lib/fedi/secrets/s3.env\n"
                            "@@ sha256\n"
                            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08  "
                            "/var/lib/fedi/secrets/db-password\n"
                            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  "
                            "/var/lib/fedi/secrets/s3.env\n";
    auto f = parse_machine_facts(out);
    CHECK(f.status.profile == "/nix/store/1111-nixos-system-a-1");
    CHECK(f.status.generation == 3);
    CHECK(f.status.current == "/nix/store/1111-nixos-system-a-1");
    CHECK(f.missing == std::vector<std::string>{"/nix/store/2222-hello-1.1",
                                                "/nix/store/3333-nixos-system-a-2"});
    CHECK(f.current_closure ==
          std::map<std::string, std::uint64_t>{{"/nix/store/1111-nixos-system-a-1", 1234},
                                               {"/nix/store/4444-hello-1.0", 567}});
    REQUIRE(f.secrets.size() == 2);
    CHECK(f.secrets[0].name == "db-password");
    CHECK(f.secrets[0].owner == "root");
    CHECK(f.secrets[0].mode == 0400);
    CHECK(f.secrets[0].sha256 ==
          "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
    CHECK(f.secrets[1].name == "s3.env");
    CHECK(f.secrets[1].owner == "mastodon");
    CHECK(f.secrets[1].mode == 0440);

    // A machine that never ran a system nor had secrets.
    auto bare = parse_machine_facts("@@ status\nprofile=\nlink=\ncurrent=\n@@ missing\n"
                                    "/nix/store/3333-nixos-system-a-2\n@@ current\n@@ secrets\n");
    CHECK(bare.status.current.empty());
    CHECK(!bare.status.generation);
    CHECK(bare.current_closure.empty());
    CHECK(bare.secrets.empty());
    CHECK(bare.missing.size() == 1);
}

TEST_CASE("plan system: output that does not add up is an error naming it") {
    const std::string head = "@@ status\ncurrent=\n@@ missing\n";
    CHECK_THROWS_WITH(parse_machine_facts(head + "@@ current\n/nix/store/1-a\n@@ sizes\n@@ "
                                                 "secrets\n"),
                      Catch::Contains("1 paths") && Catch::Contains("0 sizes"));
    CHECK_THROWS_WITH(parse_machine_facts(head + "@@ current\n/nix/store/1-a\n@@ sizes\nlots\n@@ "
                                                 "secrets\n"),
                      Catch::Contains("\"lots\"") && Catch::Contains("/nix/store/1-a"));
    CHECK_THROWS_WITH(parse_machine_facts("@@ status\n@@ missing\n"), Catch::Contains("cut short"));
    CHECK_THROWS_WITH(parse_machine_facts(head + "@@ secrets\nroot root 400 /d/x\n@@ sha256\n"),
                      Catch::Contains("/x was listed but could not be hashed"));
    CHECK_THROWS_WITH(parse_machine_facts(head + "@@ secrets\n@@ other\n"),
                      Catch::Contains("unknown section \"other\""));
}

TEST_CASE("plan system: the probe command reads the store, the running system and the "
          "secrets on the machine it runs on") {
    // Run here with the running system and the secrets directory pointed at scratch
    // files: the same script, the same local Nix, no machine needed.
    TempDir dir;
    auto built = lines_of(nix_build(dir, "systems", two_systems_expr,
                                    {"--argstr", "salt", "probe-" + std::to_string(::getpid())}));
    REQUIRE(built.size() == 2);
    const std::string absent = "/nix/store/00000000000000000000000000000000-not-there-1.0";
    host::ScriptPaths paths;
    paths.current_system = dir / "current-system";
    paths.secrets_dir = dir / "secrets";
    std::filesystem::create_symlink(built[1], paths.current_system);
    std::filesystem::create_directory(paths.secrets_dir);
    fedi::nix::test::write_file(paths.secrets_dir + "/db-password", "v4lue-never-shown");
    std::filesystem::permissions(paths.secrets_dir + "/db-password", std::filesystem::perms(0640));
    ProcessOptions opts;
    opts.stdin_data = built[0] + "\n" + absent + "\n";
    auto r = run_process({"sh", "-c", machine_probe_command(built[0], paths)}, opts);
    INFO(r.err);
    REQUIRE(r.ok());
    CHECK(r.out.find("v4lue") == std::string::npos); // the value never leaves the machine
    auto f = parse_machine_facts(r.out);
    CHECK(f.missing == std::vector<std::string>{absent});
    CHECK(f.current_closure == sizes_of(built[1]));
    REQUIRE(f.secrets.size() == 1);
    CHECK(f.secrets[0].name == "db-password");
    CHECK(f.secrets[0].mode == 0640);
    CHECK(f.secrets[0].owner == run_ok({"id", "-un"}).out.substr(0, f.secrets[0].owner.size()));
    CHECK(f.secrets[0].sha256 ==
          "165a3b33ba09dba4aa9dd28330bca9a88797451910d52799abad804a3b96d6f4");

    // Running the planned system already: nothing lacks, no running closure to diff.
    std::string closure;
    for (const auto& [path, size] : sizes_of(built[1]))
        closure += path + "\n";
    opts.stdin_data = closure;
    r = run_process({"sh", "-c", machine_probe_command(built[1], paths)}, opts);
    INFO(r.err);
    REQUIRE(r.ok());
    auto same = parse_machine_facts(r.out);
    CHECK(same.missing.empty());
    CHECK(same.current_closure.empty());
    CHECK(same.secrets.size() == 1);
    // A running system that is gone is no running system: the paths are checked.
    opts.stdin_data = absent + "\n";
    std::filesystem::remove(paths.current_system);
    std::filesystem::create_symlink(absent, paths.current_system);
    r = run_process({"sh", "-c", machine_probe_command(absent, paths)}, opts);
    REQUIRE(r.ok());
    auto gone = parse_machine_facts(r.out);
    CHECK(gone.missing == std::vector<std::string>{absent});
    CHECK(gone.current_closure.empty());
}
