// A push over several connections ("lanes") to one target: the order in which lanes get
// paths, and real pushes into `nix-store --serve --write` processes sharing one chroot
// store.
#include "core/error.hpp"
#include "core/process.hpp"
#include "nix/serve.hpp"
#include "nix/serve_lanes.hpp"
#include "nix/store.hpp"
#include "nix_test_util.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <future>

using namespace fedi;
using namespace fedi::nix;
using namespace fedi::nix::test;

namespace {

PathInfo info(const std::string& path, std::vector<std::string> refs) {
    PathInfo p;
    p.path = path;
    p.references = std::move(refs);
    return p;
}

std::string name_of(const PathInfo* p) {
    return p ? p->path : "none";
}

// A `nix-store --serve --write` child on the same chroot store as the first lane's.
struct ChildLane : ServeLane {
    explicit ChildLane(const std::string& store)
        : child({"nix-store", "--serve", "--write", "--store", store}) {}
    Duplex& io() override { return child; }
    std::string remote_stderr() override { return child.stderr_text(); }
    void finish() override {
        if (child.wait() != 0)
            throw Error("lane's nix-store --serve failed: " + child.stderr_text());
    }
    ChildProcess child;
};

} // namespace

TEST_CASE("nix serve lanes: a path goes out once its references are acknowledged or on the "
          "same lane") {
    // b and c refer to a, c to b; d to nothing; e is valid on the target already.
    SharedPaths shared(
        {info("a", {"a"}), info("b", {"a"}), info("c", {"a", "b", "e"}), info("d", {})});
    SharedPaths::Feed lane0(shared, 0), lane1(shared, 1);
    CHECK(name_of(lane0.next()) == "a");
    CHECK(name_of(lane1.next()) == "d"); // b and c need a, which lane 0 sent
    CHECK(name_of(lane1.next()) == "none");
    CHECK_FALSE(lane1.done());
    CHECK(name_of(lane0.next()) == "b"); // after a in lane 0's own stream
    // lane 1 waits until lane 0's target acknowledged a and b.
    auto waiting = std::async(std::launch::async, [&] {
        lane1.wait();
        return name_of(lane1.next());
    });
    CHECK(waiting.wait_for(std::chrono::milliseconds(50)) == std::future_status::timeout);
    lane0.acked(info("a", {}));
    lane0.acked(info("b", {}));
    CHECK(waiting.get() == "c");
    CHECK(lane0.done());
    CHECK(name_of(lane0.next()) == "none");
    CHECK(lane0.taken() == 2);
    CHECK(lane1.taken() == 2);
}

TEST_CASE("nix serve lanes: after stop() nothing more is handed out and waits end") {
    SharedPaths shared({info("a", {}), info("b", {"a"})});
    SharedPaths::Feed lane0(shared, 0), lane1(shared, 1);
    CHECK(name_of(lane0.next()) == "a");
    auto waiting = std::async(std::launch::async, [&] { lane1.wait(); });
    shared.stop();
    waiting.get();
    CHECK(lane1.done());
    CHECK(name_of(lane1.next()) == "none");
}

TEST_CASE("nix serve lanes: a push over three lanes into one store") {
    TempDir dir;
    std::string store = dir / "target";
    auto root = nix_build(dir, "closure", test_closure_expr, {"--arg", "extra", "true"});
    auto paths = query_closure({root});
    ChildProcess first({"nix-store", "--serve", "--write", "--store", store});
    PushOptions options;
    options.serve.remote_name = "test-target";
    options.lanes.max_extra = 2;
    options.lanes.min_bytes = 0;
    options.lanes.min_round_trip = std::chrono::milliseconds(0);
    std::atomic<int> opened = 0;
    bool one_fails = false;
    SECTION("every lane opens") {}
    SECTION("a lane that cannot open leaves its share to the others") {
        one_fails = true;
    }
    options.lanes.open = [&]() -> std::unique_ptr<ServeLane> {
        if (++opened == 1 && one_fails)
            throw Error("no more connections");
        return std::make_unique<ChildLane>(store);
    };
    auto stats = push_closure(first, first, {root}, {}, options);
    CHECK(first.wait() == 0);
    CHECK(opened == 2);
    CHECK(stats.paths_sent == paths.size());
    for (const auto& p : paths) {
        INFO(p.path);
        CHECK(run_process({"nix-store", "--store", store, "--verify-path", p.path}).ok());
    }
}
