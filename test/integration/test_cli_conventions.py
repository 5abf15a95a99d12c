"""CLI conventions: global options before or after the subcommand, words after `--` for
`fedi exec`, `--version`, "did you mean", readable option errors and shell completion.
Runs the real binary; `fedi exec` runs against a real sshd test host."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import fedi_testlib as lib

NOT_EXPECTED = "not expected"


class CliConventionsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="fedi-cli-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        cls.env = lib.isolated_env(cls.dir)
        host = {"name": "web", "host": "127.0.0.1", "port": 1, "user": "root",
                "hostKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"}
        lib.write_file(os.path.join(cls.dir, "deployment.nix"),
                       lib.render_deployment({"web": lib.machine(host, system=lib.system_expr("web"))}))

    def fedi(self, *args, cwd=None):
        return lib.run_fedi(list(args), cwd=cwd or self.dir, env=self.env)

    def assertParsed(self, r):
        """The command line was accepted (whatever the command then did)."""
        self.assertNotIn(NOT_EXPECTED, r.stderr)
        self.assertNotIn("--help", r.stderr)

    # ---- global options after the subcommand ----

    def test_global_flags_after_the_subcommand_mean_the_same_as_before(self):
        before = self.fedi("--json", "status", "--offline")
        after = self.fedi("status", "--offline", "--json")
        self.assertEqual(before.returncode, 0, before.stderr)
        self.assertEqual(after.returncode, 0, after.stderr)
        self.assertEqual(before.stdout, after.stdout)
        self.assertEqual([m["name"] for m in json.loads(after.stdout)["machines"]], ["web"])

    def test_quiet_and_file_after_the_subcommand(self):
        other = os.path.join(self.dir, "other")
        os.makedirs(other, exist_ok=True)
        r = self.fedi("eval", "-q", "-f", os.path.join(self.dir, "deployment.nix"), cwd=other)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('"web"', r.stdout)

    def test_yes_after_nested_subcommands_reaches_the_command(self):
        # Without --yes and without a terminal these ask for --yes; with it they get as
        # far as the thing they name, which does not exist.
        r = self.fedi("provision", "--destroy", "nosuch", "--yes")
        self.assertParsed(r)
        self.assertNotIn("pass --yes", r.stderr)
        self.assertIn("nosuch", r.stderr)
        r = self.fedi("account", "delete", "nosuch", "--yes")
        self.assertParsed(r)
        self.assertNotIn("pass --yes", r.stderr)
        self.assertIn("nosuch", r.stderr)
        r = self.fedi("account", "delete", "nosuch")
        self.assertIn("pass --yes", r.stderr)

    def test_json_after_a_nested_subcommand(self):
        r = self.fedi("bucket", "list", "--json")
        self.assertParsed(r)
        self.assertEqual(r.returncode, 2, r.stderr)  # no storage declared: a usage error

    # ---- --version ----

    def test_version_names_fedi_its_commit_and_nix(self):
        r = self.fedi("--version")
        self.assertEqual(r.returncode, 0, r.stderr)
        first, second = r.stdout.splitlines()
        self.assertRegex(first, r"^fedi \d+\.\d+\.\d+ \(commit \S+\)$")
        nix = subprocess.run(["nix", "--version"], capture_output=True, text=True).stdout
        self.assertEqual(second, nix.splitlines()[0])

    def test_version_says_when_nix_is_not_found(self):
        env = dict(self.env, PATH="/nonexistent")
        r = subprocess.run([os.environ["FEDI_BIN"], "--version"], env=env, capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines()[1], "nix: not found on PATH")

    # ---- did you mean ----

    def test_mistyped_subcommand_gets_a_suggestion(self):
        r = self.fedi("deplyo")
        self.assertEqual(r.returncode, 2)
        self.assertIn("'deplyo' is not a subcommand of `fedi`; did you mean 'deploy'?", r.stderr)
        r = self.fedi("account", "lsit")
        self.assertIn("did you mean 'list'?", r.stderr)
        r = self.fedi("bucket", "key", "craete", "b", "k")
        self.assertIn("did you mean 'create'?", r.stderr)

    def test_unlike_subcommand_lists_the_subcommands(self):
        r = self.fedi("zzzzzz")
        self.assertEqual(r.returncode, 2)
        self.assertNotIn("did you mean", r.stderr)
        self.assertRegex(r.stderr, r"it has: deploy, plan, eval, status")

    def test_missing_subcommand_lists_the_subcommands(self):
        r = self.fedi()
        self.assertEqual(r.returncode, 2)
        self.assertIn("`fedi` needs a subcommand: deploy, plan, eval, status", r.stderr)
        r = self.fedi("bucket", "key")
        self.assertIn("`fedi bucket key` needs a subcommand: list, create, delete", r.stderr)

    def test_mistyped_option_gets_a_suggestion(self):
        r = self.fedi("deploy", "--paralel", "3")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown option '--paralel' for `fedi deploy`; did you mean '--parallel'?",
                      r.stderr)
        r = self.fedi("status", "--jsno")  # a global option, after the subcommand
        self.assertIn("did you mean '--json'?", r.stderr)

    # ---- readable option errors ----

    def test_mistyped_value_gets_a_suggestion(self):
        r = self.fedi("deploy", "--goal", "swtich")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--goal: must be one of build, push, switch, boot, test, dry-activate, "
                      "not 'swtich'; did you mean 'switch'?", r.stderr)
        r = self.fedi("status", "--color", "nevr")
        self.assertIn("did you mean 'never'?", r.stderr)

    def test_range_errors_name_the_option_and_the_bound(self):
        r = self.fedi("deploy", "--parallel", "0")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--parallel: must be at least 1, not 0", r.stderr)
        self.assertNotIn("179769", r.stderr)
        r = self.fedi("exec", "--parallel", "many", "--", "true")
        self.assertIn("--parallel: must be a whole number, not 'many'", r.stderr)
        r = self.fedi("deploy", "--confirm-timeout", "-1")
        self.assertIn("--confirm-timeout: must be at least 0, not -1", r.stderr)

    def test_empty_file_names_are_refused_by_name(self):
        for args in (["-f", "", "eval"], ["eval", "--state", ""]):
            r = self.fedi(*args)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertRegex(r.stderr, r"--(file|state): must name a file")
            self.assertNotIn("filesystem error", r.stderr)

    # ---- completion ----

    def complete_bash(self, *words):
        """What bash completes for `fedi WORDS...` (the last word is being typed)."""
        script = self.fedi("completion", "bash").stdout
        path = os.path.join(self.dir, "fedi.bash")
        lib.write_file(path, script)
        words = ["fedi", *words]
        quoted = " ".join("'" + w + "'" for w in words)
        r = subprocess.run(["bash", "-c", f'source "$1"; COMP_WORDS=({quoted}); '
                            f'COMP_CWORD={len(words) - 1}; _fedi; printf "%s\\n" "${{COMPREPLY[@]}}"',
                            "complete", path], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        return sorted(w for w in r.stdout.splitlines() if w)

    def test_bash_completion_follows_the_command_tree(self):
        help_text = self.fedi("--help").stdout
        listed = re.findall(r"^  (\w[\w-]*)\s", help_text.split("Subcommands:")[1], re.M)
        self.assertIn("deploy", listed)
        self.assertEqual(self.complete_bash(""), sorted(listed))
        self.assertEqual(self.complete_bash("acc"), ["account"])
        self.assertEqual(self.complete_bash("account", "de"), ["delete"])
        self.assertEqual(self.complete_bash("bucket", "key", "c"), ["create"])
        self.assertEqual(self.complete_bash("state", "mi"), ["migrate"])
        self.assertEqual(self.complete_bash("state", "show", "--re"), ["--reveal"])
        # Options of the command and the global ones; the value of an option is skipped.
        self.assertEqual(self.complete_bash("deploy", "--on", "web", "--par"), ["--parallel"])
        self.assertIn("--json", self.complete_bash("deploy", "--"))
        self.assertEqual(self.complete_bash("status", "--color", "a"), ["always", "auto"])
        self.assertEqual(self.complete_bash("deploy", "--goal", "dry"), ["dry-activate"])
        self.assertEqual(self.complete_bash("completion", ""), ["bash", "fish", "zsh"])
        # After `--` the words are a remote command: nothing to offer.
        self.assertEqual(self.complete_bash("exec", "--", "l"), [])

    def test_completion_scripts_for_each_shell(self):
        for shell, marker in (("bash", "complete -o default -F _fedi fedi"),
                              ("zsh", "compdef _fedi fedi"),
                              ("fish", "complete -c fedi -f -n '__fedi_path_is \"\"' -a deploy")):
            r = self.fedi("completion", shell)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(marker, r.stdout)
        r = self.fedi("completion", "tcsh")
        self.assertEqual(r.returncode, 2)
        self.assertIn("tcsh", r.stderr)
        if shutil.which("zsh"):
            script = lib.write_file(os.path.join(self.dir, "fedi.zsh"),
                                    self.fedi("completion", "zsh").stdout)
            self.assertEqual(subprocess.run(["zsh", "-n", str(script)]).returncode, 0)
        if shutil.which("zsh"):
            # The tables and the path walk, as zsh runs them (compdef needs compinit).
            r = subprocess.run(["zsh", "-c", 'autoload -U compinit; compinit -u -d "$2"; '
                                'source "$1"; _fedi_path -f x.nix account delete nosuch; '
                                '_fedi_choices "deploy|--goal"', "zsh", str(script),
                                os.path.join(self.dir, "zcompdump")],
                               capture_output=True, text=True)
            self.assertEqual(r.stdout.splitlines(),
                             ["account delete", "build push switch boot test dry-activate"],
                             r.stderr)
        if shutil.which("fish"):
            script = lib.write_file(os.path.join(self.dir, "fedi.fish"),
                                    self.fedi("completion", "fish").stdout)
            r = subprocess.run(["fish", "--no-config", "-c",
                                'source $argv[1]; complete -C"fedi account de"; '
                                'complete -C"fedi -f x.nix deploy --goal dr"', str(script)],
                               capture_output=True, text=True)
            self.assertEqual([l.split("\t")[0] for l in r.stdout.splitlines()],
                             ["delete", "dry-activate"], r.stderr)
        bash = lib.write_file(os.path.join(self.dir, "fedi.bash"),
                              self.fedi("completion", "bash").stdout)
        self.assertEqual(subprocess.run(["bash", "-n", str(bash)]).returncode, 0)


class ExecWordsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hosts = lib.TestHosts(1)
        cls.addClassCleanup(cls.hosts.stop)
        cls.dir = tempfile.mkdtemp(prefix="fedi-cli-exec-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        cls.env = lib.isolated_env(cls.dir)
        h = cls.hosts.hosts[0]
        lib.write_file(os.path.join(cls.dir, "deployment.nix"), lib.render_deployment(
            {"web": lib.machine(h, identity_file=cls.hosts.identity_file())}))

    def test_words_after_double_dash_are_the_remote_command(self):
        r = lib.run_fedi(["exec", "--on", "web", "--", "echo", "-la", "--json", "-q"],
                         cwd=self.dir, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "web | -la --json -q")

    def test_global_option_before_double_dash_still_counts(self):
        r = lib.run_fedi(["exec", "--on", "web", "--json", "--", "ls", "-la", "/"],
                         cwd=self.dir, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('"exitStatus": 0', r.stdout)


if __name__ == "__main__":
    unittest.main()
