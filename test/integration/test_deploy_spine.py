"""The deploy spine end to end: the real fedi binary, real Nix, real sshd test hosts.

Each test host is an OpenSSH server in private namespaces with its own Nix store, so
what a host holds and what its profile points at is observed inside that host.
"""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import fedi_testlib as lib

SOURCE = os.environ.get("FEDI_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
MINIMAL_SYSTEM = os.path.join(SOURCE, "resources", "minimal-system.nix")


def machine_nix(name, host, system_args, extra="", pin=True):
    pin_line = f'hostKey = "{host["hostKey"]}";' if pin else ""
    return f"""
  machines.{name} = {{
    ssh = {{ host = "{host['host']}"; port = {host['port']}; user = "root"; {pin_line}
            identityFile = "{host['identityFile']}"; }};
    system = mkSystem {{ {system_args} }};
    {extra}
  }};"""


def deployment_nix(machines):
    return (f"let mkSystem = import {MINIMAL_SYSTEM}; in {{" + "".join(machines) + "\n}\n")


class SpineTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hosts = lib.TestHosts(3)
        cls.addClassCleanup(cls.hosts.stop)
        for h in cls.hosts.hosts:
            h["identityFile"] = str(cls.hosts.identity_file())

    def setUp(self):
        # A private HOME: no known_hosts, no agent, nothing from the machine's user.
        lib.private_workdir(self, "fedi-spine-")
        # Systems unique to this test, so no earlier test left their paths on the hosts.
        self.nonce = f"{self._testMethodName}-{time.time_ns()}"
        # Every test starts from machines on which fedi never deployed.
        lib.reset_hosts(self.hosts)

    def write(self, machines):
        with open(os.path.join(self.dir, "deployment.nix"), "w") as f:
            f.write(deployment_nix(machines))

    def three(self, tag="v1", fail_on=None):
        ms = []
        for i, name in enumerate(["a", "b", "c"]):
            h = self.hosts.hosts[i]
            ms.append(machine_nix(name, h, f'name = "{name}"; message = "{name} {tag} {self.nonce}";'))
        self.write(ms)

    def fedi(self, *args, input=None):
        return lib.run_fedi(list(args), cwd=self.dir, env=self.env, input=input)

    def deploy_json(self, *args):
        r = self.fedi("--json", "deploy", *args)
        try:
            doc = json.loads(r.stdout)
        except ValueError:
            self.fail(f"deploy printed no JSON (exit {r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r, {m["name"]: m for m in doc["machines"]}

    def wanted_systems(self):
        r = self.fedi("eval")
        self.assertEqual(r.returncode, 0, r.stderr)
        model = json.loads(r.stdout)
        return {n: m["system"]["outPath"] for n, m in model["machines"].items()}

    def host_of(self, machine):
        return self.hosts.hosts[["a", "b", "c"].index(machine)]["name"]

    def on_host(self, machine, *cmd):
        r = self.hosts.exec(self.host_of(machine), *cmd)
        return r.stdout.strip()

    def activation_log(self, machine):
        return self.on_host(machine, "sh", "-c",
                            "cat /var/lib/fedi-test/activations.log 2>/dev/null || true")

    def test_deploy_converges_and_redeploy_sends_nothing(self):
        self.three()
        r, res = self.deploy_json()
        self.assertEqual(r.returncode, 0, r.stderr)
        wanted = self.wanted_systems()
        for name in ["a", "b", "c"]:
            self.assertEqual(res[name]["result"], "deployed")
            self.assertGreater(res[name]["pathsSent"], 0)
            profile = self.on_host(name, "readlink", "-f", "/nix/var/nix/profiles/system")
            self.assertEqual(profile, wanted[name])
            self.assertIn(f"switch {wanted[name]}", self.activation_log(name))
            # Every path of the closure is valid in the host's own store.
            self.on_host(name, "nix-store", "--verify-path", wanted[name])
        state_file = os.path.join(self.dir, ".fedi", "state.json")
        self.assertEqual(os.stat(state_file).st_mode & 0o777, 0o600)
        with open(state_file) as f:
            state = json.load(f)
        self.assertEqual(state["machines"]["a"]["generations"][-1]["system"], wanted["a"])

        logs_before = {n: self.activation_log(n) for n in "abc"}
        r, res = self.deploy_json()
        self.assertEqual(r.returncode, 0, r.stderr)
        for name in "abc":
            self.assertEqual(res[name]["pathsSent"], 0)
            self.assertEqual(res[name]["narBytes"], 0)
            self.assertEqual(res[name]["bytesSent"], 0)  # nothing to push: no push at all
            self.assertEqual(res[name]["result"], "unchanged")
            self.assertEqual(self.activation_log(name), logs_before[name])
        with open(state_file) as f:
            self.assertEqual(len(json.load(f)["machines"]["a"]["generations"]), 1)

        # fedi status agrees with the machines.
        r = self.fedi("--json", "status")
        self.assertEqual(r.returncode, 0, r.stderr)
        status = {m["name"]: m for m in json.loads(r.stdout)["machines"]}
        self.assertEqual(status["a"]["status"], "up to date")
        self.assertEqual(status["a"]["current"], wanted["a"])

    def test_changed_system_sends_only_new_paths(self):
        self.three()
        r, _ = self.deploy_json()
        self.assertEqual(r.returncode, 0, r.stderr)
        old = self.wanted_systems()
        ms = []
        for i, name in enumerate(["a", "b", "c"]):
            msg = f"b v2 {self.nonce}" if name == "b" else f"{name} v1 {self.nonce}"
            ms.append(machine_nix(name, self.hosts.hosts[i], f'name = "{name}"; message = "{msg}";'))
        self.write(ms)
        new = self.wanted_systems()
        self.assertNotEqual(old["b"], new["b"])
        r, res = self.deploy_json()
        self.assertEqual(r.returncode, 0, r.stderr)
        closure = lambda p: set(subprocess.run(["nix-store", "-qR", p], capture_output=True,
                                               text=True, check=True).stdout.split())
        expected_new = closure(new["b"]) - closure(old["b"])
        self.assertEqual(res["b"]["pathsSent"], len(expected_new))
        self.assertEqual(res["a"]["pathsSent"], 0)
        self.assertEqual(res["c"]["pathsSent"], 0)
        self.assertEqual(res["b"]["result"], "deployed")
        self.assertEqual(res["a"]["result"], "unchanged")
        self.assertEqual(self.on_host("b", "readlink", "-f", "/nix/var/nix/profiles/system"),
                         new["b"])

    def test_failing_activation_fails_that_machine(self):
        self.three()
        self.on_host("b", "sh", "-c", "mkdir -p /var/lib/fedi-test && "
                                      "touch /var/lib/fedi-test/fail-next-activation")
        r, res = self.deploy_json()
        self.assertEqual(r.returncode, 1)
        self.assertEqual(res["b"]["result"], "failed")
        self.assertEqual(res["b"]["failedPhase"], "activate")
        self.assertIn("switch-to-configuration switch failed (exit status 1)", res["b"]["error"])
        self.assertTrue(any("fail" in l for l in res["b"]["logTail"]), res["b"]["logTail"])
        self.assertEqual(res["a"]["result"], "deployed")
        self.assertEqual(res["c"]["result"], "deployed")
        self.assertIn("b:", r.stderr)

    def test_failing_build_names_the_machine(self):
        ms = [machine_nix("a", self.hosts.hosts[0], 'name = "a";'),
              machine_nix("b", self.hosts.hosts[1], 'name = "b"; fail = true;')]
        # minimal-system's `fail` breaks activation; a broken build needs a bad builder.
        ms[1] = ms[1].replace('system = mkSystem { name = "b"; fail = true; };',
                              'system = derivation { name = "broken-system"; '
                              'system = builtins.currentSystem; builder = "/bin/sh"; '
                              f'args = [ "-c" "echo compiling; echo broken-marker-{time.time_ns()} >&2; exit 7" ]; }};')
        self.write(ms)
        r, res = self.deploy_json()
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(res["b"]["result"], "failed")
        self.assertEqual(res["b"]["failedPhase"], "build")
        self.assertIn("broken-system", res["b"]["error"])
        self.assertTrue(any("broken-marker" in l for l in res["b"]["logTail"]), res["b"])
        self.assertEqual(res["a"]["result"], "deployed")

    def test_unknown_host_key_refused_unless_accepted_and_changed_key_always_refused(self):
        h = self.hosts.hosts[0]
        self.write([machine_nix("a", h, 'name = "a";', pin=False)])
        r, res = self.deploy_json()
        self.assertEqual(r.returncode, 1)
        self.assertEqual(res["a"]["failedPhase"], "connect")
        self.assertIn("--accept-new-host-keys", res["a"]["error"])
        self.assertEqual(self.on_host("a", "sh", "-c",
                                      "readlink /nix/var/nix/profiles/system || true"), "")

        # A global option: a read-only command trusts the key for itself, recording nothing.
        r = self.fedi("status", "--accept-new-host-keys")
        self.assertIn("for this command only", r.stderr)
        state_file = os.path.join(self.dir, ".fedi", "state.json")
        if os.path.exists(state_file):
            with open(state_file) as f:
                self.assertNotIn("hostKeys", f.read())

        r, res = self.deploy_json("--accept-new-host-keys")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(self.dir, ".fedi", "state.json")) as f:
            keys = json.load(f)["machines"]["a"]["hostKeys"]
        self.assertEqual(keys, [h["hostKey"]])
        r, res = self.deploy_json()  # trusted now, without the flag
        self.assertEqual(r.returncode, 0, r.stderr)

        # Same machine name, another host behind it: its key differs from the recorded one.
        other = dict(self.hosts.hosts[1])
        self.write([machine_nix("a", other, 'name = "a";', pin=False)])
        r, res = self.deploy_json("--accept-new-host-keys")
        self.assertEqual(r.returncode, 1)
        self.assertIn("changed", res["a"]["error"].lower())

        # A pinned key that is not the host's is refused too.
        wrong = dict(h)
        wrong["hostKey"] = other["hostKey"]
        self.write([machine_nix("a", wrong, 'name = "a";')])
        r, res = self.deploy_json("--accept-new-host-keys")
        self.assertEqual(r.returncode, 1)
        self.assertIn("changed", res["a"]["error"].lower())

    def test_concurrent_deploy_stops_at_once_on_the_lock(self):
        # The first deploy holds the lock while it waits on a server that accepts the
        # TCP connection and never speaks SSH.
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        self.addCleanup(listener.close)
        silent = {"host": "127.0.0.1", "port": listener.getsockname()[1],
                  "hostKey": self.hosts.hosts[0]["hostKey"],
                  "identityFile": self.hosts.hosts[0]["identityFile"]}
        self.write([machine_nix("a", silent, 'name = "a";')])
        first = subprocess.Popen([os.environ["FEDI_BIN"], "deploy"], cwd=self.dir, env=self.env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: (first.kill(), first.communicate()))
        lock = os.path.join(self.dir, ".fedi", "state.json.lock")
        deadline = time.time() + 60
        while time.time() < deadline:
            if os.path.exists(lock) and os.path.getsize(lock) > 0:
                break
            time.sleep(0.05)
        start = time.time()
        r = self.fedi("deploy")
        elapsed = time.time() - start
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("locked by another fedi", r.stderr)
        self.assertIn(f"pid {first.pid}", r.stderr)
        self.assertLess(elapsed, 10)
        self.assertIsNone(first.poll())


class DeploymentFileErrorsTest(unittest.TestCase):
    """Malformed deployment files: exit code 2 and a message naming what is wrong."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fedi-badfile-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.env = lib.nix_env()

    def check(self, text, *needles):
        with open(os.path.join(self.dir, "deployment.nix"), "w") as f:
            f.write(text)
        for cmd in (["eval"], ["deploy"]):
            r = lib.run_fedi(cmd, cwd=self.dir, env=self.env)
            self.assertEqual(r.returncode, 2, f"{cmd}: {r.stdout}\n{r.stderr}")
            for n in needles:
                self.assertIn(n, r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, ".fedi", "state.json")))

    def machine(self, extra="", port="22"):
        return (f'let mkSystem = import {MINIMAL_SYSTEM}; in {{ machines.web = {{ '
                f'ssh = {{ host = "127.0.0.1"; port = {port}; }}; '
                f'system = mkSystem {{ name = "web"; }}; {extra} }}; }}')

    def test_syntax_error(self):
        self.check("{ machines.web = { ssh = ; }; }", "deployment.nix:1", "syntax error")

    def test_wrong_type(self):
        self.check(self.machine(port='"22"'), "machines.web.ssh.port", "expected an integer")

    def test_unknown_attribute(self):
        self.check(self.machine(extra='tagz = [ "x" ];'), "machines.web.tagz",
                   "unknown attribute")

    def test_missing_file(self):
        r = lib.run_fedi(["-f", "nope.nix", "eval"], cwd=self.dir, env=self.env)
        self.assertEqual(r.returncode, 2)
        self.assertIn("nope.nix does not exist", r.stderr)


if __name__ == "__main__":
    unittest.main()
