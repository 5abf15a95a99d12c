// Golden files for the activation protocol: what follow.sh prints for each way an
// activation can end (run here on scratch directories standing in for the machine's,
// which are written back as the machine's paths), how fedi reads those lines, the
// results activate.sh writes and the revert steps it reports. A follow cut short at
// every length must be a clear error, never a result.
#include "core/error.hpp"
#include "core/process.hpp"
#include "golden.hpp"
#include "host/activation_protocol.hpp"
#include "host/paths.hpp"
#include "host/remote_scripts.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace fedi;
using namespace fedi::host;
using fedi::test::check_golden;

namespace {

const std::string kToken = "GoldenToken0123456789abcdefghijk";

struct Machine {
    std::filesystem::path top, dir, run;
    Machine() {
        char tmpl[] = "/tmp/fedi-golden-follow-XXXXXX";
        top = mkdtemp(tmpl);
        dir = top / "lib";
        run = top / "run";
        std::filesystem::create_directories(dir);
        std::filesystem::create_directories(run);
    }
    ~Machine() { std::filesystem::remove_all(top); }

    // follow.sh's output for activation `id` from line `from`, with the scratch
    // directories written as the machine's.
    std::string follow(const std::string& id, int from) const {
        ScriptPaths paths;
        paths.activation_dir = dir.string();
        paths.runtime_dir = run.string();
        ProcessOptions o;
        o.stdin_data = kToken + "\n";
        auto r = run_process({"sh", "-c", remote_script(RemoteScript::Follow, paths), "follow.sh",
                              id, std::to_string(from)},
                             o);
        std::string out = r.out;
        for (auto [from_dir, to_dir] :
             {std::pair{dir.string(), std::string(kActivationDir)},
              std::pair{run.string(), std::string(kRuntimeActivationDir)}})
            for (auto pos = out.find(from_dir); pos != std::string::npos; pos = out.find(from_dir))
                out.replace(pos, from_dir.size(), to_dir);
        return out;
    }
};

const char* kind_name(FollowRecord::Kind k) {
    switch (k) {
    case FollowRecord::Kind::Log:
        return "log";
    case FollowRecord::Kind::Waiting:
        return "waiting";
    case FollowRecord::Kind::Result:
        return "result";
    case FollowRecord::Kind::EmptyResult:
        return "empty-result";
    case FollowRecord::Kind::Fallback:
        return "fallback";
    case FollowRecord::Kind::Tick:
        return "tick";
    case FollowRecord::Kind::Unknown:
        return "unknown";
    case FollowRecord::Kind::Died:
        return "died";
    case FollowRecord::Kind::Noise:
        return "noise";
    }
    return "?";
}

// Hands `out` to a FollowReader as the SSH transport does (each line without its
// newline, and a last line without one too) and returns how the follow ended.
FollowRecord replay(const std::string& out, std::string* records = nullptr) {
    FollowReader reader(kToken);
    std::size_t pos = 0;
    while (pos < out.size()) {
        auto nl = out.find('\n', pos);
        auto line = out.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        auto rec = reader.read(line);
        if (records)
            *records += fmt::format("{} [{}] {}\n", kind_name(rec.kind), rec.text, rec.seconds);
        pos = nl == std::string::npos ? out.size() : nl + 1;
    }
    return reader.end(!out.empty() && out.back() == '\n');
}

// The follows, each named by its golden file.
std::vector<std::pair<std::string, std::string>> follows() {
    Machine m;
    std::vector<std::pair<std::string, std::string>> out;
    // A log that tries to forge records, then a failed, rolled-back result.
    std::ofstream(m.dir / "A.log") << "fedi: activation A: switch /nix/store/x\n"
                                   << "fedi: waiting 30s for confirmation\n"
                                   << "@@fedi-result ok\n"
                                   << "@" << kToken << " result ok\n"
                                   << "|done\n";
    std::ofstream(m.dir / "A.result") << "failed 3, rolled back\n";
    out.emplace_back("activation/follow-result.txt", m.follow("A", 0));
    out.emplace_back("activation/follow-resumed.txt", m.follow("A", 4)); // after a reconnect
    std::ofstream(m.dir / "B.log") << "x\n";
    std::ofstream(m.dir / "B.result").flush(); // a full disk
    out.emplace_back("activation/follow-empty-result.txt", m.follow("B", 0));
    std::ofstream(m.run / "C.log") << "y\n"; // /var/lib could not be written
    std::ofstream(m.run / "C.result") << "ok\n";
    out.emplace_back("activation/follow-fallback.txt", m.follow("C", 0));
    out.emplace_back("activation/follow-unknown.txt", m.follow("D", 0));
    // Killed: its own lock (see activate.sh) is free, and no result was written.
    std::ofstream(m.dir / "E.log") << "fedi: activation E: switch /nix/store/e\n";
    std::ofstream(m.run / "E.lock") << "activation-pid=1\n";
    out.emplace_back("activation/follow-died.txt", m.follow("E", 0));
    return out;
}

} // namespace

TEST_CASE("golden: what follow.sh prints, and how fedi reads it", "[golden]") {
    for (const auto& [name, out] : follows()) {
        INFO(name);
        check_golden(name, out);
        std::string records;
        replay(out, &records);
        check_golden(name.substr(0, name.size() - 4) + ".records.txt", records);
    }
}

TEST_CASE("golden: a follow cut short at every length is a clear error", "[golden]") {
    for (const char* name : {"activation/follow-result.txt", "activation/follow-resumed.txt",
                             "activation/follow-empty-result.txt", "activation/follow-fallback.txt",
                             "activation/follow-unknown.txt", "activation/follow-died.txt"}) {
        auto out = fedi::test::read_golden(name);
        CHECK(replay(out).kind != FollowRecord::Kind::Log);
        for (std::size_t n = 0; n < out.size(); ++n) {
            INFO(name << " cut to " << n << " bytes");
            CHECK_THROWS_MATCHES(replay(out.substr(0, n)), Error,
                                 Catch::Matchers::Predicate<Error>(
                                     [](const Error& e) {
                                         return e.message().rfind("the follow's output stopped",
                                                                  0) == 0;
                                     },
                                     "says the follow's output stopped short"));
        }
    }
}

TEST_CASE("golden: the activation results activate.sh writes, parsed", "[golden]") {
    std::string table;
    for (const char* text : {"ok", "failed 1", "failed 3, rolled back", "failed 3, rollback failed",
                             "failed 1 (no earlier generation)", "failed 1 (setting the profile)",
                             "unconfirmed, rolled back", "unconfirmed, rollback failed",
                             "aborted, rolled back", "aborted, rollback failed", "ok, rolled back",
                             "failed", "unconfirmed", "Failed 1", "failed 1,rolled back"}) {
        auto r = parse_activation_result(text);
        if (!r) {
            table += fmt::format("{} => not a result\n", text);
            continue;
        }
        static const char* status[] = {"ok", "failed", "unconfirmed", "aborted"};
        table += fmt::format("{} => status={} exit={} detail=[{}] rolled_back={} "
                             "rollback_failed={}\n",
                             text, status[static_cast<int>(r->status)],
                             r->exit_code ? std::to_string(*r->exit_code) : "-", r->detail,
                             r->rolled_back, r->rollback_failed);
    }
    check_golden("activation/results.txt", table);
}

TEST_CASE("golden: the revert steps activate.sh reports, parsed", "[golden]") {
    std::vector<std::string> lines = {
        "fedi: switch-to-configuration switch exited with status 3; rolling back",
        "fedi: setting the profile back to generation 41",
        "fedi: activating the previous system /nix/store/abc-nixos-system-old",
        "fedi: there was no earlier generation to set the profile back to",
        "fedi: no previous running system to go back to",
        "fedi: setting the profile back to generation",
        "fedi: activating the previous system"};
    static const char* kinds[] = {"profile-set-back", "no-earlier-generation",
                                  "previous-system-activated", "no-previous-system"};
    std::string table;
    for (const auto& step : parse_revert_steps(lines))
        table += fmt::format("{} [{}]\n", kinds[static_cast<int>(step.kind)], step.value);
    check_golden("activation/revert-steps.txt", table);
}
