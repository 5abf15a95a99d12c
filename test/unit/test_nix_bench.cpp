// Throughput of push_closure through a local pipe into `nix-store --serve --write`,
// against Nix's own tools on the same closure. A measurement, not a test: hidden
// from CTest; run it with `fedi-unit "[.bench]"`. Everything is in the page cache
// (the closure was just built), so this compares CPU and pipe costs, not disks.
#include "core/process.hpp"
#include "nix/nar.hpp"
#include "nix/serve.hpp"
#include "nix/store.hpp"
#include "nix/wire.hpp"
#include "nix_test_util.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <sys/resource.h>

using namespace fedi;
using namespace fedi::nix;
using namespace fedi::nix::test;

namespace {

// `paths` paths of `files` random files of `kib` KiB each, all referenced by a root.
const char* bench_expr = R"nix(
{ paths, files, kib }:
let
  mk = i: derivation {
    name = "fedi-bench-${toString paths}-${toString files}-${toString kib}-${toString i}";
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" ''
      PATH=/usr/bin:/bin; set -e; mkdir $out; n=0
      while [ $n -lt ${toString files} ]; do
        head -c ${toString (kib * 1024)} /dev/urandom > $out/f$n; n=$((n+1))
      done
    '' ];
  };
  deps = builtins.genList mk paths;
in derivation {
  name = "fedi-bench-root-${toString paths}-${toString files}-${toString kib}";
  system = builtins.currentSystem;
  builder = "/bin/sh";
  args = [ "-c" "echo ${toString deps} > $out" ];
}
)nix";

struct NullSink : Sink {
    void write(const char*, std::size_t) override {}
    using Sink::write;
};

double cpu_seconds(int who) {
    rusage ru{};
    getrusage(who, &ru);
    auto sec = [](timeval t) { return t.tv_sec + t.tv_usec / 1e6; };
    return sec(ru.ru_utime) + sec(ru.ru_stime);
}

struct Contender {
    const char* what;
    std::function<void(const std::string& target_store)> run;
    std::vector<double> walls;
    double self_cpu = 0, child_cpu = 0;
};

// Runs every contender `rounds` times, interleaved (the machine is shared: load changes
// hit all of them alike), each time into a fresh target store; prints the best and
// median wall time and the mean CPU time of fedi and of its children (the receiving
// nix-store, or the whole pipeline for Nix's own tools).
void compare(const TempDir& dir, std::uint64_t bytes, std::vector<Contender> contenders,
             int rounds = 5) {
    for (int r = 0; r < rounds; ++r)
        for (auto& c : contenders) {
            std::string target = dir / "target";
            run_process({"chmod", "-R", "u+w", target});
            std::filesystem::remove_all(target);
            double s0 = cpu_seconds(RUSAGE_SELF), c0 = cpu_seconds(RUSAGE_CHILDREN);
            auto t0 = std::chrono::steady_clock::now();
            c.run(target);
            c.walls.push_back(
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
            c.self_cpu += cpu_seconds(RUSAGE_SELF) - s0;
            c.child_cpu += cpu_seconds(RUSAGE_CHILDREN) - c0;
        }
    for (auto& c : contenders) {
        std::sort(c.walls.begin(), c.walls.end());
        double best = c.walls.front(), median = c.walls[c.walls.size() / 2];
        std::printf("  %-42s best %6.3f s %7.1f MB/s | median %6.3f s | cpu fedi %5.2f s, "
                    "children %5.2f s\n",
                    c.what, best, bytes / 1e6 / best, median, c.self_cpu / rounds,
                    c.child_cpu / rounds);
    }
}

void run_bench(int paths, int files, int kib) {
    ignore_sigpipe();
    TempDir dir("fedi-nix-bench");
    std::vector<std::string> args = {"--arg", "paths", std::to_string(paths),
                                     "--arg", "files", std::to_string(files),
                                     "--arg", "kib",   std::to_string(kib)};
    auto root = nix_build(dir, "root", bench_expr, args);
    auto closure = query_closure({root});
    std::uint64_t nar = 0;
    std::vector<std::string> all;
    for (const auto& i : closure) {
        nar += i.nar_size;
        all.push_back(i.path);
    }
    std::printf("closure: %zu paths, %.1f MB of NAR\n", closure.size(), nar / 1e6);

    auto push = [&](TransferMethod method) {
        return [&, method](const std::string& store) {
            ChildProcess serve({"nix-store", "--serve", "--write", "--store", store});
            PushOptions opts;
            opts.method = method;
            auto stats = push_closure(serve, serve, {root}, {}, opts);
            REQUIRE(serve.wait() == 0);
            REQUIRE(stats.paths_sent == closure.size());
        };
    };
    compare(dir, nar,
            {
                {"dump_nar of every path to nowhere",
                 [&](const std::string&) {
                     NullSink null;
                     for (const auto& p : all)
                         dump_nar(p, null);
                 }},
                {"dump_nar | cat >/dev/null (pipe ceiling)",
                 [&](const std::string&) {
                     ChildProcess cat({"sh", "-c", "cat >/dev/null"});
                     BufferedSink buf(cat);
                     for (const auto& p : all)
                         dump_nar(p, buf);
                     buf.flush();
                     cat.wait();
                 }},
                {"push_closure, AddToStoreNar (default)", push(TransferMethod::AddToStoreNar)},
                {"push_closure, ImportPaths", push(TransferMethod::ImportPaths)},
                {"nix-store --export | nix-store --import",
                 [&](const std::string& store) {
                     run_ok({"sh", "-c",
                             "nix-store --export $(nix-store -qR \"$1\") | "
                             "nix-store --import --store \"$2\" >/dev/null",
                             "sh", root, store});
                 }},
                {"nix copy --to <chroot store>",
                 [&](const std::string& store) {
                     run_ok({"nix", "--extra-experimental-features", "nix-command", "copy",
                             "--no-check-sigs", "--to", store, root});
                 }},
            });

    // The cost of a push that finds everything there: closure query, handshake, one query.
    std::string store = dir / "full"; // compare() empties "target" only
    push(TransferMethod::Auto)(store);
    compare(dir, 0, {{"push_closure when nothing is missing", [&](const std::string&) {
                          ChildProcess serve({"nix-store", "--serve", "--write", "--store", store});
                          REQUIRE(push_closure(serve, serve, {root}).paths_sent == 0);
                          serve.wait();
                      }}});
}

} // namespace

TEST_CASE("nix bench: push a ~200 MB closure", "[.bench]") {
    run_bench(20, 40, 256);
}

TEST_CASE("nix bench: push many small paths", "[.bench]") {
    run_bench(500, 2, 4);
}
