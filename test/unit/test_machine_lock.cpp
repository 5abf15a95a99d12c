// The machine's lock: lock.sh run here on scratch paths standing in for the machine's
// (with the real flock), and how fedi reads what it prints.
#include "core/process.hpp"
#include "host/machine_lock.hpp"
#include "host/remote_scripts.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace fedi;
using namespace fedi::host;

namespace {

struct Machine {
    std::filesystem::path top;
    ScriptPaths paths;
    Machine() {
        char tmpl[] = "/tmp/fedi-machine-lock-XXXXXX";
        top = mkdtemp(tmpl);
        paths.runtime_dir = (top / "activations").string();
        paths.lock_file = (top / "lock").string();
    }
    ~Machine() { std::filesystem::remove_all(top); }

    // lock.sh with `timeout`, after `before` (shell run first, in the same shell: it
    // may hold locks in the background); stdin ends after the record, so the lock is let
    // go at once.
    ProcessResult lock(int timeout, const std::string& before = "") const {
        ProcessOptions o;
        o.stdin_data = lock_holder_input(me());
        std::string script = before + "\nset -- " + std::to_string(timeout) + "\n" +
                             remote_script(RemoteScript::Lock, paths);
        return run_process({"sh", "-c", script}, o);
    }
    std::string file(const std::string& name) const {
        std::ifstream in(top / name);
        std::stringstream s;
        s << in.rdbuf();
        return s.str();
    }
    static LockHolderRecord me() {
        return {"deployer-1", "ci", 4242, "fedi deploy --on web", "2026-12-07T09:00:00Z", 0, ""};
    }
};

LockAnswer answer_of(const std::string& out) {
    LockAnswer a;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);)
        if (!a.read(line))
            break;
    return a;
}

} // namespace

TEST_CASE("machine lock: the holder's record, one line per field") {
    auto me = Machine::me();
    me.command = "fedi deploy\nkeeper=1";
    CHECK(lock_holder_input(me) == "host=deployer-1\nuser=ci\npid=4242\ncommand=fedi deploy "
                                   "keeper=1\nsince=2026-12-07T09:00:00Z\n\n");
    me.command = "fedi deploy keeper=1";
    me.activation = "A1";
    CHECK(describe_lock_holder(me) ==
          "fedi pid 4242 on deployer-1 (user ci), `fedi deploy keeper=1`, since "
          "2026-12-07T09:00:00Z, activation A1");
    CHECK(describe_lock_holder(LockHolderRecord{}) == "a fedi");
}

TEST_CASE("machine lock: lock.sh's answers, read") {
    auto a = answer_of("holder host=h\nholder user=u\nholder pid=7\nholder command=fedi deploy\n"
                       "holder since=S\nholder keeper=99\nholder activation=X\nheld\ntimeout\n");
    REQUIRE(a.held_by());
    CHECK(a.held_by()->host == "h");
    CHECK(a.held_by()->pid == 7);
    CHECK(a.held_by()->keeper == 99);
    CHECK(a.held_by()->activation == "X");
    CHECK(a.timed_out());
    CHECK_FALSE(a.locked());

    auto b = answer_of("holder host=old\nholder pid=x1\nstale\nlocked 12\n"
                       "activation A1 host=h2\nactivation A1 system=/nix/store/s\n"
                       "activation A1 goal=switch\nactivation A1 activation-pid=55\n"
                       "activation A1 reverts-in=-3\nactivation B2 goal=test\nready\nignored\n");
    REQUIRE(b.stale());
    CHECK(b.stale()->host == "old");
    CHECK(b.stale()->pid == 0); // not a number
    CHECK(b.locked());
    CHECK(b.keeper() == 12);
    CHECK(b.ready());
    REQUIRE(b.running().size() == 2);
    CHECK(b.running()[0].id == "A1");
    CHECK(b.running()[0].system == "/nix/store/s");
    CHECK(b.running()[0].pid == 55);
    CHECK(b.running()[0].reverts_in == -3);
    CHECK(b.running()[0].started_by.host == "h2");
    CHECK(b.running()[1].id == "B2");
    CHECK_FALSE(b.running()[1].reverts_in);
}

TEST_CASE("machine lock: lock.sh takes a free lock, writes the record and clears it") {
    Machine m;
    auto r = m.lock(0);
    REQUIRE(r.exit_code == 0);
    auto a = answer_of(r.out);
    CHECK(a.locked());
    CHECK(a.ready());
    CHECK_FALSE(a.held_by());
    CHECK_FALSE(a.stale());
    CHECK(a.running().empty());
    CHECK(m.file("lock").empty()); // let go cleanly: nothing stale left
}

TEST_CASE("machine lock: a held lock names its holder; with no timeout it fails at once") {
    Machine m;
    std::ofstream(m.top / "lock") << "host=other\nuser=op\npid=1\nsince=T\nkeeper=5\n";
    auto lock = (m.top / "lock").string();
    auto r = m.lock(0, "flock -n '" + lock + "' sleep 3 >/dev/null 2>&1 & sleep 0.3");
    CHECK(r.exit_code == 1);
    auto a = answer_of(r.out);
    REQUIRE(a.held_by());
    CHECK(a.held_by()->host == "other");
    CHECK(a.timed_out());
    // Waiting: it gets it once the holder lets go.
    auto waited = m.lock(10, "flock -n '" + lock + "' sleep 1 >/dev/null 2>&1 & sleep 0.3");
    CHECK(waited.exit_code == 0);
    CHECK(answer_of(waited.out).locked());
}

TEST_CASE("machine lock: a record nobody holds is stale and taken over") {
    Machine m;
    std::ofstream(m.top / "lock") << "host=gone\npid=9\nkeeper=77\n";
    auto a = answer_of(m.lock(0).out);
    REQUIRE(a.stale());
    CHECK(a.stale()->host == "gone");
    CHECK(a.stale()->keeper == 77);
    CHECK(a.locked());
}

TEST_CASE("machine lock: activations still holding their own lock are listed") {
    Machine m;
    std::filesystem::create_directories(m.paths.runtime_dir);
    auto run = std::filesystem::path(m.paths.runtime_dir);
    std::ofstream(run / "A1.lock") << "host=h\nsystem=/nix/store/a\ngoal=switch\n";
    std::ofstream(run / "A1.waiting") << std::time(nullptr) + 30 << "\n";
    std::ofstream(run / "B2.lock") << "system=/nix/store/b\n"; // not held: ended or died
    auto a = answer_of(m.lock(0, "flock -n '" + (run / "A1.lock").string() +
                                     "' sleep 3 >/dev/null 2>&1 & sleep 0.3")
                           .out);
    REQUIRE(a.running().size() == 1);
    CHECK(a.running()[0].id == "A1");
    CHECK(a.running()[0].system == "/nix/store/a");
    REQUIRE(a.running()[0].reverts_in);
    CHECK(*a.running()[0].reverts_in > 25);
}
