#include "account/records.hpp"
#include "core/error.hpp"
#include "core/process.hpp"
#include "provider/provider.hpp"
#include "state/state.hpp"
#include "storage/storage_state.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>

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
