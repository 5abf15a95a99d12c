"""Service admin accounts (`accounts.<name>` and `fedi account ...`) on a real sshd test
host, against the stand-ins of the services' admin commands (test/standins: flags,
outputs and quirks of mastodon-tootctl, pixelfed-manage and PeerTube's reset-password,
with their sources). The test host's system plays PeerTube's first start on activation.
"""
import json
import os
import re
import shutil
import tempfile
import unittest

import fedi_testlib as lib
import leakcheck


STANDIN_BIN = lib.STANDIN_BIN
# What peertube.service does at its start, from the environment file fedi delivers; its
# log (with the initial password, as PeerTube logs it) goes where the journal would.
PEERTUBE_START = (f"{STANDIN_BIN}/peertube-standin-start --environment-file "
                  "/var/lib/fedi/secrets/account-pt.env >> /var/lib/peertube-journal.log 2>&1")


class AccountsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hosts, cls.host = lib.host_with_standins(cls, "acct")

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fedi-accounts-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        os.makedirs(os.path.join(self.dir, "home"))
        self.env = lib.isolated_env(os.path.join(self.dir, "home"))
        lib.reset_hosts(self.hosts)
        for service in ("mastodon", "pixelfed", "peertube"):
            self.standin("reset", service)
        self.hosts.exec(self.host, "rm", "-rf", "/var/lib/fedi/secrets")

    def write_deployment(self, accounts, secrets=None):
        peertube = any(a["service"] == "peertube" for a in accounts.values())
        system = lib.system_expr(self.host, message="accounts",
                                 onActivate=PEERTUBE_START if peertube else "")
        machines = {"web": self.hosts.machines(systems={self.host: system})[self.host]}
        lib.write_file(os.path.join(self.dir, "deployment.nix"), lib.render_deployment(
            machines, {"accounts": accounts, "secrets": secrets or {}}))

    def fedi(self, *args):
        return lib.run_fedi(list(args), cwd=self.dir, env=self.env)

    def fedi_json(self, *args):
        r = self.fedi("--json", *args)
        try:
            return r, json.loads(r.stdout)
        except ValueError:
            self.fail(f"fedi {args} printed no JSON (exit {r.returncode}):\n{r.stdout}\n{r.stderr}")

    def standin(self, *args, input=None):
        return self.hosts.exec(self.host, f"{STANDIN_BIN}/standin", *args, input=input)

    def standin_json(self, *args):
        r = self.standin(*args)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def password_ok(self, service, user, password):
        r = self.standin("check-password", service, user, input=password)
        self.assertIn(r.returncode, (0, 1), f"no user {user} in {service}: {r.stderr}")
        return r.returncode == 0

    def revealed(self, name):
        r, doc = self.fedi_json("account", "show", name, "--reveal")
        self.assertEqual(r.returncode, 0, r.stderr)
        return doc["password"]

    ACCOUNTS = {
        "masto": {"machine": "web", "service": "mastodon", "username": "owner",
                  "email": "owner@example.org"},
        "pix": {"machine": "web", "service": "pixelfed", "username": "boss",
                "email": "boss@example.org", "displayName": "The Boss"},
        "pt": {"machine": "web", "service": "peertube"},
    }
    USERS = {"masto": ("mastodon", "owner"), "pix": ("pixelfed", "boss"), "pt": ("peertube", "root")}

    def test_create_once_reset_delete_and_no_password_leaks(self):
        self.write_deployment(self.ACCOUNTS, {
            "masto-pw": {"machine": "web", "environmentVariable": "ADMIN_PASSWORD",
                         "source": {"fromAccount": "masto"}}})
        outputs = []
        store = leakcheck.StoreMarker()
        with leakcheck.PsSampler(self.hosts, [self.host]) as ps:
            r, doc = self.fedi_json("-v", "deploy")
            outputs += [r.stdout, r.stderr]
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual({a["name"]: a["result"] for a in doc["accounts"]},
                             {"masto": "created", "pix": "created", "pt": "created"})
            self.assertNotIn("password", json.dumps(doc["accounts"]))

            # Twice: created once, the second run says they exist.
            r2 = self.fedi("-v", "deploy")
            outputs += [r2.stdout, r2.stderr]
            self.assertEqual(r2.returncode, 0, r2.stdout + r2.stderr)
            for name in self.ACCOUNTS:
                self.assertRegex(r2.stdout, rf"(?m)^{name}\s.*\sexists\s*$")
                self.assertIn(f"account {name} (", r2.stderr)

            r, doc = self.fedi_json("account", "create", "pix")
            self.assertEqual((r.returncode, doc["result"]), (0, "exists"), r.stderr)
            self.assertNotIn("password", doc)
            first = {name: self.revealed(name) for name in self.ACCOUNTS}
            for name, pw in first.items():
                self.assertTrue(self.password_ok(*self.USERS[name], pw), name)

            resets = {}
            for name in self.ACCOUNTS:
                r, doc = self.fedi_json("-v", "account", "reset-password", name)
                outputs += [r.stdout, r.stderr]
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertEqual(doc["result"], "password reset")
                self.assertNotIn("password", doc)  # not without --reveal
                resets[name] = self.revealed(name)
        self.assertGreater(ps.count("deployer"), 5)
        self.assertGreater(ps.count(self.host), 2)

        mastodon = self.standin_json("state", "mastodon")["accounts"]
        self.assertEqual(list(mastodon), ["owner"])
        user = mastodon["owner"]["user"]
        self.assertEqual((user["role"], user["confirmed"], user["approved"], user["email"]),
                         ("Owner", True, True, "owner@example.org"))
        pixelfed = self.standin_json("state", "pixelfed")["users"]
        self.assertEqual([(u["username"], u["name"], u["is_admin"], u["email_verified"])
                          for u in pixelfed], [("boss", "The Boss", True, True)])
        self.assertEqual(list(self.standin_json("state", "peertube")["users"]), ["root"])
        calls = {s: [c["argv"] for c in self.standin_json("log", s)]
                 for s in ("mastodon", "pixelfed", "peertube")}
        self.assertEqual(sum(1 for a in calls["mastodon"] if a[:2] == ["accounts", "create"]), 1)
        self.assertEqual(sum(1 for a in calls["pixelfed"] if a[:1] == ["user:create"]), 1)

        # The new passwords work, the old ones no longer do.
        for name, pw in resets.items():
            self.assertNotEqual(pw, first[name])
            self.assertTrue(self.password_ok(*self.USERS[name], pw), name)
            self.assertFalse(self.password_ok(*self.USERS[name], first[name]), name)
        # PeerTube logged the initial password (its own quirk): fedi changed it at once.
        env_file = self.hosts.exec(self.host, "cat", "/var/lib/fedi/secrets/account-pt.env").stdout
        self.assertRegex(env_file, r"^PT_INITIAL_ROOT_PASSWORD=[A-Za-z0-9]{32}\n$")
        journal = self.hosts.exec(self.host, "cat", "/var/lib/peertube-journal.log").stdout
        logged = re.findall(r"User password: (\S+)", journal)
        self.assertEqual(len(logged), 1, journal)
        initial = logged[0]
        self.assertNotIn(initial, first.values())
        self.assertFalse(self.password_ok("peertube", "root", initial))
        # A secret from an account's password reached the machine once the account existed.
        self.assertEqual(self.hosts.exec(self.host, "cat", "/var/lib/fedi/secrets/masto-pw").stdout,
                         f"ADMIN_PASSWORD={first['masto']}\n")
        state_file = os.path.join(self.dir, ".fedi", "state.json")
        self.assertEqual(os.stat(state_file).st_mode & 0o777, 0o600)

        # Listing shows no password.
        r, doc = self.fedi_json("account", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        outputs += [r.stdout]
        self.assertEqual([(a["name"], a["present"], a["passwordKnown"]) for a in doc["accounts"]],
                         [("masto", True, True), ("pix", True, True), ("pt", True, True)])
        r = self.fedi("account", "show", "pix")
        outputs += [r.stdout, r.stderr]
        self.assertIn("(hidden: --reveal)", r.stdout)

        all_passwords = list(first.values()) + list(resets.values()) + [initial]
        argv_text = json.dumps(calls)
        new_paths = store.new_paths()
        for pw in all_passwords:
            self.assertIsNone(ps.find(pw), "a password was in a process's arguments")
            self.assertNotIn(pw, argv_text)
            for text in outputs:
                self.assertNotIn(pw, text)
            self.assertIsNone(leakcheck.grep_paths(new_paths, pw))
            self.assertIsNone(leakcheck.grep_paths(
                [leakcheck.host_store(self.hosts, self.host)], pw))

        # Deleting: asks (refused without a terminal), then --yes.
        r = self.fedi("account", "delete", "masto")
        self.assertEqual(r.returncode, 2, r.stderr)
        for name in ("masto", "pix"):
            r = self.fedi("--yes", "account", "delete", name)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIsNone(self.standin_json("state", "mastodon")["accounts"]["owner"]["user"])
        pix = self.standin_json("state", "pixelfed")["users"][0]
        self.assertEqual((pix["status"], pix["is_admin"]), ("deleted", False))
        r = self.fedi("--yes", "account", "delete", "pt")
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot be deleted", r.stderr)

        # Mastodon's tombstone keeps the username: the next deploy re-creates it anyway.
        r, doc = self.fedi_json("deploy")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual({a["name"]: a["result"] for a in doc["accounts"]}["masto"], "created")
        self.assertTrue(self.password_ok("mastodon", "owner", self.revealed("masto")))

    def test_a_failed_account_step_fails_every_run_until_fixed(self):
        # Mastodon refuses a second account with an e-mail address already in use.
        self.write_deployment({
            "first": {"machine": "web", "service": "mastodon", "username": "first",
                      "email": "same@example.org"},
            "second": {"machine": "web", "service": "mastodon", "username": "second",
                       "email": "same@example.org"}})
        for _ in range(2): # the machine is unchanged the second time
            r, doc = self.fedi_json("deploy")
            self.assertEqual(r.returncode, 1, r.stderr)
            results = {a["name"]: a["result"] for a in doc["accounts"]}
            self.assertEqual(results["second"], "failed")
            with open(os.path.join(self.dir, ".fedi", "state.json")) as f:
                pending = json.load(f)["pendingFailures"]
            self.assertEqual(pending["accounts.second"]["phase"], "account")
        self.write_deployment({
            "first": {"machine": "web", "service": "mastodon", "username": "first",
                      "email": "same@example.org"},
            "second": {"machine": "web", "service": "mastodon", "username": "second",
                       "email": "other@example.org"}})
        r, doc = self.fedi_json("deploy")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(self.dir, ".fedi", "state.json")) as f:
            self.assertNotIn("pendingFailures", json.load(f))

    def test_reserved_mastodon_username_is_refused_before_the_deploy(self):
        self.write_deployment({"bad": {"machine": "web", "service": "mastodon",
                                       "username": "admin", "email": "a@example.org"}})
        for command in ("eval", "deploy"):
            r = self.fedi(command)
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
            self.assertIn('accounts.bad.username: Mastodon reserves the username "admin"',
                          r.stderr)


if __name__ == "__main__":
    unittest.main()
