"""True results and pre-flight on real test hosts: a failure is reported on every run until
it is fixed; dry-activate says so; an unchanged machine is sent nothing; a system without
bin/switch-to-configuration is refused before anything reaches the machine; a rollback
says exactly what it reverted; `fedi eval` refuses what deploy would trip over."""
import json
import os
import shutil
import tempfile
import time
import unittest

import fedi_testlib as lib

NOT_A_SYSTEM = """derivation {
  name = "not-a-nixos-system"; system = builtins.currentSystem or "x86_64-linux"; builder = "/bin/sh";
  args = [ "-c" "echo hi > $out" ]; PATH = "/usr/bin:/bin"; }"""


class TrueResultsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hosts = lib.TestHosts(1, prefix="tru")
        cls.addClassCleanup(cls.hosts.stop)
        cls.host = cls.hosts.names[0]

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fedi-true-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        os.makedirs(os.path.join(self.dir, "home"))
        self.env = lib.isolated_env(os.path.join(self.dir, "home"))
        lib.reset_hosts(self.hosts)
        self.hosts.exec(self.host, "rm", "-rf", "/var/lib/fedi/secrets")
        self.nonce = f"{self._testMethodName}-{time.time_ns()}"

    def write(self, version="1", system=None, extra=None, **machine_attrs):
        system = system or lib.system_expr(self.host, message=self.nonce, version=version)
        machines = self.hosts.machines(systems={self.host: system}, **machine_attrs)
        lib.write_file(os.path.join(self.dir, "deployment.nix"),
                       lib.render_deployment({"web": machines[self.host]}, extra))

    def fedi(self, *args):
        return lib.run_fedi(list(args), cwd=self.dir, env=self.env)

    def deploy(self, *args):
        r = self.fedi("--json", "deploy", *args)
        try:
            doc = json.loads(r.stdout)
        except ValueError:
            self.fail(f"no JSON (exit {r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r, doc["machines"][0]

    def on(self, script):
        return self.hosts.exec(self.host, "sh", "-c", script).stdout.strip()

    def state(self):
        with open(os.path.join(self.dir, ".fedi", "state.json")) as f:
            return json.load(f)

    def test_missing_secret_owner_fails_on_every_run(self):
        self.write(extra={"secrets": {"s": {"machine": "web", "owner": "fedi-no-such-user"}}})
        r, m = self.deploy()
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("does not exist", m["error"])
        # The machine runs the system now: still a failure, not "unchanged".
        r, m = self.deploy()
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(m["result"], "failed")
        self.assertIn("owner of secret(s) s does not exist", m["error"])
        # Fixed (owner root): converges.
        self.write(extra={"secrets": {"s": {"machine": "web"}}})
        r, m = self.deploy()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("pendingFailures", self.state())

    def test_a_failure_left_in_place_is_retried_until_it_passes(self):
        check = [{"command": "/run/current-system/bin/health-check", "attempts": 1,
                  "interval": 0, "timeout": 5}]
        self.write(healthChecks=check)
        self.on("mkdir -p /var/lib/fedi-test && echo broken > /var/lib/fedi-test/unhealthy")
        r, m = self.deploy("--no-rollback")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("health check failed", m["error"])
        pending = self.state()["pendingFailures"]["machines.web"]
        self.assertEqual(pending["system"], m["system"])
        # The failed system was left running: re-running must not call it unchanged.
        r, m = self.deploy("--no-rollback")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("trying again", r.stderr)
        self.assertIn("health check failed", m["error"])
        self.on("rm -f /var/lib/fedi-test/unhealthy")
        r, m = self.deploy("--no-rollback")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(m["result"], "deployed")
        self.assertNotIn("pendingFailures", self.state())
        r, m = self.deploy()
        self.assertEqual((r.returncode, m["result"]), (0, "unchanged"))

    def test_dry_activate_and_unchanged_results(self):
        self.write()
        r, m = self.deploy("--goal", "dry-activate")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(m["result"], "dry-activated")
        r, m = self.deploy()
        self.assertEqual((r.returncode, m["result"]), (0, "deployed"), r.stderr)
        r, m = self.deploy()
        self.assertEqual((r.returncode, m["result"]), (0, "unchanged"), r.stderr)
        self.assertEqual((m["pathsSent"], m["bytesSent"], m["narBytes"]), (0, 0, 0))

    def test_a_system_without_switch_to_configuration_is_refused_before_the_push(self):
        self.write(system=lib.Nix(NOT_A_SYSTEM))
        r, m = self.deploy()
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual((m["result"], m["failedPhase"]), ("failed", "build"))
        self.assertIn("machines.web.system", m["error"])
        self.assertIn("bin/switch-to-configuration", m["error"])
        self.assertEqual(m["bytesSent"], 0)
        self.assertEqual(self.on("readlink /nix/var/nix/profiles/system || echo none"), "none")

    def test_a_failed_switch_without_a_running_system_says_what_was_reverted(self):
        self.write("1")
        r, m = self.deploy("--goal", "boot")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.on("readlink -e /run/current-system || echo none"), "none")
        self.write("2")
        self.on("echo on purpose > /var/lib/fedi-test/fail-next-activation")
        r, m = self.deploy()
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("the system profile was set back to generation", m["error"])
        self.assertIn("was not undone", m["error"])
        self.assertIn("no /run/current-system", m["error"])
        self.assertNotIn("went back to its previous system", m["error"])

    def test_status_previous_after_a_rollback(self):
        gens = {}
        for v in ["1", "2", "3"]:
            self.write(v)
            r, m = self.deploy()
            self.assertEqual(r.returncode, 0, r.stderr)
            gens[v] = m["generation"]
        r = self.fedi("--json", "rollback", "web")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.fedi("status")
        header, row = [l for l in r.stdout.splitlines() if l.strip()][:2]
        previous = row[header.index("PREVIOUS"):].split()[0]
        # Running generation 2 now: previous is 1, not the newer 3.
        self.assertEqual(previous, str(gens["1"]), r.stdout)

    def test_eval_refuses_what_deploy_would_trip_over(self):
        cases = [
            ({"secrets": {"s": {"machine": "web", "name": "../x"}}}, {}, "secrets.s.name"),
            ({"secrets": {"s": {"machine": "web", "mode": "0777"}}}, {}, "secrets.s.mode"),
            ({"secrets": {"s": {"machine": "web", "owner": "a b"}}}, {}, "secrets.s.owner"),
            ({"accounts": {"a": {"machine": "web", "service": "mastodon", "username": "admin",
                                 "email": "a@example.org"}}}, {}, "accounts.a.username"),
            ({}, {"host_override": "root@host"}, "machines.web.ssh.host"),
            ({}, {"identity_override": "/nonexistent/key"}, "machines.web.ssh.identityFile"),
        ]
        for extra, how, path in cases:
            with self.subTest(path=path):
                self.write(extra=extra)
                with open(os.path.join(self.dir, "deployment.nix")) as f:
                    text = f.read()
                if "host_override" in how:
                    host = self.hosts.hosts[0]["host"]
                    text = text.replace(f'host = "{host}"', f'host = "{how["host_override"]}"')
                if "identity_override" in how:
                    key = str(self.hosts.identity_file())
                    text = text.replace(key, how["identity_override"])
                lib.write_file(os.path.join(self.dir, "deployment.nix"), text)
                for cmd in (["eval"], ["deploy"]):
                    r = self.fedi(*cmd)
                    self.assertEqual(r.returncode, 2, r.stderr)
                    self.assertIn(path + ":", r.stderr)
        # Nothing reached the machine.
        self.assertEqual(self.on("readlink /nix/var/nix/profiles/system || echo none"), "none")
        # A valid address with an apostrophe is accepted.
        self.write(extra={"accounts": {"a": {"machine": "web", "service": "mastodon",
                                             "username": "owner",
                                             "email": "o'brien@example.org"}}})
        r = self.fedi("eval")
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()
