#include "account/records.hpp"
#include "core/error.hpp"
#include "core/process.hpp"
#include "provider/provider.hpp"
#include "state/state.hpp"
#include "storage/storage_state.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace fedi;
namespace fs = std::filesystem;

namespace {
fs::path temp_dir() {
    char tmpl[] = "/tmp/fedi-state-test-XXXXXX";
    return fs::path(mkdtemp(tmpl));
}
} // namespace

TEST_CASE("state round-trips, is 0600 and leaves no temporary file") {
    auto dir = temp_dir();
    auto file = (dir / ".fedi" / "state.json").string();
    state::State s;
    s.machines["web"].host_keys = {"ssh-ed25519 AAAA"};
    s.machines["web"].generations.push_back(
        {"/nix/store/x-sys", "2026-01-01T00:00:00Z", "switch", 4});
    s.extra["futureField"] = 42;
    state::save(file, s);
    struct stat st;
    REQUIRE(stat(file.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    REQUIRE(stat((dir / ".fedi").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    auto loaded = state::load(file);
    REQUIRE(loaded.machines.count("web"));
    CHECK(loaded.machines["web"].generations.at(0).number == 4);
    CHECK(loaded.machines["web"].host_keys.at(0) == "ssh-ed25519 AAAA");
    CHECK(loaded.extra["futureField"] == 42);
    int files = 0;
    for (auto& e : fs::directory_iterator(dir / ".fedi"))
        files += e.path().filename() == "state.json" ? 0 : 1;
    CHECK(files == 0);
    fs::remove_all(dir);
}

TEST_CASE("a damaged state file is an error, never replaced") {
    auto dir = temp_dir();
    auto file = (dir / "state.json").string();
    std::ofstream(file) << "{ not json";
    CHECK_THROWS_WITH(state::load(file), Catch::Contains("is not valid JSON"));
    std::ofstream(file) << R"({"version": 1, "machines": {"web": {"generations": [{}]}}})";
    CHECK_THROWS_WITH(state::load(file), Catch::Contains("is damaged"));
    fs::remove_all(dir);
}

TEST_CASE("the lock is exclusive and names its holder") {
    auto dir = temp_dir();
    auto file = (dir / "state.json").string();
    auto lock = state::Lock::acquire(file, "fedi deploy --on web");
    // flock locks belong to open file descriptions: a second process must be refused.
    // Run the second attempt in a child process through the same library call.
    auto r = run_process({"sh", "-c", "flock -n -x \"$0\" true", file + ".lock"});
    CHECK(r.exit_code != 0);
    // In-process, a second acquire opens a new description and is refused too.
    CHECK_THROWS_WITH(state::Lock::acquire(file, "second"),
                      Catch::Contains("locked by another fedi") &&
                          Catch::Contains("fedi deploy --on web"));
    lock.reset();
    CHECK_NOTHROW(state::Lock::acquire(file, "third"));
    fs::remove_all(dir);
}

TEST_CASE("fields a newer fedi wrote survive a write by this one, at every level") {
    auto dir = temp_dir();
    auto file = (dir / "state.json").string();
    std::ofstream(file) << R"({
      "version": 1, "futureTop": {"a": 1},
      "machines": {"web": {"hostKeys": ["k"], "futureMachine": "m",
        "generations": [{"system": "/nix/store/x", "time": "t", "goal": "switch",
                         "futureGeneration": [1, 2]}]}},
      "secrets": {"s": {"value": "v", "created": "c", "futureSecret": true}},
      "accounts": {"a": {"service": "svc", "machine": "web", "username": "u", "password": "p",
                         "present": true, "created": "c", "passwordChanged": "c",
                         "futureAccount": 3}},
      "identity": {"ldap": {"users.x": {"dn": "uid=x", "password": "p", "present": true,
                                        "futureIdentity": 4}}},
      "storage": {"futureStorage": 5, "buckets": {"b": {"storage": "g", "id": "i", "futureBucket": 6,
        "keys": {"k": {"id": "ki", "secret": "ks", "futureKey": 7}}}}},
      "provisioned": {"web": {"provider": "p", "type": "existing", "id": "1", "futureRecord": 8,
                              "outputs": {"host": "h", "futureOutput": 9}}}
    })";
    auto s = state::load(file);
    // Each writer puts back what it read, as the deploy phases do.
    s.machines["web"].generations.push_back({"/nix/store/y", "t2", "switch", 2});
    account::store_records(s, account::load_records(s));
    storage::set_storage_state(s, storage::storage_state_of(s));
    provider::set_record(s, "web", *provider::find_record(s, "web"));
    state::save(file, s);
    nlohmann::json j;
    std::ifstream(file) >> j;
    CHECK(j["futureTop"]["a"] == 1);
    CHECK(j["machines"]["web"]["futureMachine"] == "m");
    CHECK(j["machines"]["web"]["generations"][0]["futureGeneration"] == nlohmann::json{1, 2});
    CHECK(j["machines"]["web"]["generations"][1]["system"] == "/nix/store/y");
    CHECK(j["secrets"]["s"]["futureSecret"] == true);
    CHECK(j["accounts"]["a"]["futureAccount"] == 3);
    CHECK(j["identity"]["ldap"]["users.x"]["futureIdentity"] == 4);
    CHECK(j["storage"]["futureStorage"] == 5);
    CHECK(j["storage"]["buckets"]["b"]["futureBucket"] == 6);
    CHECK(j["storage"]["buckets"]["b"]["keys"]["k"]["futureKey"] == 7);
    CHECK(j["provisioned"]["web"]["futureRecord"] == 8);
    CHECK(j["provisioned"]["web"]["outputs"]["futureOutput"] == 9);

    // A record this fedi removes stays removed: unknown fields do not bring it back.
    auto records = account::load_records(s);
    records.secrets.clear();
    account::store_records(s, records);
    auto st = storage::storage_state_of(s);
    st.buckets["b"].keys.clear();
    storage::set_storage_state(s, st);
    CHECK(s.extra["secrets"].empty());
    CHECK(s.extra["storage"]["buckets"]["b"]["keys"].empty());
    CHECK(s.extra["storage"]["buckets"]["b"]["futureBucket"] == 6);
    fs::remove_all(dir);
}

TEST_CASE("a state from a newer format version is refused, naming both versions") {
    auto dir = temp_dir();
    auto file = (dir / "state.json").string();
    std::ofstream(file) << R"({"version": 7, "machines": {}})";
    CHECK_THROWS_WITH(state::load(file), Catch::Contains("format version 7") &&
                                             Catch::Contains("format version 1") &&
                                             Catch::Contains("newer fedi"));
    std::ofstream(file) << R"({"version": "2", "machines": {}})";
    CHECK_THROWS_WITH(state::load(file), Catch::Contains("is damaged"));
    std::ofstream(file) << R"({"version": 1, "machines": []})";
    CHECK_THROWS_WITH(state::load(file), Catch::Contains("is damaged"));
    fs::remove_all(dir);
}

TEST_CASE("a state named through a symbolic link is one state with one lock") {
    auto dir = temp_dir();
    fs::create_directories(dir / "real");
    auto file = (dir / "real" / "state.json").string();
    fs::create_symlink(dir / "real", dir / "linkdir");
    fs::create_symlink("real/state.json", dir / "link.json");
    auto lock = state::Lock::acquire((dir / "link.json").string(), "first");
    CHECK_THROWS_WITH(state::Lock::acquire((dir / "linkdir" / "state.json").string(), "second"),
                      Catch::Contains("locked by another fedi"));
    CHECK_THROWS_WITH(state::Lock::acquire(file, "third"),
                      Catch::Contains("locked by another fedi"));
    lock.reset();
    state::State s;
    s.extra["x"] = 1;
    state::save((dir / "link.json").string(), s);
    CHECK(fs::is_symlink(dir / "link.json")); // written through, not replaced
    CHECK(state::load(file).extra["x"] == 1);
    CHECK(state::real_state_path((dir / "linkdir" / "state.json").string()) == file);
    fs::remove_all(dir);
}

TEST_CASE("stale temporary state files are removed; a live writer's is kept") {
    auto dir = temp_dir();
    auto file = (dir / "state.json").string();
    // A pid that is gone: a child that has exited and been reaped.
    auto r = run_process({"sh", "-c", "echo $$"});
    auto dead = file + ".tmp." + std::to_string(std::stoi(r.out));
    std::ofstream(dead) << "{half";
    auto other = file + ".tmp.x1"; // not fedi's name: left alone
    std::ofstream(other) << "x";
    auto lock = state::Lock::acquire(file, "fedi");
    CHECK_FALSE(fs::exists(dead));
    CHECK(fs::exists(other));
    lock.reset();
    // A live process's temporary file newer than the lock is a write in progress: kept
    // (this process's parent stands in for the writer; the time is set ahead of the lock).
    auto live = file + ".tmp." + std::to_string(getppid());
    std::ofstream(live) << "{";
    fs::last_write_time(live, fs::file_time_type::clock::now() + std::chrono::hours(1));
    lock = state::Lock::acquire(file, "fedi");
    CHECK(fs::exists(live));
    lock.reset();
    // Older than the lock: its writer no longer holds it.
    fs::last_write_time(live, fs::file_time_type::clock::now() - std::chrono::hours(1));
    lock = state::Lock::acquire(file, "fedi");
    CHECK_FALSE(fs::exists(live));
    fs::remove_all(dir);
}

TEST_CASE("state directories are private: created 0700 whatever the umask, .fedi tightened") {
    auto dir = temp_dir();
    auto old_mask = ::umask(022);
    state::save((dir / "a" / "b" / "state.json").string(), state::State{});
    struct stat st;
    REQUIRE(stat((dir / "a").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    REQUIRE(stat((dir / "a" / "b").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    fs::create_directory(dir / ".fedi");
    ::chmod((dir / ".fedi").c_str(), 0755);
    state::save((dir / ".fedi" / "state.json").string(), state::State{});
    REQUIRE(stat((dir / ".fedi").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    // Any other existing directory is the user's: left as it is.
    fs::create_directory(dir / "shared");
    ::chmod((dir / "shared").c_str(), 0755);
    state::save((dir / "shared" / "state.json").string(), state::State{});
    REQUIRE(stat((dir / "shared").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0755);
    ::umask(old_mask);
    fs::remove_all(dir);
}
