// The activation follow protocol: only records carrying this follow's token count; what
// the activated system prints (framed) never becomes a record, whatever it says.
#include "core/error.hpp"
#include "core/process.hpp"
#include "host/activation_protocol.hpp"
#include "host/remote_scripts.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

using fedi::host::FollowRecord;
using fedi::host::parse_follow_line;
using Kind = FollowRecord::Kind;

namespace {
const std::string kToken = "Zq81xTqP0c4mKuB2aY7nRw3sLd9eVf6H";
}

TEST_CASE("follow tokens are long, unguessable and different each time") {
    std::set<std::string> seen;
    for (int i = 0; i < 50; ++i) {
        auto t = fedi::host::new_follow_token();
        REQUIRE(t.size() == 32);
        for (char c : t)
            REQUIRE(std::isalnum(static_cast<unsigned char>(c)));
        seen.insert(t);
    }
    REQUIRE(seen.size() == 50);
}

TEST_CASE("framed log lines are log lines, whatever they say") {
    auto r = parse_follow_line("| activating the configuration", kToken);
    REQUIRE(r.kind == Kind::Log);
    REQUIRE(r.text == "activating the configuration");
    REQUIRE(parse_follow_line("|", kToken).kind == Kind::Log);
    REQUIRE(parse_follow_line("|", kToken).text.empty());
    // A system printing the old in-band forms, or a record with the real token (it cannot
    // know it, but even then): framed, so only a log line.
    for (const std::string& spoof :
         std::vector<std::string>{"fedi: waiting 30s for confirmation", "@@fedi-result ok",
                                  "@" + kToken + " result ok", "@" + kToken + " waiting 30"}) {
        auto s = parse_follow_line("| " + spoof, kToken);
        REQUIRE(s.kind == Kind::Log);
        REQUIRE(s.text == spoof);
    }
}

TEST_CASE("records count only with this follow's token") {
    auto w = parse_follow_line("@" + kToken + " waiting 27", kToken);
    REQUIRE(w.kind == Kind::Waiting);
    REQUIRE(w.seconds == 27);
    auto r = parse_follow_line("@" + kToken + " result failed 1, rolled back", kToken);
    REQUIRE(r.kind == Kind::Result);
    REQUIRE(r.text == "failed 1, rolled back");
    REQUIRE(parse_follow_line("@" + kToken + " tick", kToken).kind == Kind::Tick);
    REQUIRE(parse_follow_line("@" + kToken + " unknown", kToken).kind == Kind::Unknown);
    auto f = parse_follow_line("@" + kToken + " fallback /var/lib/fedi/activations", kToken);
    REQUIRE(f.kind == Kind::Fallback);
    REQUIRE(f.text == "/var/lib/fedi/activations");

    // Unframed output that is no record: the old protocol, a wrong or empty token, a
    // token's prefix, a malformed argument.
    for (const std::string& noise : std::vector<std::string>{
             "fedi: waiting 30s for confirmation", "@@fedi-result ok", "@wrongtoken result ok",
             "@ result ok", ("@" + kToken).substr(0, 32) + " result ok",
             "@" + kToken + "x result ok", "@" + kToken + " waiting soon",
             "@" + kToken + " waiting 30s", "@" + kToken, "@" + kToken + " tick tock",
             "@" + kToken + " reboot", ""}) {
        INFO(noise);
        REQUIRE(parse_follow_line(noise, kToken).kind == Kind::Noise);
    }
    // No token, no records at all.
    REQUIRE(parse_follow_line("@ result ok", "").kind == Kind::Noise);
}

TEST_CASE("an empty result is told apart from a result") {
    REQUIRE(parse_follow_line("@" + kToken + " result", kToken).kind == Kind::EmptyResult);
    auto e = parse_follow_line("@" + kToken + " result-empty /var/lib/fedi/activations/X.result",
                               kToken);
    REQUIRE(e.kind == Kind::EmptyResult);
    REQUIRE(e.text == "/var/lib/fedi/activations/X.result");
}

TEST_CASE("a stalled follow is noticed well inside the confirmation window") {
    using fedi::host::follow_stall_timeout;
    for (int window : {3, 4, 5, 10, 30, 60, 300}) {
        INFO(window);
        // Noticing, reconnecting (a few seconds) and confirming must fit in the window.
        REQUIRE(follow_stall_timeout(window).count() * 3 <= std::max(window, 6));
        REQUIRE(follow_stall_timeout(window).count() >= 2); // a tick is ~1 s apart
    }
    REQUIRE(follow_stall_timeout(0).count() == 10);
}

TEST_CASE("pending confirmations are read from the machine's answer") {
    auto p = fedi::host::parse_pending_confirmations("20261207-1 25\nbad\n20261207-2 -3\n"
                                                     "x 5s\n 5\nold -4000\n20261207-3 7");
    REQUIRE(p.size() == 3);
    REQUIRE(p[0].id == "20261207-1");
    REQUIRE(p[0].seconds_left == 25);
    REQUIRE(p[1].id == "20261207-2"); // reverting now
    REQUIRE(p[1].seconds_left == -3);
    REQUIRE(p[2].id == "20261207-3");
    REQUIRE(p[2].seconds_left == 7);
    REQUIRE(fedi::host::parse_pending_confirmations("").empty());
}

namespace {
// follow.sh run here against directories standing in for the machine's.
std::string follow_script_in(const std::string& dir, const std::string& run) {
    fedi::host::ScriptPaths paths;
    paths.activation_dir = dir;
    paths.runtime_dir = run;
    return fedi::host::remote_script(fedi::host::RemoteScript::Follow, paths);
}
} // namespace

TEST_CASE("follow.sh frames a spoofing log and reports the result file's result") {
    char tmpl[] = "/tmp/fedi-follow-XXXXXX";
    std::string top = mkdtemp(tmpl);
    std::string dir = top + "/lib", run = top + "/run";
    fedi::run_process({"mkdir", "-p", dir, run});
    std::ofstream(dir + "/A.log") << "fedi: activation A: switch /nix/store/x\n"
                                  << "fedi: waiting 30s for confirmation\n"
                                  << "@@fedi-result ok\n"
                                  << "@" << kToken << " result ok\n"
                                  << "done\n";
    std::ofstream(dir + "/A.result") << "failed 3, rolled back\n";
    std::string script = follow_script_in(dir, run);
    fedi::ProcessOptions o;
    o.stdin_data = kToken + "\n";
    auto r = fedi::run_process({"sh", "-c", script, "follow.sh", "A", "0"}, o);
    REQUIRE(r.exit_code == 0);
    std::vector<FollowRecord> records;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);)
        records.push_back(parse_follow_line(line, kToken));
    REQUIRE(records.size() == 6);
    for (int i = 0; i < 5; ++i)
        REQUIRE(records[i].kind == Kind::Log);
    REQUIRE(records[1].text == "fedi: waiting 30s for confirmation");
    REQUIRE(records[5].kind == Kind::Result);
    REQUIRE(records[5].text == "failed 3, rolled back");

    // Picking up after 4 lines (a reconnect) sends only the rest.
    r = fedi::run_process({"sh", "-c", script, "follow.sh", "A", "4"}, o);
    REQUIRE(r.out == "| done\n@" + kToken + " result failed 3, rolled back\n");

    // An empty result file (a full disk) is said to be empty, not taken for a result.
    std::ofstream(dir + "/B.log") << "x\n";
    std::ofstream(dir + "/B.result").flush();
    r = fedi::run_process({"sh", "-c", script, "follow.sh", "B", "1"}, o);
    REQUIRE(parse_follow_line(r.out.substr(0, r.out.size() - 1), kToken).kind == Kind::EmptyResult);

    // The log under the runtime directory (the state directory was full): said so.
    std::ofstream(run + "/C.log") << "y\n";
    std::ofstream(run + "/C.result") << "ok\n";
    r = fedi::run_process({"sh", "-c", script, "follow.sh", "C", "0"}, o);
    REQUIRE(r.out == "@" + kToken + " fallback " + dir + "\n| y\n@" + kToken + " result ok\n");

    // A waiting activation: the seconds left until it reverts, from ID.waiting.
    std::ofstream(dir + "/D.log") << "z\n";
    std::ofstream(run + "/D.waiting") << std::time(nullptr) + 40 << "\n";
    std::thread finisher([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(1600));
        std::ofstream(dir + "/D.result") << "ok\n";
    });
    r = fedi::run_process({"sh", "-c", script, "follow.sh", "D", "0"}, o);
    finisher.join();
    std::vector<Kind> kinds;
    long left = -1;
    lines = std::istringstream(r.out);
    for (std::string line; std::getline(lines, line);) {
        auto rec = parse_follow_line(line, kToken);
        kinds.push_back(rec.kind);
        if (rec.kind == Kind::Waiting)
            left = rec.seconds;
    }
    INFO(r.out);
    REQUIRE(std::count(kinds.begin(), kinds.end(), Kind::Waiting) == 1);
    REQUIRE(left >= 37);
    REQUIRE(left <= 40);
    REQUIRE(std::count(kinds.begin(), kinds.end(), Kind::Tick) >= 1);
    REQUIRE(kinds.back() == Kind::Result);
    REQUIRE(std::count(kinds.begin(), kinds.end(), Kind::Noise) == 0);
    fedi::run_process({"rm", "-rf", top});
}

TEST_CASE("activation results are parsed in one place") {
    using fedi::host::parse_activation_result;
    using Status = fedi::host::ActivationResult::Status;
    auto ok = parse_activation_result("ok");
    REQUIRE(ok);
    CHECK(ok->ok());
    CHECK(!ok->rolled_back);
    CHECK(!ok->exit_code);

    auto failed = parse_activation_result("failed 12, rolled back");
    REQUIRE(failed);
    CHECK(failed->status == Status::Failed);
    CHECK(failed->exit_code == 12);
    CHECK(failed->rolled_back);
    CHECK(!failed->rollback_failed);
    CHECK(failed->text == "failed 12, rolled back");

    auto profile = parse_activation_result("failed 1 (setting the profile)");
    REQUIRE(profile);
    CHECK(profile->exit_code == 1);
    CHECK(profile->detail == "setting the profile");
    CHECK(!profile->rolled_back);

    auto unconfirmed = parse_activation_result("unconfirmed, rollback failed");
    REQUIRE(unconfirmed);
    CHECK(unconfirmed->status == Status::Unconfirmed);
    CHECK(unconfirmed->rollback_failed);
    CHECK(!unconfirmed->rolled_back);
    CHECK(parse_activation_result("aborted, rolled back")->status == Status::Aborted);

    for (const char* bad :
         {"", "OK", "ok, rolled back", "unconfirmed", "aborted", "failed", "failed ", "failed x",
          "failed 1x", "failed -1", "failed 256", "failed 1 setting the profile",
          "failed 1, rolled back, rolled back", "failed 1, ", "fail 1", " ok", "ok\n"}) {
        INFO(bad);
        CHECK(!parse_activation_result(bad));
    }
}

TEST_CASE("the revert steps activate.sh prints are read as typed steps") {
    using Kind = fedi::host::RevertStep::Kind;
    auto steps = fedi::host::parse_revert_steps(
        {"fedi: switch-to-configuration switch exited with status 3; rolling back",
         "fedi: setting the profile back to generation 41",
         "fedi: activating the previous system /nix/store/abc-old", "| not ours",
         "fedi: there was no earlier generation to set the profile back to",
         "fedi: no previous running system to go back to"});
    REQUIRE(steps.size() == 4);
    CHECK(steps[0].kind == Kind::ProfileSetBack);
    CHECK(steps[0].value == "41");
    CHECK(steps[1].kind == Kind::PreviousSystemActivated);
    CHECK(steps[1].value == "/nix/store/abc-old");
    CHECK(steps[2].kind == Kind::NoEarlierGeneration);
    CHECK(steps[3].kind == Kind::NoPreviousSystem);
    // The parser reads what activate.sh prints: the same words are in the script.
    std::string script(fedi::host::embedded_script_text(fedi::host::RemoteScript::Activate));
    for (const char* said : {"echo \"fedi: setting the profile back to generation $gen\"",
                             "echo \"fedi: there was no earlier generation",
                             "echo \"fedi: activating the previous system $prev_current\"",
                             "echo \"fedi: no previous running system"}) {
        INFO(said);
        CHECK(script.find(said) != std::string::npos);
    }
}

TEST_CASE("a follow ends with its result only when the result line is whole") {
    using fedi::host::FollowReader;
    FollowReader whole(kToken);
    whole.read("| switching");
    whole.read("@" + kToken + " result failed 12, rolled back");
    CHECK(whole.end(true).text == "failed 12, rolled back");

    FollowReader cut(kToken);
    cut.read("| switching");
    cut.read("@" + kToken + " result failed 1"); // "failed 12, ..." cut short
    CHECK_THROWS_WITH(cut.end(false), Catch::Contains("stopped in the middle of a line") &&
                                          Catch::Contains("after 1 log line(s)"));

    FollowReader none(kToken);
    none.read("| switching");
    CHECK_THROWS_WITH(none.end(true), Catch::Contains("stopped after 1 log line(s), before the "
                                                      "activation's result"));
    CHECK_THROWS_AS(FollowReader(kToken).end(false), fedi::Error);
}
