"""Safe activation under fault injection: failed activations roll back, a system that
breaks SSH reverts by itself, dropped connections are survived, a killed fedi leaves
machines on one whole generation, and a failing health check stops the rollout.
Each test fails if the behaviour it names is removed."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import fedi_testlib as lib

NAMES = ["a", "b", "c"]


class SafeActivationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hosts = lib.TestHosts(len(NAMES))
        cls.addClassCleanup(cls.hosts.stop)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fedi-safe-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.env = lib.isolated_env(self.dir)
        self.nonce = f"{self._testMethodName}-{time.time_ns()}"
        lib.reset_hosts(self.hosts)

    def write(self, version, only=NAMES, after=None, checks=None, **system_args):
        machines = {}
        for i, name in enumerate(NAMES):
            if name not in only:
                continue
            attrs = {}
            if after and name in after:
                attrs["after"] = after[name]
            if checks and name in checks:
                attrs["healthChecks"] = checks[name]
            machines[name] = lib.machine(
                self.hosts.hosts[i], identity_file=self.hosts.identity_file(),
                system=lib.system_expr(name, message=f"{name} {self.nonce}", version=version,
                                       **system_args.get(name, {})),
                **attrs)
        lib.write_file(os.path.join(self.dir, "deployment.nix"), lib.render_deployment(machines))
        r = lib.run_fedi(["eval"], cwd=self.dir, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        return {n: m["system"]["outPath"] for n, m in json.loads(r.stdout)["machines"].items()}

    def deploy(self, *args):
        r = lib.run_fedi(["--json", "deploy", *args], cwd=self.dir, env=self.env)
        try:
            doc = json.loads(r.stdout)
        except ValueError:
            self.fail(f"no JSON (exit {r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r, {m["name"]: m for m in doc["machines"]}

    def on(self, machine, script):
        return self.hosts.exec(self.hosts.hosts[NAMES.index(machine)]["name"], "sh", "-c",
                               script).stdout.strip()

    def profile(self, m):
        return self.on(m, "readlink -e /nix/var/nix/profiles/system || true")

    def current(self, m):
        return self.on(m, "readlink -e /run/current-system || true")

    def test_failed_activation_puts_the_previous_generation_back(self):
        v1 = self.write("1", only=["a"])
        r, res = self.deploy()
        self.assertEqual(r.returncode, 0, r.stderr)
        v2 = self.write("2", only=["a"])
        self.on("a", "touch /var/lib/fedi-test/fail-next-activation")
        r, res = self.deploy()
        self.assertEqual(r.returncode, 1)
        self.assertIn("the system profile was set back to generation", res["a"]["error"])
        self.assertIn(f"the previously running system {v1['a']} was activated again",
                      res["a"]["error"])
        self.assertEqual(self.profile("a"), v1["a"])
        self.assertEqual(self.current("a"), v1["a"])
        # --no-rollback keeps the failed system for debugging.
        self.on("a", "touch /var/lib/fedi-test/fail-next-activation")
        r, res = self.deploy("--no-rollback")
        self.assertEqual(r.returncode, 1)
        self.assertIn("left in place", res["a"]["error"])
        self.assertEqual(self.profile("a"), v2["a"])

    def test_system_that_breaks_ssh_reverts_by_itself(self):
        v1 = self.write("1", only=["a"])
        r, res = self.deploy()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.write("2", only=["a"], **{"a": {"breakSsh": True}})
        start = time.time()
        r, res = self.deploy("--confirm-timeout", "4")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("could not be confirmed", res["a"]["error"])
        self.assertLess(time.time() - start, 60)
        self.assertEqual(self.profile("a"), v1["a"])
        self.assertEqual(self.current("a"), v1["a"])
        # Reachable again: the previous system started sshd.
        r = lib.run_fedi(["--json", "status"], cwd=self.dir, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_connection_cut_mid_activation_is_survived(self):
        self.write("1", only=["a"])
        v2 = self.write("2", only=["a"])
        self.on("a", "mkdir -p /var/lib/fedi-test && echo 3 > /var/lib/fedi-test/delay-next-activation")
        proc = subprocess.Popen([os.environ["FEDI_BIN"], "--json", "deploy"], cwd=self.dir,
                                env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.on("a", "ls /var/lib/fedi/activations/*.log 2>/dev/null | head -1"):
                break
            time.sleep(0.1)
        time.sleep(0.5)
        self.hosts.kill_sessions(self.hosts.hosts[0]["name"])
        out, err = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn("reconnected", err)
        self.assertEqual(self.profile("a"), v2["a"])
        self.assertEqual(self.current("a"), v2["a"])

    def test_connection_cut_mid_push_then_rerun_sends_only_the_rest(self):
        v1 = self.write("1", only=["a"])
        r, res = self.deploy()
        self.assertEqual(r.returncode, 0, r.stderr)
        # Payload sizes unique to this run, so every payload path is new to the host.
        size = 4_000_000 + time.time_ns() % 1000
        v2 = self.write("2", only=["a"], **{"a": {"payloadFiles": 50, "payloadSize": size}})
        proc = subprocess.Popen([os.environ["FEDI_BIN"], "--json", "deploy"], cwd=self.dir,
                                env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if int(self.on("a", "ls /nix/store | grep -c fedi-test-payload || true") or 0) >= 3:
                break
            time.sleep(0.02)
        self.hosts.kill_sessions(self.hosts.hosts[0]["name"])
        out, err = proc.communicate(timeout=120)
        res = {m["name"]: m for m in json.loads(out)["machines"]}
        self.assertEqual(proc.returncode, 1, err)
        self.assertEqual(res["a"]["failedPhase"], "push")
        # Still on its old generation, whole.
        self.assertEqual(self.profile("a"), v1["a"])
        self.assertEqual(self.current("a"), v1["a"])
        closure = lambda p: set(subprocess.run(["nix-store", "-qR", p], capture_output=True,
                                               text=True, check=True).stdout.split())
        new = closure(v2["a"]) - closure(v1["a"])
        # Valid paths only: one cut mid-way is on disk but was never registered.
        invalid = set(self.hosts.exec(self.hosts.hosts[0]["name"], "nix-store",
                                      "--check-validity", "--print-invalid",
                                      *sorted(new)).stdout.split())
        arrived = new - invalid
        self.assertGreater(len(arrived), 0)
        self.assertLess(len(arrived), len(new))
        r, res = self.deploy()
        self.assertEqual(r.returncode, 0, r.stderr)
        # What arrived before the cut is not sent again.
        self.assertEqual(res["a"]["pathsSent"], len(new - arrived))
        self.assertEqual(self.current("a"), v2["a"])

    def test_killed_fedi_leaves_one_generation_and_rerun_converges(self):
        v1 = self.write("1", only=["a"])
        r, res = self.deploy()
        self.assertEqual(r.returncode, 0, r.stderr)
        v2 = self.write("2", only=["a"])
        self.on("a", "echo 2 > /var/lib/fedi-test/delay-next-activation")
        proc = subprocess.Popen([os.environ["FEDI_BIN"], "deploy", "--confirm-timeout", "3"],
                                cwd=self.dir, env=self.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.on("a", "ls /var/lib/fedi/activations/*.log 2>/dev/null | wc -l") == "2":
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with open(os.path.join(self.dir, ".fedi", "state.json")) as f:
            json.load(f)  # parses
        # Unconfirmed (fedi died), the machine goes back to v1 by itself; never between.
        time.sleep(7)
        self.assertIn(self.profile("a"), (v1["a"], v2["a"]))
        self.assertEqual(self.profile("a"), self.current("a"))
        r, res = self.deploy()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.profile("a"), v2["a"])
        self.assertEqual(self.current("a"), v2["a"])

    def test_failing_health_check_rolls_back_and_stops_the_rollout(self):
        check = [{"command": "/run/current-system/bin/health-check", "attempts": 2,
                  "interval": 0, "timeout": 5}]
        v1 = self.write("1", after={"b": ["a"], "c": ["b"]}, checks={"a": check})
        r, res = self.deploy()
        self.assertEqual(r.returncode, 0, r.stderr)
        logs = {n: self.on(n, "cat /var/lib/fedi-test/activations.log") for n in NAMES}
        self.write("2", after={"b": ["a"], "c": ["b"]}, checks={"a": check})
        self.on("a", "echo broken on purpose > /var/lib/fedi-test/unhealthy")
        r, res = self.deploy()
        self.assertEqual(r.returncode, 1)
        self.assertIn("health check failed", res["a"]["error"])
        self.assertIn(f"the previously running system {v1['a']} was activated again",
                      res["a"]["error"])
        self.assertEqual(self.current("a"), v1["a"])
        self.assertEqual(self.profile("a"), v1["a"])
        for n in ["b", "c"]:
            self.assertEqual(res[n]["result"], "skipped")
            self.assertEqual(self.on(n, "cat /var/lib/fedi-test/activations.log"), logs[n])
            self.assertEqual(self.current(n), v1[n])

    def test_http_health_check_from_the_deployer(self):
        import http.server
        import threading
        answer = {"status": 200}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(answer["status"] if self.path == "/health" else 404)
                self.end_headers()

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.shutdown)
        check = [{"http": f"http://127.0.0.1:{server.server_address[1]}/health",
                  "attempts": 2, "interval": 0, "timeout": 5}]
        v1 = self.write("1", only=["a"], checks={"a": check})
        r, res = self.deploy()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("health check passed: GET http://127.0.0.1", r.stderr)
        answer["status"] = 503
        self.write("2", only=["a"], checks={"a": check})
        r, res = self.deploy()
        self.assertEqual(r.returncode, 1)
        self.assertIn("HTTP 503 (expected 200)", res["a"]["error"])
        self.assertEqual(self.current("a"), v1["a"])

    def test_rollback_command(self):
        v1 = self.write("1", only=["a"])
        self.deploy()
        v2 = self.write("2", only=["a"])
        r, res = self.deploy()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.current("a"), v2["a"])
        r = lib.run_fedi(["--json", "rollback", "a"], cwd=self.dir, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["machines"][0]["result"], "rolled back")
        self.assertEqual(self.current("a"), v1["a"])
        self.assertEqual(self.profile("a"), v1["a"])
        r = lib.run_fedi(["--json", "status"], cwd=self.dir, env=self.env)
        st = json.loads(r.stdout)["machines"][0]
        self.assertEqual(st["current"], v1["a"])
        self.assertEqual(st["generations"][-1]["goal"], "rollback")


if __name__ == "__main__":
    unittest.main()
