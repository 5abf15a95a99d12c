// Local store queries: parsing nix-store --dump-db, topological order, and the closure
// of a small derivation built with Debian's Nix.
#include "core/error.hpp"
#include "nix/store.hpp"
#include "nix_test_util.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>

using namespace fedi;
using namespace fedi::nix;
using namespace fedi::nix::test;

namespace {

PathInfo info(std::string path, std::vector<std::string> refs) {
    PathInfo i;
    i.path = std::move(path);
    i.references = std::move(refs);
    return i;
}

std::vector<std::string> paths_of(const std::vector<PathInfo>& infos) {
    std::vector<std::string> out;
    for (const auto& i : infos)
        out.push_back(i.path);
    return out;
}

std::size_t pos(const std::vector<std::string>& v, const std::string& p) {
    return std::find(v.begin(), v.end(), p) - v.begin();
}

} // namespace

TEST_CASE("nix store: parse_dump_db reads each record") {
    // The shape `nix-store --dump-db` prints (checked against Nix 2.8).
    const std::string text = "/nix/store/aaa-a\n"
                             "9276fd53b49dcbf6168f8823aef1487af2ee4e2304b7ee6412dba79982b90a86\n"
                             "120\n"
                             "/nix/store/xxx-a.drv\n"
                             "0\n"
                             "/nix/store/bbb-b\n"
                             "bbbc83139856d9c766fa970866eb70aea67d07de7d586c10575c4a1b13c075b8\n"
                             "160\n"
                             "\n"
                             "2\n"
                             "/nix/store/bbb-b\n"
                             "/nix/store/aaa-a\n";
    auto infos = parse_dump_db(text);
    REQUIRE(infos.size() == 2);
    CHECK(infos[0].path == "/nix/store/aaa-a");
    CHECK(infos[0].nar_hash == "9276fd53b49dcbf6168f8823aef1487af2ee4e2304b7ee6412dba79982b90a86");
    CHECK(infos[0].nar_size == 120);
    CHECK(infos[0].deriver == "/nix/store/xxx-a.drv");
    CHECK(infos[0].references.empty());
    CHECK(infos[1].deriver.empty());
    CHECK(infos[1].nar_size == 160);
    CHECK(infos[1].references == std::vector<std::string>{"/nix/store/aaa-a", "/nix/store/bbb-b"});

    CHECK_THROWS_WITH(parse_dump_db("/nix/store/aaa-a\nhash\n12\n\n3\n/nix/store/b\n"),
                      Catch::Contains("ends before the references"));
    CHECK_THROWS_WITH(parse_dump_db("/nix/store/aaa-a\nhash\ntwelve\n\n0\n"),
                      Catch::Contains("bad narSize 'twelve'"));
}

TEST_CASE("nix store: topo_sort puts references first") {
    // d -> c -> {b, a}, b -> a (and itself), e -> outside path (ignored).
    auto sorted = paths_of(
        topo_sort({info("/s/d", {"/s/c"}), info("/s/a", {}), info("/s/c", {"/s/a", "/s/b"}),
                   info("/s/b", {"/s/a", "/s/b"}), info("/s/e", {"/elsewhere"})}));
    REQUIRE(sorted.size() == 5);
    CHECK(pos(sorted, "/s/a") < pos(sorted, "/s/b"));
    CHECK(pos(sorted, "/s/b") < pos(sorted, "/s/c"));
    CHECK(pos(sorted, "/s/c") < pos(sorted, "/s/d"));
    // Deterministic whatever the input order.
    CHECK(sorted ==
          paths_of(topo_sort({info("/s/e", {"/elsewhere"}), info("/s/b", {"/s/b", "/s/a"}),
                              info("/s/c", {"/s/b", "/s/a"}), info("/s/a", {}),
                              info("/s/d", {"/s/c"})})));

    CHECK_THROWS_WITH(topo_sort({info("/s/x", {"/s/y"}), info("/s/y", {"/s/x"})}),
                      Catch::Contains("cycle"));
}

TEST_CASE("nix store: query_closure returns the closure with its database facts") {
    TempDir dir;
    auto c = nix_build(dir, "closure", test_closure_expr);
    auto closure = query_closure({c});

    // The same set as nix-store -qR, in an order where references come first.
    auto expected_paths = run_ok({"nix-store", "-qR", c}).out;
    std::vector<std::string> expected;
    std::istringstream lines(expected_paths);
    for (std::string l; std::getline(lines, l);)
        expected.push_back(l);
    auto got = paths_of(closure);
    CHECK(std::is_permutation(got.begin(), got.end(), expected.begin(), expected.end()));
    REQUIRE(got.size() == 3);
    CHECK(got.back() == c);
    for (std::size_t i = 0; i < closure.size(); ++i)
        for (const auto& r : closure[i].references)
            CHECK(pos(got, r) <= i);

    std::map<std::string, PathInfo> by_path;
    for (const auto& i : closure)
        by_path[i.path] = i;
    for (const auto& [path, i] : by_path) {
        INFO(path);
        auto refs = run_ok({"nix-store", "-q", "--references", path}).out;
        std::vector<std::string> want;
        std::istringstream rl(refs);
        for (std::string l; std::getline(rl, l);)
            want.push_back(l);
        std::sort(want.begin(), want.end());
        CHECK(i.references == want);
        CHECK(i.deriver ==
              run_ok({"nix-store", "-q", "--deriver", path}).out.substr(0, i.deriver.size()));
        CHECK(i.deriver.size() > 4);
        auto hash = run_ok({"nix-store", "-q", "--hash", path}).out; // sha256:base32
        CHECK(hash.rfind("sha256:", 0) == 0);
        CHECK(i.nar_hash.size() == 64); // base16
        CHECK(i.nar_size == run_ok({"nix-store", "--dump", path}).out.size());
    }
    // b refers to itself and to a.
    auto b = *std::find_if(closure.begin(), closure.end(), [](const PathInfo& i) {
        return i.path.find("-fedi-test-b") != std::string::npos;
    });
    CHECK(std::count(b.references.begin(), b.references.end(), b.path) == 1);
    CHECK(b.references.size() == 2);

    try {
        query_closure({dir / "not-a-store-path"});
        FAIL("query_closure accepted a missing path");
    } catch (const Error& e) {
        CHECK_THAT(e.describe(), Catch::Contains("nix-store --query failed") &&
                                     Catch::Contains("not-a-store-path") &&
                                     Catch::Contains("while querying the closure of"));
    }
}

TEST_CASE("nix store: LocalClosure lists the closure and describes the subsets asked for") {
    TempDir dir;
    auto c = nix_build(dir, "closure", test_closure_expr);
    auto full = query_closure({c});
    REQUIRE(full.size() == 3);

    LocalClosure closure({c});
    closure.start();
    auto paths = closure.paths();
    CHECK(std::is_sorted(paths.begin(), paths.end()));
    auto want = paths_of(full);
    std::sort(want.begin(), want.end());
    CHECK(paths == want);

    // A subset: only its facts, references first; the same facts as a full query.
    std::vector<std::string> subset = {c, full.front().path};
    auto infos = closure.infos(subset);
    REQUIRE(infos.size() == 2);
    CHECK(infos[0] == full.front());
    CHECK(infos[1] == full.back());
    // Asking again, or for everything, gives the same facts.
    CHECK(closure.infos(subset) == infos);
    CHECK(closure.infos(closure.paths()) == full);
    CHECK(closure.infos({}).empty());
}

TEST_CASE("nix store: LocalClosure reports a failed query when asked for the paths") {
    const std::string missing = "/nix/store/00000000000000000000000000000000-missing";
    LocalClosure closure({missing});
    closure.start();
    try {
        closure.paths();
        FAIL("the closure of a missing path was listed");
    } catch (const Error& e) {
        CHECK_THAT(e.message(), Catch::Contains("is not valid"));
        CHECK_THAT(e.describe(), Catch::Contains("while querying the closure of " + missing));
    }
}
