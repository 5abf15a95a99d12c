"""The service admin-command stand-ins (test/standins), run directly on this machine.

They replace mastodon-tootctl, pixelfed-manage and PeerTube's reset-password on test
hosts, so they must show the real tools' quirks (listed with sources in each script):
these tests pin the ones a client of them has to cope with.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import types
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "standins"))
import standins  # noqa: E402


class StandinCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="fedi-standins-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        # Installed copies, as on a test host: they must not need the source tree.
        cls.bin = standins.install_standins(os.path.join(cls.tmp, "bin"))
        # The test-only `standin` tool's code, loaded in-process: one process fewer for
        # each password check (tests must stay fast on a busy machine). Compiled here
        # rather than imported: the import system would cache its bytecode in
        # bin/__pycache__ (whenever PYTHONDONTWRITEBYTECODE is unset), and the installed
        # directory must hold only what was installed.
        sys.path.insert(0, cls.bin)
        cls.addClassCleanup(sys.path.remove, cls.bin)
        tool_path = os.path.join(cls.bin, "standin")
        cls.tool = types.ModuleType("standin_tool")
        cls.tool.__file__ = tool_path
        with open(tool_path, encoding="utf-8") as f:
            exec(compile(f.read(), tool_path, "exec"), cls.tool.__dict__)

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="var-lib-", dir=self.tmp)
        self.env = standins.local_env(self.root, self.bin)
        self.env.pop("SHELL_INTERACTIVE", None)

    def run_tool(self, *argv, input=None, env=None):
        """Runs a stand-in with stdin a pipe (or /dev/null), never a terminal."""
        return subprocess.run(list(argv), input=input if input is not None else "",
                              capture_output=True, text=True, env=env or self.env, timeout=30)

    def ok(self, *argv, input=None, env=None):
        r = self.run_tool(*argv, input=input, env=env)
        self.assertEqual(r.returncode, 0, f"{argv}: {r.stdout}{r.stderr}")
        return r

    def db_path(self, service, name):
        return os.path.join(self.root, service, name)

    def state(self, service):
        try:
            with open(self.db_path(service, "standin-db.json")) as f:
                return json.load(f)
        except FileNotFoundError:
            return self.tool.initial_of(service)()

    def password_is(self, service, user, password):
        stored = self.tool.password_of(service, self.state(service), user)
        self.assertIsNotNone(stored, f"no user {user} in {service}")
        return self.tool.sc.check_password(stored, password)

    def argv_log(self, service):
        with open(self.db_path(service, "standin-argv.log")) as f:
            return [json.loads(line) for line in f]


NEW_PASSWORD = re.compile(r"^OK\nNew password: ([0-9a-f]{32})\n$")


class MastodonTootctl(StandinCase):
    def create(self, username, *extra, email=None):
        return self.run_tool("mastodon-tootctl", "accounts", "create", username,
                             f"--email={email or username + '@example.org'}", *extra)

    def test_create_prints_generated_password_and_second_create_fails(self):
        r = self.create("alice", "--confirmed", "--role=Owner", "--approve")
        self.assertEqual(r.returncode, 0, r.stderr)
        m = NEW_PASSWORD.match(r.stdout)
        self.assertIsNotNone(m, r.stdout)
        first = m.group(1)
        self.assertTrue(self.password_is("mastodon", "alice", first))
        self.assertFalse(self.password_is("mastodon", "alice", first + "x"))
        user = self.state("mastodon")["accounts"]["alice"]["user"]
        self.assertEqual((user["role"], user["confirmed"], user["approved"]), ("Owner", True, True))

        # Not idempotent: the same username again (any case) fails, and changes nothing.
        for name in ["alice", "ALICE"]:
            r = self.create(name, "--confirmed", "--role=Owner", "--approve",
                            email=f"other-{name}@example.org")
            self.assertEqual(r.returncode, 1)
            self.assertEqual(r.stdout, "")
            self.assertEqual(r.stderr, "Failure/Error: account.username\n    taken\n")
        # Same username and e-mail: every error is reported, e-mail first.
        r = self.create("alice")
        self.assertEqual(r.stderr, "Failure/Error: email\n    taken\n"
                                   "Failure/Error: account.username\n    taken\n")
        self.assertTrue(self.password_is("mastodon", "alice", first))

    def test_reserved_and_invalid_usernames(self):
        r = self.create("admin")
        self.assertEqual((r.returncode, r.stderr), (1, "Failure/Error: account.username\n    reserved\n"))
        r = self.create("bad-name")
        self.assertEqual((r.returncode, r.stderr), (1, "Failure/Error: account.username\n    invalid\n"))
        r = self.create("x" * 31)
        self.assertIn("too_long", r.stderr)
        self.assertEqual(self.state("mastodon")["accounts"], {})

    def test_modify_is_the_existence_check_and_resets_the_password(self):
        r = self.run_tool("mastodon-tootctl", "accounts", "modify", "bob")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (1, "", "No user with such username\n"))
        first = NEW_PASSWORD.match(self.create("bob").stdout).group(1)
        r = self.ok("mastodon-tootctl", "accounts", "modify", "bob")
        self.assertEqual(r.stdout, "OK\n")
        self.assertTrue(self.password_is("mastodon", "bob", first))  # a bare modify changes nothing

        r = self.ok("mastodon-tootctl", "accounts", "modify", "bob", "--reset-password")
        second = NEW_PASSWORD.match(r.stdout).group(1)
        self.assertNotEqual(first, second)
        self.assertFalse(self.password_is("mastodon", "bob", first))
        self.assertTrue(self.password_is("mastodon", "bob", second))

    def test_roles_are_matched_by_exact_name(self):
        self.create("carol")
        r = self.run_tool("mastodon-tootctl", "accounts", "modify", "carol", "--role", "owner")
        self.assertEqual((r.returncode, r.stderr), (1, "Cannot find user role with that name\n"))
        self.ok("mastodon-tootctl", "accounts", "modify", "carol", "--role", "Owner")
        self.assertEqual(self.state("mastodon")["accounts"]["carol"]["user"]["role"], "Owner")
        r = self.create("dave", "--role=Root")
        self.assertEqual(r.returncode, 1)
        self.assertNotIn("dave", self.state("mastodon")["accounts"])

    def test_approval_follows_registration_mode_unless_approve(self):
        self.create("erin")
        self.create("frank", "--approve")
        accounts = self.state("mastodon")["accounts"]
        self.assertFalse(accounts["erin"]["user"]["approved"])
        self.assertTrue(accounts["frank"]["user"]["approved"])
        self.ok("mastodon-tootctl", "accounts", "modify", "erin", "--approve")
        self.assertTrue(self.state("mastodon")["accounts"]["erin"]["user"]["approved"])
        self.ok("standin", "set", "mastodon", "registrations_mode", "open")
        self.create("gina")
        self.assertTrue(self.state("mastodon")["accounts"]["gina"]["user"]["approved"])

    def test_email_change_waits_for_confirm(self):
        self.create("hank", "--confirmed")
        self.ok("mastodon-tootctl", "accounts", "modify", "hank", "--email", "new@example.org")
        user = self.state("mastodon")["accounts"]["hank"]["user"]
        self.assertEqual((user["email"], user["unconfirmed_email"]),
                         ("hank@example.org", "new@example.org"))
        self.ok("mastodon-tootctl", "accounts", "modify", "hank", "--email=new@example.org",
                "--confirm")
        user = self.state("mastodon")["accounts"]["hank"]["user"]
        self.assertEqual((user["email"], user["unconfirmed_email"]), ("new@example.org", None))

    def test_delete_leaves_the_username_taken(self):
        self.create("ivy")
        r = self.ok("mastodon-tootctl", "accounts", "delete", "ivy")
        self.assertEqual(r.stdout, "Deleting user with 0 statuses, this might take a while...\nOK\n")
        r = self.run_tool("mastodon-tootctl", "accounts", "modify", "ivy")
        self.assertEqual(r.stderr, "No user with such username\n")
        self.assertIn("taken", self.create("ivy").stderr)
        r = self.create("ivy", "--reattach")
        self.assertIsNotNone(NEW_PASSWORD.match(r.stdout), r.stdout + r.stderr)
        # A live user is not taken over without --force.
        r = self.create("ivy", "--reattach", email="x@example.org")
        self.assertEqual((r.returncode, r.stdout), (0, "The chosen username is currently in use\n"
                         "Use --force to reattach it anyway and delete the other user\n"))
        r = self.run_tool("mastodon-tootctl", "accounts", "delete")
        self.assertEqual((r.returncode, r.stderr), (1, "No username provided\n"))

    def test_no_password_option_and_argv_is_logged(self):
        r = self.create("jack", "--password=hunter2hunter2")
        self.assertEqual(r.returncode, 1)
        self.assertIn('was called with arguments ["jack", "--password=hunter2hunter2"]', r.stderr)
        self.assertEqual(self.state("mastodon")["accounts"], {})
        r = self.run_tool("mastodon-tootctl", "accounts", "create", "jack")
        self.assertEqual(r.stderr, "No value provided for required options '--email'\n")
        r = self.run_tool("mastodon-tootctl", "accounts", "list")
        self.assertEqual(r.stderr, 'Could not find command "list" in "accounts" namespace.\n')
        log = self.argv_log("mastodon")
        self.assertEqual([e["argv"] for e in log][0],
                         ["accounts", "create", "jack", "--email=jack@example.org",
                          "--password=hunter2hunter2"])
        self.assertTrue(all(e["tool"] == "mastodon-tootctl" and e["stdinIsTTY"] is False
                            for e in log))


class PixelfedManage(StandinCase):
    def create(self, username, *extra, password="s3cret-pass", email=None):
        return self.run_tool("pixelfed-manage", "user:create", f"--name={username.title()}",
                             f"--username={username}",
                             f"--email={email or username + '@example.org'}",
                             f"--password={password}", *extra)

    def users(self):
        return {u["username"]: u for u in self.state("pixelfed")["users"]}

    def test_is_admin_only_for_literal_true_and_confirm_email_truthiness(self):
        cases = {"one": ("--is_admin=1", False), "yes": ("--is_admin=yes", False),
                 "cap": ("--is_admin=True", False), "lit": ("--is_admin=true", True),
                 "spaced": ("--is_admin true", None)}
        for name, (flag, _) in cases.items():
            r = self.create(name, *flag.split(" "))
            self.assertEqual(r.stdout, "Creating a new user...\nSuccessfully created user!\n")
        users = self.users()
        for name, (_, admin) in cases.items():
            if admin is not None:
                self.assertIs(users[name]["is_admin"], admin, name)
        self.assertTrue(users["spaced"]["is_admin"])  # "--is_admin true" takes the next word
        self.create("c0", "--confirm_email=0")
        self.create("cf", "--confirm_email=false")
        self.create("cn")
        users = self.users()
        self.assertFalse(users["c0"]["email_verified"])
        self.assertTrue(users["cf"]["email_verified"])  # PHP: "false" is truthy
        self.assertFalse(users["cn"]["email_verified"])

    def test_second_create_fails_in_the_database(self):
        self.ok("pixelfed-manage", "user:create", "--name=Admin", "--username=boss",
                "--email=boss@example.org", "--password=first-pass", "--is_admin=true",
                "--confirm_email=true")
        r = self.create("Boss", password="second-pass", email="other@example.org")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "Creating a new user...\n")
        self.assertIn("1062 Duplicate entry 'Boss' for key 'users_username_unique'", r.stderr)
        self.assertIn("In Connection.php line 825:", r.stderr)
        # The insert with its values is in the message: a hash of the password, not the
        # password itself.
        self.assertRegex(r.stderr, r"values \(Boss, Boss, other@example.org, sha256\$")
        self.assertNotIn("second-pass", r.stderr)
        r = self.create("newname", email="BOSS@example.org")
        self.assertIn("for key 'users_email_unique'", r.stderr)
        self.assertEqual(list(self.users()), ["boss"])
        self.assertTrue(self.password_is("pixelfed", "boss", "first-pass"))

    def test_partial_options_without_a_terminal_create_nothing(self):
        r = self.ok("pixelfed-manage", "user:create", "--username=half", "--email=h@example.org")
        self.assertEqual(r.stdout, "Creating a new user...\n"
                                   "Must be 6 or more characters, please try again...\n")
        self.assertEqual(self.users(), {})

    def test_setpassword_reads_stdin_only_when_interactive(self):
        self.create("kim", password="old-password")
        r = self.run_tool("pixelfed-manage", "user:setpassword", "kim",
                          input="new-password\nnew-password\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("Password cannot be empty.", r.stdout)
        self.assertTrue(self.password_is("pixelfed", "kim", "old-password"))

        env = dict(self.env, SHELL_INTERACTIVE="1")
        r = self.run_tool("pixelfed-manage", "user:setpassword", "kim",
                          input="new-password\nnew-password\n\n", env=env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("Found user: kim (id 1, email kim@example.org)", r.stdout)
        self.assertIn("Successfully updated the password for kim.", r.stdout)
        self.assertTrue(self.password_is("pixelfed", "kim", "new-password"))
        self.assertNotIn("new-password", r.stdout)

        # Input ending before the last question: "Aborted.", nothing changed.
        r = self.run_tool("pixelfed-manage", "user:setpassword", "kim",
                          input="third-pass\nthird-pass\n", env=env)
        self.assertEqual(r.returncode, 1)
        self.assertIn("Aborted.", r.stderr)
        self.assertTrue(self.password_is("pixelfed", "kim", "new-password"))
        r = self.run_tool("pixelfed-manage", "user:setpassword", "kim", input="abc\nabc\n", env=env)
        self.assertIn("Password must be 6 or more characters.", r.stdout)

        # No option for the password, and no secret in any recorded argv.
        r = self.run_tool("pixelfed-manage", "user:setpassword", "kim", "--password=zzzzzzzz")
        self.assertEqual(r.returncode, 1)
        self.assertIn('The "--password" option does not exist.', r.stderr)
        setpw = [e["argv"] for e in self.argv_log("pixelfed") if e["argv"][0] == "user:setpassword"]
        self.assertEqual(setpw[:3], [["user:setpassword", "kim"]] * 3)

    def test_delete_needs_interaction_and_keeps_the_row(self):
        self.create("lou")
        r = self.ok("pixelfed-manage", "user:delete", "lou")
        self.assertEqual(r.stdout, "")
        self.assertIsNone(self.users()["lou"]["status"])
        env = dict(self.env, SHELL_INTERACTIVE="1")
        r = self.ok("pixelfed-manage", "user:delete", "lou", input="yes\nwrong\n", env=env)
        self.assertIn("Username does not match, exiting...", r.stdout)
        self.ok("pixelfed-manage", "user:delete", "lou", input="yes\nlou\n", env=env)
        self.assertEqual(self.users()["lou"]["status"], "deleted")
        self.assertEqual(self.create("lou", email="lou2@example.org").returncode, 1)
        r = self.ok("pixelfed-manage", "user:delete", "lou", input="yes\nlou\n", env=env)
        self.assertIn("Account has already been deleted.", r.stdout)
        self.create("root", "--is_admin=true")
        r = self.ok("pixelfed-manage", "user:delete", "root", input="yes\nroot\n", env=env)
        self.assertIn("Cannot delete an admin account from CLI.", r.stdout)

    def test_show_and_table_answer_exit_zero_either_way(self):
        r = self.ok("pixelfed-manage", "user:show", "nobody")
        self.assertEqual(r.stdout, "Could not find any user with that username or id.\n")
        self.create("max")
        self.create("nia")
        r = self.ok("pixelfed-manage", "user:show", "MAX")
        self.assertIn("Username: max\nEmail: max@example.org\n", r.stdout)
        lines = self.ok("pixelfed-manage", "user:table").stdout.splitlines()
        self.assertRegex(lines[1], r"^\| ID \| Username \| Name +\| Registered +\|$")
        self.assertEqual([l.split("|")[2].strip() for l in lines[3:5]], ["nia", "max"])
        r = self.ok("pixelfed-manage", "user:admin", "max")  # confirm defaults to no
        self.assertEqual(r.stdout, "Found username: max\n")
        self.assertFalse(self.users()["max"]["is_admin"])


class PeerTube(StandinCase):
    def start_service(self, password):
        path = os.path.join(self.root, "password-init-root")
        with open(path, "w") as f:
            f.write(f"# written by the test\nPT_INITIAL_ROOT_PASSWORD={password}\n")
        return self.run_tool("peertube-standin-start", "--environment-file", path)

    def test_initial_root_password_counts_only_on_first_start_and_is_logged(self):
        r = self.start_service("first-root-pw")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("info: User password: first-root-pw", r.stdout)
        with open(os.path.join(self.root, "peertube", "storage", "logs", "peertube.log")) as f:
            self.assertIn("User password: first-root-pw", f.read())
        self.assertTrue(self.password_is("peertube", "root", "first-root-pw"))
        r = self.start_service("changed-root-pw")
        self.assertEqual(r.returncode, 0)
        self.assertNotIn("changed-root-pw", r.stdout)
        self.assertTrue(self.password_is("peertube", "root", "first-root-pw"))

    def test_too_short_initial_password_fails_the_install(self):
        r = self.start_service("abc")
        self.assertEqual(r.returncode, 255)
        self.assertIn("Cannot install application.", r.stdout)
        self.assertEqual(self.state("peertube")["users"], {})

    def test_reset_password_reads_one_line_from_stdin(self):
        self.start_service("first-root-pw")
        r = self.run_tool("peertube-reset-password", "-u", "root", input="piped-new-pw\n")
        self.assertEqual((r.returncode, r.stdout), (0, "New password?\nUser password updated.\n"))
        self.assertTrue(self.password_is("peertube", "root", "piped-new-pw"))
        self.assertFalse(self.password_is("peertube", "root", "first-root-pw"))

        # The same through peertube-env, which evaluates its arguments as shell code.
        r = self.run_tool("peertube-env", 'echo "$NODE_ENV $NODE_CONFIG_DIR"; '
                          "peertube-reset-password --user=root", input="via-env-pw\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith(f"production {self.root}/peertube/config\n"))
        self.assertTrue(self.password_is("peertube", "root", "via-env-pw"))
        r = self.run_tool("peertube-env", "echo", "$NODE_ENV")  # expanded a second time
        self.assertEqual(r.stdout, "production\n")

        for argv, stdin, status, message in [
                (["-u", "root"], "no-newline-pw", 124, "stdin ended"),
                (["-u", "root"], "short\n", 255, "New password is invalid."),
                (["-u", "root"], "x" * 51 + "\n", 255, "New password is invalid."),
                (["-u", "nobody"], "whatever-pw\n", 255, "Unknown user."),
                (["-u", "Root"], "whatever-pw\n", 255, "Unknown user."),
                ([], "whatever-pw\n", 255, "All parameters are mandatory."),
                (["-u", "root", "--password", "argv-secret"], "", 1,
                 "error: unknown option '--password'")]:
            r = self.run_tool("peertube-reset-password", *argv, input=stdin)
            self.assertEqual(r.returncode, status, argv)
            self.assertIn(message, r.stderr)
        self.assertTrue(self.password_is("peertube", "root", "via-env-pw"))

        # What the log shows: the arguments, never what came on stdin.
        logged = json.dumps(self.argv_log("peertube"))
        self.assertIn("argv-secret", logged)
        for secret in ["piped-new-pw", "via-env-pw", "no-newline-pw"]:
            self.assertNotIn(secret, logged)


class StandinTool(StandinCase):
    def test_check_password_state_log_and_reset(self):
        self.ok("pixelfed-manage", "user:create", "--name=P", "--username=pat",
                "--email=pat@example.org", "--password=pat-password")
        check = lambda user, pw: self.run_tool("standin", "check-password", "pixelfed", user,
                                               input=pw).returncode  # noqa: E731
        self.assertEqual(check("pat", "pat-password\n"), 0)  # one trailing newline dropped
        self.assertEqual(check("PAT", "pat-password"), 0)
        self.assertEqual(check("pat", "pat-passwor"), 1)
        self.assertEqual(check("nobody", "pat-password"), 2)
        state = json.loads(self.ok("standin", "state", "pixelfed").stdout)
        self.assertEqual(state["users"][0]["password"], "<hash>")
        self.assertNotIn("pat-password", json.dumps(state))
        log = json.loads(self.ok("standin", "log", "pixelfed").stdout)
        self.assertEqual(log[0]["argv"][0], "user:create")
        self.ok("standin", "reset", "pixelfed")
        self.assertEqual(json.loads(self.ok("standin", "state", "pixelfed").stdout),
                         {"users": [], "nextId": 1})
        self.assertEqual(self.run_tool("standin", "bogus", "pixelfed").returncode, 2)


class Installer(StandinCase):
    def test_installed_copies_are_complete_and_standalone(self):
        self.assertEqual(sorted(os.listdir(self.bin)),
                         sorted(standins.TOOLS + standins.MODULES))
        for tool in standins.TOOLS:
            self.assertTrue(os.access(os.path.join(self.bin, tool), os.X_OK), tool)
        # Run by absolute path with a PATH that has nothing of ours and no source tree.
        env = {"PATH": "/usr/bin:/bin", "FEDI_STANDIN_ROOT": self.root}
        r = self.run_tool(os.path.join(self.bin, "mastodon-tootctl"), "accounts", "create",
                          "olga", "--email=olga@example.org", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(os.path.join(self.root, "mastodon", "standin-db.json")))
        self.assertFalse(os.path.exists(os.path.join(self.bin, "__pycache__")))
        mode = os.stat(os.path.join(self.root, "mastodon", "standin-db.json")).st_mode & 0o777
        self.assertEqual(mode, 0o600)


if __name__ == "__main__":
    unittest.main()
