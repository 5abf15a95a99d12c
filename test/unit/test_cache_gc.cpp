#include "cache/gc.hpp"
#include "cache/narinfo.hpp"

#include <catch2/catch.hpp>
#include <map>
#include <set>

using namespace fedi;

namespace {

std::string path(char c, const std::string& name) {
    return "/nix/store/" + std::string(32, c) + "-" + name;
}

// A cache of narinfos (each naming its own NAR) with the references given.
struct FakeCache {
    std::map<std::string, std::string> narinfos; // key → text
    std::vector<storage::S3Object> objects;
    std::set<std::string> fetched;

    void add(const std::string& p, const std::vector<std::string>& refs,
             const std::string& nar = "") {
        cache::NarInfo n;
        n.store_path = p;
        n.url = "nar/" + (nar.empty() ? cache::hash_part(p) : nar) + ".nar.xz";
        n.compression = "xz";
        n.nar_hash = "sha256:" + std::string(52, '0');
        n.nar_size = 100;
        for (const auto& r : refs)
            n.references.push_back(r.substr(11));
        auto key = cache::hash_part(p) + ".narinfo";
        narinfos[key] = cache::render(n);
        objects.push_back({key, 10, "", ""});
        bool listed = false;
        for (const auto& o : objects)
            listed = listed || o.key == n.url;
        if (!listed)
            objects.push_back({n.url, 1000, "", ""});
    }
    cache::GcPlan plan(const std::vector<std::string>& roots) {
        return cache::plan_gc(objects, roots, [this](const std::string& key) {
            fetched.insert(key);
            return narinfos.at(key);
        });
    }
};

} // namespace

TEST_CASE("gc keeps the closures of the kept systems and removes the rest") {
    FakeCache c;
    auto libc = path('a', "libc"), app1 = path('b', "app-1"), app2 = path('c', "app-2");
    auto sys1 = path('d', "system-1"), sys2 = path('f', "system-2"), old = path('g', "old");
    c.add(libc, {libc});
    c.add(app1, {libc});
    c.add(app2, {libc, app2});
    c.add(sys1, {app1, sys1});
    c.add(sys2, {app2});
    c.add(old, {libc}, cache::hash_part(app2)); // shares app-2's NAR
    c.objects.push_back({"nix-cache-info", 50, "", ""});
    c.objects.push_back({"nar/orphan.nar.xz", 7, "", ""});

    auto plan = c.plan({sys2, path('h', "never-uploaded")});
    CHECK(plan.remove_narinfos == std::vector<std::string>{cache::hash_part(app1) + ".narinfo",
                                                           cache::hash_part(sys1) + ".narinfo",
                                                           cache::hash_part(old) + ".narinfo"});
    std::set<std::string> nars(plan.remove_nars.begin(), plan.remove_nars.end());
    CHECK(nars == std::set<std::string>{"nar/" + cache::hash_part(app1) + ".nar.xz",
                                        "nar/" + cache::hash_part(sys1) + ".nar.xz",
                                        "nar/orphan.nar.xz"});
    CHECK(plan.kept_narinfos == 3);
    CHECK(plan.kept_nars == 3);
    CHECK(plan.removed_bytes == 3 * 10 + 2 * 1000 + 7);
    CHECK(plan.missing_roots == std::vector<std::string>{path('h', "never-uploaded")});
    // Only what is kept is read.
    CHECK(c.fetched.count(cache::hash_part(sys1) + ".narinfo") == 0);
}

TEST_CASE("gc with both systems kept removes nothing of theirs") {
    FakeCache c;
    auto libc = path('a', "libc"), sys1 = path('d', "system-1"), sys2 = path('f', "system-2");
    c.add(libc, {});
    c.add(sys1, {libc});
    c.add(sys2, {libc});
    auto plan = c.plan({sys1, sys2});
    CHECK(plan.remove_narinfos.empty());
    CHECK(plan.remove_nars.empty());
}

TEST_CASE("kept systems are the last N generations of each machine") {
    state::State s;
    auto gen = [](const std::string& system) {
        state::Generation g;
        g.system = system;
        return g;
    };
    s.machines["web"].generations = {gen("/s/1"), gen("/s/2"), gen("/s/3")};
    s.machines["db"].generations = {gen("/s/2")};
    CHECK(cache::kept_systems(s, 2) == std::vector<std::string>{"/s/2", "/s/3"});
    CHECK(cache::kept_systems(s, 1) == std::vector<std::string>{"/s/2", "/s/3"});
    CHECK(cache::kept_systems(s, 5) == std::vector<std::string>{"/s/1", "/s/2", "/s/3"});
}
