// The session's state store: reads never write, a change is saved once, a failed save
// changes nothing, and a locked store keeps a second command out.
#include "core/error.hpp"
#include "nix_test_util.hpp"
#include "session/state_store.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace fedi;
using fedi::nix::test::TempDir;

TEST_CASE("a snapshot of a file store never writes the file") {
    TempDir dir("fedi-store-test");
    auto file = dir / "state.json";
    auto store = session::open_state_file(file, session::StateMode::Locked, "test");
    auto snap = store->snapshot();
    CHECK(snap.machines.empty());
    CHECK_FALSE(std::filesystem::exists(file));
}

TEST_CASE("a change is saved and later snapshots and stores see it") {
    TempDir dir("fedi-store-test");
    auto file = dir / "state.json";
    {
        auto store = session::open_state_file(file, session::StateMode::Locked, "test");
        store->change([](state::State& s) { s.machines["web"].host_keys.push_back("k1"); });
        CHECK(store->snapshot().machines.at("web").host_keys.size() == 1);
    }
    CHECK(state::load(file).machines.at("web").host_keys.at(0) == "k1");
    auto again = session::open_state_file(file, session::StateMode::ReadOnly, "test");
    CHECK(again->snapshot().machines.at("web").host_keys.at(0) == "k1");
}

TEST_CASE("a change whose save fails throws and leaves the store as it was") {
    TempDir dir("fedi-store-test");
    auto sub = dir / "sub";
    std::filesystem::create_directories(sub);
    auto file = sub + "/state.json";
    auto store = session::open_state_file(file, session::StateMode::Locked, "test");
    store->change([](state::State& s) { s.machines["a"]; });
    // Its directory replaced by a plain file: every save fails, even as root.
    std::filesystem::remove_all(sub);
    std::ofstream(sub) << "not a directory";
    CHECK_THROWS_AS(store->change([](state::State& s) { s.machines["b"]; }), Error);
    CHECK(store->snapshot().machines.count("b") == 0);
    CHECK(store->snapshot().machines.count("a") == 1);
}

TEST_CASE("a read-only store refuses changes and takes no lock") {
    TempDir dir("fedi-store-test");
    auto file = dir / "state.json";
    auto reader = session::open_state_file(file, session::StateMode::ReadOnly, "reader");
    CHECK_FALSE(reader->writable());
    CHECK_THROWS_AS(reader->change([](state::State&) {}), Error);
    // A locked store can still be opened beside it.
    auto writer = session::open_state_file(file, session::StateMode::Locked, "writer");
    CHECK(writer->writable());
}

TEST_CASE("a second locked store of the same file is refused, naming the holder") {
    TempDir dir("fedi-store-test");
    auto file = dir / "state.json";
    auto first = session::open_state_file(file, session::StateMode::Locked, "fedi deploy --on a");
    try {
        session::open_state_file(file, session::StateMode::Locked, "fedi deploy --on b");
        FAIL("the second lock was granted");
    } catch (const Error& e) {
        CHECK_THAT(e.describe(), Catch::Contains("fedi deploy --on a"));
    }
}

TEST_CASE("changes from many threads are all kept") {
    auto store = session::memory_state();
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i)
        threads.emplace_back([&store, i] {
            for (int j = 0; j < 50; ++j)
                store->change([&](state::State& s) {
                    s.machines["m"].host_keys.push_back(std::to_string(i * 100 + j));
                });
        });
    for (auto& t : threads)
        t.join();
    CHECK(store->snapshot().machines.at("m").host_keys.size() == 400);
}
