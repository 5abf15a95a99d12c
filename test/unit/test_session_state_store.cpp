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

TEST_CASE("a state file changed by hand behind a locked store is not overwritten") {
    TempDir dir("fedi-store-test");
    auto file = dir / "state.json";
    auto store = session::open_state_file(file, session::StateMode::Locked, "test");
    store->change([](state::State& s) { s.machines["a"]; });
    std::ofstream(file) << R"({"version": 1, "machines": {"edited": {}}})";
    // Applied again on top of the edit, never written over it.
    store->change([](state::State& s) { s.machines["b"]; });
    auto kept = state::load(file);
    CHECK(kept.machines.count("edited") == 1);
    CHECK(kept.machines.count("b") == 1);
    CHECK(kept.machines.count("a") == 0);
}

namespace {

// A backend in memory whose writes can be raced by "another run" (test only).
class RacedBackend : public statestore::Backend {
  public:
    std::optional<statestore::Stored> stored;
    int versions = 0;
    int races_left = 0; // writes that find another run's version first
    std::string other_run_text;

    std::string where() const override { return "(raced)"; }
    std::optional<statestore::Stored> read() override { return stored; }
    std::string write(const std::string& bytes,
                      const std::optional<std::string>& expected) override {
        if (races_left > 0) {
            --races_left;
            stored = statestore::Stored{other_run_text, std::to_string(++versions)};
        }
        std::optional<std::string> current;
        if (stored)
            current = stored->version;
        if (current != expected)
            throw statestore::VersionConflict("version moved");
        stored = statestore::Stored{bytes, std::to_string(++versions)};
        return stored->version;
    }
    std::unique_ptr<statestore::Lock> lock(const statestore::LockRequest&) override {
        return std::make_unique<statestore::Lock>();
    }
    std::vector<statestore::LockHolder> locks() override { return {}; }
    void unlock(const std::string&) override {}
    std::vector<statestore::HistoryEntry> history() override { return {}; }
    std::optional<statestore::Stored> read_version(const std::string&) override {
        return std::nullopt;
    }
    bool remote() const override { return true; }
};

} // namespace

TEST_CASE("a change that meets another run's write is applied again on top of it") {
    auto backend = std::make_unique<RacedBackend>();
    auto* raced = backend.get();
    raced->races_left = 1;
    raced->other_run_text = R"({"version": 1, "machines": {"theirs": {}}})";
    auto store = session::open_state_store(std::move(backend), statestore::plain_codec(),
                                           session::StateMode::Locked, {});
    store->change([](state::State& s) { s.machines["ours"]; });
    auto written = state::parse(raced->stored->bytes, "raced");
    CHECK(written.machines.count("theirs") == 1);
    CHECK(written.machines.count("ours") == 1);
    CHECK(store->snapshot().machines.count("theirs") == 1);
}

TEST_CASE("a run that keeps losing the race fails with the conflict, changing nothing") {
    auto backend = std::make_unique<RacedBackend>();
    auto* raced = backend.get();
    raced->races_left = 100;
    raced->other_run_text = R"({"version": 1, "machines": {}})";
    auto store = session::open_state_store(std::move(backend), statestore::plain_codec(),
                                           session::StateMode::Locked, {});
    CHECK_THROWS_AS(store->change([](state::State& s) { s.machines["ours"]; }),
                    statestore::VersionConflict);
    CHECK(store->snapshot().machines.count("ours") == 0);
}

TEST_CASE("a store refuses age-encrypted state when no identity was given") {
    TempDir dir("fedi-store-test");
    auto file = dir / "state.json";
    std::ofstream(file) << "age-encryption.org/v1\n-> X25519 abc\n";
    try {
        session::open_state_file(file, session::StateMode::ReadOnly, "test");
        FAIL("opened");
    } catch (const Error& e) {
        CHECK_THAT(e.describe(), Catch::Contains("encrypted with age") && Catch::Contains(file));
    }
}
