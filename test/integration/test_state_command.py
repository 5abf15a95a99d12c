"""`fedi state` with the local file backend, as a person or a script runs it: show masks
secrets unless --reveal, pull and push round-trip (push is compare-and-swap and asks first),
migrate never replaces a state by accident, unlock says plainly what applies to a file.
"""

import fcntl
import json
import os
import pty
import shutil
import stat
import subprocess
import tempfile
import unittest

import fedi_testlib as lib

SECRETS = ("generated-otp-secret", "account-password-1", "directory-password-2",
           "bucket-key-secret-3")


def state_with_secrets():
    """A state file as fedi writes it, with one of each secret it records."""
    return {
        "version": 1,
        "machines": {"web": {"hostKeys": ["ssh-ed25519 AAAAweb"], "generations": []}},
        "secrets": {"otp": {"value": SECRETS[0], "created": "2026-12-01T00:00:00Z"}},
        "accounts": {"admin": {"service": "mastodon", "machine": "web", "username": "admin",
                               "password": SECRETS[1], "present": True, "created": "",
                               "passwordChanged": ""}},
        "identity": {"ldap": {"users.alice": {"dn": "uid=alice", "password": SECRETS[2],
                                              "present": True}}},
        "storage": {"buckets": {"media": {"storage": "garage", "id": "b1", "keys": {
            "app": {"id": "GKaccess", "secret": SECRETS[3]}}}}},
    }


class StateCommand(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fedi-state-cmd-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        lib.write_file(os.path.join(self.dir, "deployment.nix"), lib.render_deployment({}))
        self.state = os.path.join(self.dir, ".fedi", "state.json")
        lib.write_file(self.state, json.dumps(state_with_secrets(), indent=2) + "\n", 0o600)
        self.env = lib.nix_env()

    def fedi(self, *args, rc=0, input=None):
        r = lib.run_fedi(args, cwd=self.dir, env=self.env, input=input)
        self.assertEqual(r.returncode, rc, f"{args}: {r.stdout}\n{r.stderr}")
        return r

    def fedi_json(self, *args):
        return json.loads(self.fedi("--json", "state", *args).stdout)

    def read(self, path):
        with open(path) as f:
            return f.read()

    def test_a_deploy_evaluates_meta_state_once(self):
        # A `nix` first on PATH that notes each evaluation, then runs the real one.
        real = shutil.which("nix", path=self.env.get("PATH"))
        wrapper = os.path.join(self.dir, "bin", "nix")
        log = os.path.join(self.dir, "evals.log")
        lib.write_file(wrapper, f'#!/bin/sh\ncase " $* " in *" eval "*) echo eval >> {log};; esac\n'
                                f'exec {real} "$@"\n', 0o755)
        self.env["PATH"] = os.path.dirname(wrapper) + os.pathsep + self.env["PATH"]
        self.fedi("deploy")
        with open(log) as f:
            # meta.state once (where the state is, how it is kept), the deployment once.
            self.assertEqual(f.read().split(), ["eval", "eval"])

    def test_show_masks_secrets_unless_revealed(self):
        for out in (self.fedi("state", "show").stdout, self.fedi("--json", "state", "show").stdout):
            for secret in SECRETS:
                self.assertNotIn(secret, out)
            self.assertIn("********", out)
        text = self.fedi("state", "show").stdout
        self.assertIn(os.path.realpath(self.state), text)
        self.assertIn("plain", text)
        self.assertIn("--reveal", text)
        revealed = self.fedi("state", "show", "--reveal").stdout
        for secret in SECRETS:
            self.assertIn(secret, revealed)

    def test_show_json_shape(self):
        shown = self.fedi_json("show")
        self.assertEqual(shown["location"], os.path.realpath(self.state))
        self.assertEqual(shown["kept"], "plain")
        self.assertFalse(shown["remote"])
        self.assertFalse(shown["encrypted"])
        self.assertEqual(shown["secrets"], "masked")
        self.assertEqual(shown["locks"], [])
        self.assertRegex(shown["version"], r"^[0-9a-f]{64}$")
        st = shown["state"]
        self.assertEqual(st["accounts"]["admin"]["password"], "********")
        self.assertEqual(st["accounts"]["admin"]["username"], "admin")
        self.assertEqual(st["storage"]["buckets"]["media"]["keys"]["app"]["id"], "GKaccess")
        self.assertEqual(st["machines"]["web"]["hostKeys"], ["ssh-ed25519 AAAAweb"])
        revealed = self.fedi_json("show", "--reveal")
        self.assertEqual(revealed["secrets"], "revealed")
        self.assertEqual(revealed["state"]["identity"]["ldap"]["users.alice"]["password"],
                         SECRETS[2])

    def test_show_of_a_deployment_without_state(self):
        os.unlink(self.state)
        shown = self.fedi_json("show")
        self.assertIsNone(shown["state"])
        self.assertIsNone(shown["version"])
        self.assertIn("no state has been written yet", self.fedi("state", "show").stdout)
        self.assertFalse(os.path.exists(self.state))  # looking wrote nothing

    def test_pull_and_push_round_trip(self):
        copy = os.path.join(self.dir, "pulled", "state.json")
        pulled = self.fedi_json("pull", copy)
        self.assertEqual(self.read(copy), self.read(self.state))
        self.assertEqual(stat.S_IMODE(os.stat(copy).st_mode), 0o600)
        self.assertIn(f"--expect-version {pulled['version']}",
                      self.fedi("state", "pull", copy).stdout)
        edited = json.loads(self.read(copy))
        edited["machines"]["added"] = {"hostKeys": [], "generations": []}
        lib.write_file(copy, json.dumps(edited))
        pushed = self.fedi_json("push", copy, "--expect-version", pulled["version"], "--yes")
        self.assertEqual(pushed["replaced"], pulled["version"])
        self.assertIn("added", json.loads(self.read(self.state))["machines"])
        self.assertEqual(self.fedi_json("show")["version"], pushed["version"])

    def test_push_refuses_a_state_changed_since_the_pull(self):
        copy = os.path.join(self.dir, "pulled.json")
        version = self.fedi_json("pull", copy)["version"]
        changed = state_with_secrets()
        changed["machines"]["deployed-meanwhile"] = {"hostKeys": [], "generations": []}
        lib.write_file(self.state, json.dumps(changed))
        before = self.read(self.state)
        r = self.fedi("state", "push", copy, "--expect-version", version, "--yes", rc=1)
        self.assertIn("changed since it was pulled", r.stderr)
        self.assertEqual(self.read(self.state), before)

    def test_push_without_a_terminal_or_yes_refuses(self):
        other = lib.write_file(os.path.join(self.dir, "other.json"),
                               json.dumps({"version": 1, "machines": {}}))
        before = self.read(self.state)
        r = self.fedi("state", "push", other, rc=2)
        self.assertIn("stdin is not a terminal; pass --yes", r.stderr)
        self.assertIn("Replace the state", r.stderr)  # what it would have asked
        self.assertEqual(self.read(self.state), before)

    def test_push_asks_a_person_at_a_terminal(self):
        other = lib.write_file(os.path.join(self.dir, "other.json"),
                               json.dumps({"version": 1, "machines": {}}))
        before = self.read(self.state)
        rc, out = self.fedi_tty(["state", "push", str(other)], "n\n")
        self.assertEqual(rc, 2, out)
        self.assertIn("Replace the state", out)
        self.assertIn("1 machine recorded", out)
        self.assertEqual(self.read(self.state), before)
        rc, out = self.fedi_tty(["state", "push", str(other)], "y\n")
        self.assertEqual(rc, 0, out)
        self.assertEqual(json.loads(self.read(self.state))["machines"], {})

    def fedi_tty(self, args, answer):
        """fedi with a terminal as stdin; returns (exit code, stderr + stdout)."""
        master, slave = pty.openpty()
        try:
            os.write(master, answer.encode())
            proc = subprocess.run([os.environ["FEDI_BIN"], *args], cwd=self.dir, env=self.env,
                                  stdin=slave, capture_output=True, text=True, timeout=120)
        finally:
            os.close(slave)
            os.close(master)
        return proc.returncode, proc.stderr + proc.stdout

    def test_push_refuses_what_is_no_state(self):
        bad = lib.write_file(os.path.join(self.dir, "bad.json"), '{"machines": ')
        before = self.read(self.state)
        r = self.fedi("state", "push", bad, "--yes", rc=1)
        self.assertIn("bad.json", r.stderr)
        self.assertEqual(self.read(self.state), before)

    def test_migrate_to_another_file_and_refuse_an_existing_target(self):
        target = os.path.join(self.dir, "shared", "state.json")
        moved = self.fedi_json("migrate", "--to", target)
        self.assertEqual(self.read(target), self.read(self.state))
        self.assertEqual(moved["use"]["option"], f"--state {target}")
        text = self.fedi("state", "show", "--state", target).stdout
        self.assertIn(target, text)
        # Again: the target holds a state now.
        lib.write_file(target, json.dumps({"version": 1, "machines": {"only-there": {}}}))
        before = self.read(target)
        r = self.fedi("state", "migrate", "--to", target, rc=2)
        self.assertIn("already holds a state", r.stderr)
        self.assertIn("--force", r.stderr)
        self.assertEqual(self.read(target), before)
        out = self.fedi("state", "migrate", "--to", target, "--force").stdout
        self.assertIn("meta.state", out)
        self.assertEqual(self.read(target), self.read(self.state))
        r = self.fedi("state", "migrate", "--to", self.state, rc=2)
        self.assertIn("already at", r.stderr)

    def test_migrate_waits_for_no_deploy_holding_the_state(self):
        target = os.path.join(self.dir, "new.json")
        # The state's lock held as a running deploy holds it (flock on state.json.lock).
        with open(os.path.realpath(self.state) + ".lock", "a") as held:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
            r = self.fedi("state", "migrate", "--to", target, rc=1)
        self.assertIn("locked", r.stderr)
        self.assertFalse(os.path.exists(target))

    def test_unlock_on_a_local_file_says_it_does_not_apply(self):
        r = self.fedi("state", "unlock", "abc123", "--yes", rc=2)
        self.assertIn("freed when its process ends", r.stderr)
        locks = self.fedi("state", "locks").stdout
        self.assertIn("local state file", locks)

    def test_history_of_a_local_file(self):
        self.assertIn("keeps no history", self.fedi("state", "history").stdout)
        self.assertEqual(self.fedi_json("history")["versions"], [])
        # A local file has its current version only.
        current = self.fedi_json("show")["version"]
        self.fedi("state", "pull", os.path.join(self.dir, "copy.json"), "--at", current)
        r = self.fedi("state", "pull", os.path.join(self.dir, "old.json"), "--at", "0" * 64,
                      rc=2)
        self.assertIn("has no version", r.stderr)

    def test_help_lists_the_subcommands(self):
        out = self.fedi("state", "--help").stdout
        for sub in ("show", "history", "locks", "pull", "push", "migrate", "unlock"):
            self.assertIn(sub, out)
        r = self.fedi("state", rc=2)
        self.assertIn("`fedi state` needs a subcommand", r.stderr)


if __name__ == "__main__":
    unittest.main()
