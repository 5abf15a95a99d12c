// The command lines fedi runs on machines, to the exact string (as deploy-rs tests its
// command builders), and the scripts of resources/host/ as the binary embeds them.
#include "core/error.hpp"
#include "core/process.hpp"
#include "host/activation_protocol.hpp"
#include "host/paths.hpp"
#include "host/remote_commands.hpp"
#include "host/remote_scripts.hpp"
#include "host/secrets.hpp"

#include <catch2/catch.hpp>
#include <ctime>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

using namespace fedi::host;

TEST_CASE("remote commands: installing a script") {
    CHECK(installed_script_path("activate.sh", "x") ==
          fmt::format("/var/lib/fedi/bin/activate-{:016x}.sh", std::hash<std::string>{}("x")));
    CHECK(installed_script_path("follow.sh", "x") !=
          installed_script_path("follow.sh", "y")); // content-addressed
    CHECK(install_script_command("/var/lib/fedi/bin/follow-00000000000000ab.sh") ==
          "test -e /var/lib/fedi/bin/follow-00000000000000ab.sh || { umask 077; mkdir -p "
          "/var/lib/fedi/bin /var/lib/fedi/activations && cat > "
          "/var/lib/fedi/bin/follow-00000000000000ab.sh.tmp.$$ && mv -f "
          "/var/lib/fedi/bin/follow-00000000000000ab.sh.tmp.$$ "
          "/var/lib/fedi/bin/follow-00000000000000ab.sh; }");
}

TEST_CASE("remote commands: starting an activation detached") {
    ActivationCommand a;
    a.script = "/var/lib/fedi/bin/activate-1.sh";
    a.id = "2026-12-07T05:00:00Z-42-0";
    a.system = "/nix/store/abc-nixos-system";
    a.goal = "switch";
    a.rollback = true;
    a.confirm_seconds = 30;
    const std::string args = "/var/lib/fedi/bin/activate-1.sh 2026-12-07T05:00:00Z-42-0 "
                             "/nix/store/abc-nixos-system switch 1 30";
    CHECK(start_activation_command(a) ==
          "if [ -d /run/systemd/system ] && command -v systemd-run >/dev/null; then "
          "systemd-run --quiet --collect --unit=fedi-activate-2026-12-07T05:00:00Z-42-0 sh " +
              args + "; else setsid -f sh " + args + " </dev/null >/dev/null 2>&1; fi");
    a.system = "-";
    a.goal = "rollback";
    a.rollback = false;
    a.confirm_seconds = 0;
    CHECK_THAT(start_activation_command(a),
               Catch::Contains("sh /var/lib/fedi/bin/activate-1.sh 2026-12-07T05:00:00Z-42-0 - "
                               "rollback 0 0;"));
    // Words the shell would split are quoted.
    a.system = "/nix/store/x y";
    CHECK_THAT(start_activation_command(a), Catch::Contains(" '/nix/store/x y' rollback 0 0"));
}

TEST_CASE("remote commands: following, confirming and aborting an activation") {
    CHECK(follow_command("/var/lib/fedi/bin/follow-1.sh", "A-1", 12) ==
          "sh /var/lib/fedi/bin/follow-1.sh A-1 12");
    CHECK(confirm_command("A-1") == "touch /run/fedi/activations/A-1.confirm");
    CHECK(abort_command("A-1") == "cat > /run/fedi/activations/A-1.abort");
}

TEST_CASE("remote commands: status, disk usage, secrets, pruning") {
    CHECK(system_status_command() ==
          "echo \"profile=$(readlink -f /nix/var/nix/profiles/system 2>/dev/null)\"; "
          "echo \"link=$(readlink /nix/var/nix/profiles/system 2>/dev/null)\"; "
          "echo \"current=$(readlink -f /run/current-system 2>/dev/null)\"");
    CHECK(disk_usage_command() == "df -P /var/lib /run 2>/dev/null | awk 'NR > 1 "
                                  "{ printf \"%s%s %s in use\", sep, $6, $5; sep = \", \" }'");
    CHECK(secret_list_command() ==
          "[ -d /var/lib/fedi/secrets ] || exit 0; for f in /var/lib/fedi/secrets/*; do "
          "[ -f \"$f\" ] && stat -c '%U %G %a %n' -- \"$f\"; done; exit 0");
    const std::string sync = remote_script(RemoteScript::SecretsSync);
    CHECK(secret_sync_command(true) == sync);
    CHECK(secret_sync_command(false) == "[ -d /var/lib/fedi/secrets ] || exit 0\n" + sync);
    CHECK(secret_sync_script() == sync);
}

namespace {
std::string file_text(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}
} // namespace

TEST_CASE("remote scripts: every file of resources/host is embedded as it is") {
    std::filesystem::path dir = std::string(FEDI_TEST_DIR) + "/../resources/host";
    std::set<std::string> on_disk, known;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        on_disk.insert(e.path().filename().string());
    for (auto s : all_remote_scripts()) {
        known.insert(std::string(file_name(s)));
        INFO(file_name(s));
        CHECK(embedded_script_text(s) == file_text(dir / file_name(s)));
    }
    CHECK(known == on_disk);
}

TEST_CASE("remote scripts: every placeholder is filled in from the C++ constants") {
    static const std::regex leftover("@[A-Z_]+@");
    for (auto s : all_remote_scripts()) {
        INFO(file_name(s));
        auto text = remote_script(s);
        CHECK(!std::regex_search(text, leftover));
    }
    // The paths the scripts use are the constants (spelt out nowhere else).
    auto activate = remote_script(RemoteScript::Activate);
    CHECK_THAT(activate, Catch::Contains(std::string("state_dir=") + kActivationDir + "\n") &&
                             Catch::Contains(std::string("run=") + kRuntimeActivationDir + "\n") &&
                             Catch::Contains(std::string("profile=") + kSystemProfile + "\n") &&
                             Catch::Contains(std::string("readlink -e ") + kCurrentSystem));
    for (auto s : all_remote_scripts())
        CHECK(embedded_script_text(s).find("/var/lib/fedi") == std::string::npos);
    // A value the shell would split is one quoted word.
    ScriptPaths paths;
    paths.secrets_dir = "/tmp/a b";
    CHECK_THAT(remote_script(RemoteScript::SecretsSync, paths),
               Catch::Contains("dir='/tmp/a b'\n"));
}

namespace {
// A scratch directory removed at the end.
struct Scratch {
    std::filesystem::path path;
    Scratch() {
        char tmpl[] = "/tmp/fedi-remote-scripts-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~Scratch() { std::filesystem::remove_all(path); }
};
std::string run_sh(const std::string& script) {
    auto r = fedi::run_process({"sh", "-c", script});
    REQUIRE(r.exit_code == 0);
    return r.out;
}
} // namespace

TEST_CASE("remote scripts: pending-confirmations.sh lists the waiting activations") {
    Scratch dir;
    ScriptPaths paths;
    paths.runtime_dir = dir.path.string();
    CHECK(run_sh(remote_script(RemoteScript::PendingConfirmations, paths)).empty());
    auto now = std::time(nullptr);
    std::ofstream(dir.path / "A.waiting") << now + 100 << "\n";
    std::ofstream(dir.path / "B.waiting") << "soon\n"; // not a time: left out
    std::ofstream(dir.path / "C.waiting").flush();     // empty: left out
    auto pending = parse_pending_confirmations(
        run_sh(remote_script(RemoteScript::PendingConfirmations, paths)));
    REQUIRE(pending.size() == 1);
    CHECK(pending[0].id == "A");
    CHECK(pending[0].seconds_left >= 98);
    CHECK(pending[0].seconds_left <= 100);
}

TEST_CASE("remote commands: the machine's status and its waiting activations in one command") {
    Scratch dir;
    ScriptPaths paths;
    paths.runtime_dir = dir.path.string();
    std::ofstream(dir.path / "A.waiting") << std::time(nullptr) + 100 << "\n";
    const auto script = remote_script(RemoteScript::PendingConfirmations, paths);
    auto out = split_machine_status(run_sh(machine_status_command(script)));
    // The same lines as each command on its own (the script's `exit 0` ends only its part).
    CHECK(out.status == run_sh(system_status_command()));
    CHECK(out.pending == run_sh(script));
    auto pending = parse_pending_confirmations(out.pending);
    REQUIRE(pending.size() == 1);
    CHECK(pending[0].id == "A");
    // The exit status is the script's.
    CHECK(fedi::run_process({"sh", "-c", machine_status_command("exit 3")}).exit_code == 3);
    CHECK_THROWS_WITH(split_machine_status("profile=\nlink=\ncurrent=\n"),
                      Catch::Contains("lacks the line"));
}

TEST_CASE("remote scripts: prune-list.sh lists generations and activations") {
    Scratch dir;
    auto profiles = dir.path / "profiles", act = dir.path / "act", run = dir.path / "run";
    for (const auto& d : {profiles, act, run, dir.path / "sys1", dir.path / "sys2"})
        std::filesystem::create_directories(d);
    std::filesystem::create_directory_symlink(dir.path / "sys1", profiles / "system-1-link");
    std::filesystem::create_directory_symlink(dir.path / "sys2", profiles / "system-2-link");
    std::filesystem::create_symlink("system-2-link", profiles / "system");
    std::ofstream(act / "2026-01-01T00:00:01Z-10-0.log").flush();
    std::ofstream(act / "2026-01-01T00:00:01Z-10-0.result") << "ok\n";
    std::ofstream(run / "2026-01-02T00:00:01Z-11-0.log").flush();
    ScriptPaths paths;
    paths.profiles_dir = profiles.string();
    paths.activation_dir = act.string();
    paths.runtime_dir = run.string();
    paths.current_system = (dir.path / "sys2").string();
    paths.booted_system = (dir.path / "missing").string();
    auto out = run_sh(remote_script(RemoteScript::PruneList, paths));
    auto real = [&](const char* d) { return std::filesystem::canonical(dir.path / d).string(); };
    CHECK(out == "profile system-2-link\n"
                 "gen system-1-link " +
                     real("sys1") +
                     "\n"
                     "gen system-2-link " +
                     real("sys2") +
                     "\n"
                     "running " +
                     real("sys2") +
                     "\n"
                     "booted \n"
                     "act done " +
                     act.string() +
                     " 2026-01-01T00:00:01Z-10-0\n"
                     "act running " +
                     run.string() + " 2026-01-02T00:00:01Z-11-0\n");
}
