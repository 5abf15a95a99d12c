"""Declared secrets (`secrets.<name>`) delivered to a real sshd test host by `fedi deploy`:
exactly the declared owner, group and mode; removed when no longer declared; listed by
`fedi status`; and the values never in process arguments (deployer or host), fedi's
output, --json or a Nix store.
"""
import json
import os
import secrets
import shutil
import tempfile
import time
import unittest

import fedi_testlib as lib
import leakcheck

SECRETS_DIR = "/var/lib/fedi/secrets"


class SecretsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hosts = lib.TestHosts(1, prefix="sec")
        cls.addClassCleanup(cls.hosts.stop)
        cls.host = cls.hosts.names[0]

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fedi-secrets-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.env = lib.isolated_env(os.path.join(self.dir, "home"))
        os.makedirs(os.path.join(self.dir, "home"))
        lib.reset_hosts(self.hosts)
        self.hosts.exec(self.host, "rm", "-rf", SECRETS_DIR)
        self.nonce = f"{time.time_ns()}"

    def write_deployment(self, declared):
        machines = self.hosts.machines(systems={self.host: lib.system_expr(
            self.host, message=f"secrets {self.nonce}")})
        machines = {"web": machines[self.host]}
        lib.write_file(os.path.join(self.dir, "deployment.nix"),
                       lib.render_deployment(machines, {"secrets": declared}))

    def fedi(self, *args):
        return lib.run_fedi(list(args), cwd=self.dir, env=self.env)

    def on_host(self, *cmd):
        r = self.hosts.exec(self.host, *cmd)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def files_on_host(self):
        out = self.on_host("sh", "-c", f"for f in {SECRETS_DIR}/*; do [ -e \"$f\" ] && "
                                       "stat -c '%n %U %G %a' \"$f\"; done; true")
        return {line.split()[0].rsplit("/", 1)[1]: tuple(line.split()[1:])
                for line in out.splitlines()}

    def content(self, name):
        return self.on_host("cat", f"{SECRETS_DIR}/{name}")

    def state(self):
        path = os.path.join(self.dir, ".fedi", "state.json")
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        with open(path) as f:
            return json.load(f)

    def test_delivery_owner_mode_removal_and_no_leaks(self):
        file_value = "file-secret-" + secrets.token_hex(12)
        command_value = "cmd-secret-" + secrets.token_hex(12)
        value_file = lib.write_file(os.path.join(self.dir, "keys", "value.txt"), file_value + "\n")
        command_file = lib.write_file(os.path.join(self.dir, "keys", "token"), command_value + "\n")
        declared = {
            "gen": {"machine": "web", "owner": "nobody", "group": "nogroup", "mode": "0440",
                    "source": {"generate": {"length": 40}}},
            "fromfile": {"machine": "web", "source": {"file": lib.nix_path(value_file)}},
            "cmd": {"machines": ["web"], "name": "api.env", "owner": "daemon", "mode": "0600",
                    "environmentVariable": "API_TOKEN",
                    "source": {"command": f"cat {command_file}"}},
        }
        self.write_deployment(declared)
        store = leakcheck.StoreMarker()
        with leakcheck.PsSampler(self.hosts, [self.host]) as ps:
            r = self.fedi("-v", "deploy")
            rj = self.fedi("--json", "-v", "deploy")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(rj.returncode, 0, rj.stdout + rj.stderr)
        self.assertIn("secrets written: ", r.stderr)

        generated = self.state()["secrets"]["gen"]["value"]
        self.assertEqual(len(generated), 40)
        self.assertEqual(self.files_on_host(), {
            "gen": ("nobody", "nogroup", "440"),
            "fromfile": ("root", "root", "400"),
            "api.env": ("daemon", "daemon", "600"),
        })
        self.assertEqual(self.on_host("stat", "-c", "%U %a", SECRETS_DIR).strip(), "root 700")
        self.assertEqual(self.content("gen"), generated)
        self.assertEqual(self.content("fromfile"), file_value + "\n")
        self.assertEqual(self.content("api.env"), f"API_TOKEN={command_value}\n")

        # fedi status lists them (names, owners, modes), never their contents.
        st = self.fedi("--json", "status")
        self.assertEqual(st.returncode, 0, st.stderr)
        listed = {s["name"]: (s["owner"], s["group"], s["mode"])
                  for s in json.loads(st.stdout)["machines"][0]["secrets"]}
        self.assertEqual(listed["gen"], ("nobody", "nogroup", "0440"))
        self.assertEqual(len(listed), 3)
        st_text = self.fedi("status")
        self.assertRegex(st_text.stdout, r"(?m)^web\s+gen\s+nobody:nogroup\s+0440\s*$")

        self.assertGreater(ps.count("deployer"), 5)
        self.assertGreater(ps.count(self.host), 2)
        new_paths = store.new_paths()
        for value in (generated, file_value, command_value):
            self.assertIsNone(ps.find(value), "a secret value was in a process's arguments")
            for text in (r.stdout, r.stderr, rj.stdout, rj.stderr, st.stdout, st_text.stdout,
                         st_text.stderr):
                self.assertNotIn(value, text)
            self.assertIsNone(leakcheck.grep_paths(new_paths, value))
            self.assertIsNone(leakcheck.grep_paths(
                [leakcheck.host_store(self.hosts, self.host)], value))

        # No longer declared: removed. A changed mode is applied; the generated value stays.
        del declared["fromfile"]
        declared["gen"]["mode"] = "0400"
        self.write_deployment(declared)
        r = self.fedi("deploy")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("secrets removed (no longer declared): fromfile", r.stderr)
        self.assertEqual(self.files_on_host(), {
            "gen": ("nobody", "nogroup", "400"),
            "api.env": ("daemon", "daemon", "600"),
        })
        self.assertEqual(self.content("gen"), generated)

    def test_a_failing_command_source_stops_the_deploy_before_any_change(self):
        self.write_deployment({
            "bad": {"machine": "web", "source": {"command": "printf 'leaked-%s' value; exit 4"}}})
        r = self.fedi("deploy")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("secrets.bad.source.command", r.stderr)
        self.assertIn("exited with status 4", r.stderr)
        self.assertNotIn("leaked-value", r.stderr + r.stdout)
        # Nothing reached the machine: no activation, no secrets directory.
        self.assertEqual(self.hosts.exec(self.host, "test", "-e", SECRETS_DIR).returncode, 1)
        self.assertEqual(self.hosts.exec(
            self.host, "test", "-e", "/var/lib/fedi-test/activations.log").returncode, 1)

    def test_dangling_reference_is_a_deployment_error(self):
        self.write_deployment({"x": {"machine": "nope"}})
        r = self.fedi("deploy")
        self.assertEqual(r.returncode, 2)
        self.assertIn('secrets.x.machine: no machine named "nope"', r.stderr)


if __name__ == "__main__":
    unittest.main()
