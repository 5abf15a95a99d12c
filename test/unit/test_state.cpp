#include "core/error.hpp"
#include "core/process.hpp"
#include "state/state.hpp"

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
