// `fedi state` on the local file backend and on a backend with locks and history of its own:
// secrets are masked unless revealed, pull and push round-trip, every write is
// compare-and-swap, migrate never overwrites a state by accident, unlock names the holder.
#include "account/records.hpp"
#include "core/error.hpp"
#include "state/state.hpp"
#include "statecmd/state_command.hpp"
#include "storage/storage_state.hpp"
#include "temp_dir.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>

using namespace fedi;
using fedi::test::TempDir;

namespace {

// A state with one of each secret fedi records.
state::State state_with_secrets() {
    state::State s;
    s.machines["web"].host_keys.push_back("ssh-ed25519 AAAAweb");
    account::Records r;
    r.secrets["mastodon-otp"] = {"generated-otp-secret", "2026-12-01T00:00:00Z"};
    r.accounts["admin"].password = "account-password-1";
    r.accounts["admin"].username = "admin";
    r.accounts["unknown"].username = "someone"; // a password fedi does not know stays ""
    r.identity["ldap"]["users.alice"] = {"uid=alice,dc=x", "directory-password-2", true};
    account::store_records(s, r);
    storage::StorageState st;
    st.buckets["media"].storage = "garage";
    st.buckets["media"].id = "b1";
    st.buckets["media"].keys["app"] = {"GKaccess", "bucket-key-secret-3", false};
    storage::set_storage_state(s, st);
    return s;
}

const char* const secrets[] = {"generated-otp-secret", "account-password-1", "directory-password-2",
                               "bucket-key-secret-3"};

std::string read(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

statecmd::Confirm answer(bool yes, std::vector<std::string>* asked = nullptr) {
    return [yes, asked](const std::string& question) {
        if (asked)
            asked->push_back(question);
        return yes;
    };
}

statestore::LockRequest lock_request() {
    statestore::LockRequest l;
    l.command = "fedi state test";
    return l;
}

// A state file holding `saved`, and the file backend and plain codec on it.
struct SavedState {
    explicit SavedState(const state::State& saved = state_with_secrets()) {
        state::save(file, saved);
    }
    TempDir dir{"fedi-statecmd"};
    std::string file = dir / "state.json";
    std::unique_ptr<statestore::Backend> backend = statestore::file_backend(file);
    std::unique_ptr<statestore::Codec> codec = statestore::plain_codec();
};

// A remote-like backend in memory: versions kept, locks as records anyone may break.
class MemoryBackend : public statestore::Backend {
  public:
    std::string where() const override { return "memory://test"; }
    std::optional<statestore::Stored> read() override {
        if (versions.empty())
            return std::nullopt;
        return statestore::Stored{versions.back(), std::to_string(versions.size())};
    }
    std::string write(const std::string& bytes,
                      const std::optional<std::string>& expected) override {
        auto now = read();
        std::optional<std::string> current;
        if (now)
            current = now->version;
        if (current != expected)
            throw statestore::VersionConflict("memory: version conflict");
        versions.push_back(bytes);
        return std::to_string(versions.size());
    }
    std::unique_ptr<statestore::Lock> lock(const statestore::LockRequest&) override {
        return std::make_unique<statestore::Lock>();
    }
    std::vector<statestore::LockHolder> locks() override { return held; }
    void unlock(const std::string& id) override {
        held.erase(
            std::remove_if(held.begin(), held.end(), [&](const auto& h) { return h.id == id; }),
            held.end());
    }
    std::vector<statestore::HistoryEntry> history() override {
        std::vector<statestore::HistoryEntry> out;
        for (auto i = versions.size(); i > 0; --i)
            out.push_back({std::to_string(i), "2026-12-07T09:0" + std::to_string(i) + ":00Z",
                           "ci@runner: fedi deploy"});
        return out;
    }
    std::optional<statestore::Stored> read_version(const std::string& version) override {
        auto n = std::stoul(version);
        if (n == 0 || n > versions.size())
            return std::nullopt;
        return statestore::Stored{versions[n - 1], version};
    }
    bool remote() const override { return true; }

    std::vector<std::string> versions;
    std::vector<statestore::LockHolder> held;
};

} // namespace

TEST_CASE("state show masks every secret fedi records unless --reveal") {
    SavedState saved;
    const auto& [dir, file, backend, codec] = saved;

    auto shown = statecmd::show_state(*backend, *codec, false);
    auto text = shown.dump();
    for (const char* secret : secrets)
        CHECK(text.find(secret) == std::string::npos);
    const auto& st = shown.at("state");
    CHECK(st.at("accounts").at("admin").at("password") == statecmd::masked_secret);
    CHECK(st.at("accounts").at("unknown").at("password") == "");
    CHECK(st.at("storage").at("buckets").at("media").at("keys").at("app").at("secret") ==
          statecmd::masked_secret);
    CHECK(st.at("storage").at("buckets").at("media").at("keys").at("app").at("id") == "GKaccess");
    CHECK(st.at("machines").at("web").at("hostKeys").at(0) == "ssh-ed25519 AAAAweb");
    CHECK(statecmd::render_state_result(statecmd::StateAction::Show, shown)
              .find("account-password-1") == std::string::npos);

    auto revealed = statecmd::show_state(*backend, *codec, true).dump();
    for (const char* secret : secrets)
        CHECK(revealed.find(secret) != std::string::npos);
}

TEST_CASE("state show says where the state is, its version and how it is kept") {
    TempDir dir("fedi-statecmd");
    auto file = dir / "state.json";
    auto backend = statestore::file_backend(file);
    auto codec = statestore::plain_codec();
    auto empty = statecmd::show_state(*backend, *codec, false);
    CHECK(empty.at("state").is_null());
    CHECK(empty.at("version").is_null());

    state::save(file, state_with_secrets());
    auto shown = statecmd::show_state(*backend, *codec, false);
    CHECK(shown.at("location") == backend->where());
    CHECK(shown.at("version") == backend->read()->version);
    CHECK(shown.at("kept") == "plain");
    CHECK(shown.at("remote") == false);
    CHECK(shown.at("encrypted") == false);
    CHECK(shown.at("secrets") == "masked");
    CHECK(shown.at("locks").is_array());
    // Nothing was written by looking.
    CHECK(backend->read()->bytes == state::to_text(state_with_secrets()));
}

TEST_CASE("a masked show leaves records that were absent absent") {
    TempDir dir("fedi-statecmd");
    auto file = dir / "state.json";
    state::State s;
    s.machines["db"];
    state::save(file, s);
    auto backend = statestore::file_backend(file);
    auto shown = statecmd::show_state(*backend, *statestore::plain_codec(), false);
    CHECK_FALSE(shown.at("state").contains("accounts"));
    CHECK_FALSE(shown.at("state").contains("storage"));
}

TEST_CASE("state pull writes the stored bytes to a private file and push puts them back") {
    SavedState saved;
    const auto& [dir, file, backend, codec] = saved;
    auto copy = dir / "copy/pulled.json";

    auto pulled = statecmd::pull_state(*backend, copy);
    CHECK(read(copy) == read(file));
    CHECK(pulled.at("version") == backend->read()->version);
    struct stat st {};
    REQUIRE(::stat(copy.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);

    // Edited by hand and pushed back.
    auto edited = state::load(copy);
    edited.machines["new"].host_keys.push_back("ssh-ed25519 AAAAnew");
    state::save(copy, edited);
    std::vector<std::string> asked;
    auto pushed =
        statecmd::push_state(*backend, *codec, copy, pulled.at("version").get<std::string>(),
                             lock_request(), answer(true, &asked));
    REQUIRE(asked.size() == 1);
    CHECK_THAT(asked[0], Catch::Contains(file) && Catch::Contains(copy));
    CHECK(read(file) == read(copy));
    CHECK(pushed.at("replaced") == pulled.at("version"));
    CHECK(pushed.at("version") == backend->read()->version);
}

TEST_CASE("state push refuses when the state changed since it was pulled") {
    SavedState saved;
    const auto& [dir, file, backend, codec] = saved;
    auto copy = dir / "pulled.json";
    auto version = statecmd::pull_state(*backend, copy).at("version").get<std::string>();
    // Another run records a machine meanwhile.
    auto changed = state::load(file);
    changed.machines["other"];
    state::save(file, changed);
    auto before = read(file);
    CHECK_THROWS_AS(
        statecmd::push_state(*backend, *codec, copy, version, lock_request(), answer(true)),
        statestore::VersionConflict);
    CHECK(read(file) == before);
}

TEST_CASE("state push writes compare-and-swap: a change during the confirmation is kept") {
    SavedState saved;
    const auto& [dir, file, backend, codec] = saved;
    auto copy = dir / "pulled.json";
    statecmd::pull_state(*backend, copy);
    state::State by_hand;
    by_hand.machines["edited-meanwhile"];
    auto confirm = [&](const std::string&) {
        state::save(file, by_hand);
        return true;
    };
    CHECK_THROWS_AS(
        statecmd::push_state(*backend, *codec, copy, std::nullopt, lock_request(), confirm),
        statestore::VersionConflict);
    CHECK(state::load(file).machines.count("edited-meanwhile") == 1);
}

TEST_CASE("state push changes nothing when not confirmed or when the file is no state") {
    SavedState saved;
    const auto& [dir, file, backend, codec] = saved;
    auto before = read(file);
    state::State other;
    other.machines["x"];
    auto copy = dir / "other.json";
    state::save(copy, other);
    CHECK_THROWS_AS(
        statecmd::push_state(*backend, *codec, copy, std::nullopt, lock_request(), answer(false)),
        Error);
    CHECK(read(file) == before);

    auto garbage = dir.write("garbage.json", "{\"machines\": 3");
    std::vector<std::string> asked;
    CHECK_THROWS_AS(statecmd::push_state(*backend, *codec, garbage, std::nullopt, lock_request(),
                                         answer(true, &asked)),
                    Error);
    CHECK(asked.empty());
    CHECK(read(file) == before);
    // Nor onto itself.
    CHECK_THROWS_AS(statecmd::pull_state(*backend, file), Error);
}

TEST_CASE("state migrate copies to a new location and refuses one that holds a state") {
    SavedState saved;
    const auto& [dir, file, backend, codec] = saved;
    auto& from = backend;
    auto target_file = dir / "team/state.json";
    auto to = statestore::file_backend(target_file);

    auto moved =
        statecmd::migrate_state({*from, *codec}, {*to, *codec}, target_file, false, lock_request());
    CHECK(read(target_file) == read(file));
    CHECK(moved.at("replaced").is_null());
    CHECK_THAT(moved.at("use").at("option").get<std::string>(), Catch::Contains(target_file));
    CHECK_THAT(statecmd::render_state_result(statecmd::StateAction::Migrate, moved),
               Catch::Contains("--state") && Catch::Contains("meta.state"));

    // The target now holds a state: refused, and left as it is, unless --force.
    state::State newer;
    newer.machines["newer"];
    state::save(file, newer);
    auto target_before = read(target_file);
    try {
        statecmd::migrate_state({*from, *codec}, {*to, *codec}, target_file, false, lock_request());
        FAIL("an existing target was overwritten");
    } catch (const Error& e) {
        CHECK_THAT(e.describe(),
                   Catch::Contains("already holds a state") && Catch::Contains("--force"));
    }
    CHECK(read(target_file) == target_before);
    auto forced =
        statecmd::migrate_state({*from, *codec}, {*to, *codec}, target_file, true, lock_request());
    CHECK(state::load(target_file).machines.count("newer") == 1);
    CHECK_FALSE(forced.at("replaced").is_null());
}

TEST_CASE("state migrate waits for nobody: a locked source or target stops it") {
    SavedState saved;
    const auto& [dir, file, backend, codec] = saved;
    auto& from = backend;
    auto target_file = dir / "new.json";
    auto to = statestore::file_backend(target_file);
    auto held = statestore::file_backend(target_file)->lock(lock_request());
    CHECK_THROWS_AS(
        statecmd::migrate_state({*from, *codec}, {*to, *codec}, target_file, false, lock_request()),
        Error);
    CHECK_FALSE(std::filesystem::exists(target_file));
}

TEST_CASE("state unlock on a local file says plainly that it does not apply") {
    TempDir dir("fedi-statecmd");
    auto backend = statestore::file_backend(dir / "state.json");
    std::vector<std::string> asked;
    try {
        statecmd::unlock_state(*backend, "abc123", answer(true, &asked));
        FAIL("a file backend's unlock did not refuse");
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::Usage);
        CHECK_THAT(e.describe(), Catch::Contains("freed when its process ends"));
    }
    CHECK(asked.empty());
}

TEST_CASE("state unlock names the holder, asks, and breaks only what was confirmed") {
    MemoryBackend backend;
    auto holder = statestore::this_process("fedi deploy --on web", "deployment");
    holder.host = "ci-runner-3";
    backend.held.push_back(holder);
    std::vector<std::string> asked;
    CHECK_THROWS_AS(statecmd::unlock_state(backend, holder.id, answer(false, &asked)), Error);
    REQUIRE(asked.size() == 1);
    CHECK_THAT(asked[0], Catch::Contains("ci-runner-3") && Catch::Contains("fedi deploy --on web"));
    CHECK(backend.locks().size() == 1);

    auto broken = statecmd::unlock_state(backend, holder.id, answer(true));
    CHECK(backend.locks().empty());
    CHECK(broken.at("unlocked").at("host") == "ci-runner-3");
    // An id nobody holds is an error, not a silent success.
    CHECK_THROWS_WITH(statecmd::unlock_state(backend, "nosuchid", answer(true)),
                      Catch::Contains("no lock nosuchid"));
}

TEST_CASE("state history lists versions newest first, and a local file says it keeps none") {
    MemoryBackend backend;
    backend.versions = {"{}", "{}"};
    auto history = statecmd::state_history(backend);
    REQUIRE(history.at("versions").size() == 2);
    CHECK(history.at("versions").at(0).at("version") == "2");
    CHECK(history.at("versions").at(0).at("written_by") == "ci@runner: fedi deploy");

    TempDir dir("fedi-statecmd");
    auto file = statestore::file_backend(dir / "state.json");
    auto none = statecmd::state_history(*file);
    CHECK(none.at("versions").empty());
    CHECK_THAT(statecmd::render_state_result(statecmd::StateAction::History, none),
               Catch::Contains("keeps no history"));
}

TEST_CASE("state locks lists each holder") {
    MemoryBackend backend;
    backend.held.push_back(statestore::this_process("fedi deploy", "machine web"));
    auto locks = statecmd::state_locks(backend);
    REQUIRE(locks.at("locks").size() == 1);
    CHECK(locks.at("locks").at(0).at("scope") == "machine web");
    CHECK_THAT(statecmd::render_state_result(statecmd::StateAction::Locks, locks),
               Catch::Contains("machine web"));
}

TEST_CASE("state pull --at writes an earlier version, and names one that does not exist") {
    MemoryBackend backend;
    backend.versions = {"{\"version\": 1, \"machines\": {\"old\": {}}}", "{}"};
    TempDir dir("fedi-statecmd");
    auto pulled = statecmd::pull_state(backend, dir / "old.json", std::string("1"));
    CHECK(pulled.at("version") == "1");
    CHECK(state::load(dir / "old.json").machines.count("old") == 1);
    CHECK_THROWS_WITH(statecmd::pull_state(backend, dir / "x.json", std::string("7")),
                      Catch::Contains("no version 7"));
    CHECK_FALSE(std::filesystem::exists(dir / "x.json"));
}
