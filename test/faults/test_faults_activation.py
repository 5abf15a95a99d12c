"""Faults during deploy and activation: fedi SIGKILLed at each phase (push, secrets,
activation, confirmation), the machine's sshd killed, sessions killed, a frozen
connection, /nix and /var/lib/fedi full on the machine, and a system whose activation
prints fedi's protocol lines to spoof it.

Each case asserts that the machine is on its old or its new generation (never between:
profile and running system agree and their closure is valid), that no data was lost
(a canary file on the machine, fedi's state file), that fedi's report is true (exit
code, result and message against what the machine runs), and that a re-run converges.
The counts are printed at the end: "faults injected: N, survived: M"."""
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import fedi_testlib as lib

ACTIVATIONS = "/var/lib/fedi/activations"
RUNTIME = "/run/fedi/activations"
CANARY = "/var/lib/fedi-canary"


class ActivationFaultsTest(unittest.TestCase):
    injected = 0
    survived = 0

    @classmethod
    def setUpClass(cls):
        # Host 0 takes the faults of processes and connections; host 1 the full disks
        # (tmpfs mounted over its directories), so neither's mounts disturb the other.
        cls.hosts = lib.TestHosts(2, prefix="fault")
        cls.addClassCleanup(cls.hosts.stop)
        cls.canary = secrets.token_hex(16)
        for h in cls.hosts.hosts:
            cls.hosts.exec(h["name"], "sh", "-c", f"echo {cls.canary} > {CANARY}")

    @classmethod
    def tearDownClass(cls):
        print(f"\nfaults injected: {cls.injected}, survived: {cls.survived}", flush=True)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fedi-faults-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.env = lib.isolated_env(self.dir)
        self.nonce = f"{self._testMethodName}-{time.time_ns()}"
        lib.reset_hosts(self.hosts)
        self.host = self.hosts.hosts[0]
        self.secrets = {}

    # ---- deployment and machine ----

    def use_host(self, index):
        self.host = self.hosts.hosts[index]

    def write(self, version, checks=None, **system_args):
        attrs = {"healthChecks": checks} if checks else {}
        machines = {"m": lib.machine(
            self.host, identity_file=self.hosts.identity_file(),
            system=lib.system_expr(self.host["name"], message=f"m {self.nonce}",
                                   version=version, **system_args), **attrs)}
        extra = {"secrets": self.secrets} if self.secrets else None
        lib.write_file(os.path.join(self.dir, "deployment.nix"),
                       lib.render_deployment(machines, extra))
        r = lib.run_fedi(["eval"], cwd=self.dir, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)["machines"]["m"]["system"]["outPath"]

    def deploy(self, *args, timeout=300):
        r = lib.run_fedi(["--json", "deploy", *args], cwd=self.dir, env=self.env,
                         timeout=timeout)
        try:
            doc = json.loads(r.stdout)
        except ValueError:
            self.fail(f"no JSON (exit {r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r, doc["machines"][0]

    def start_deploy(self, *args):
        return subprocess.Popen([os.environ["FEDI_BIN"], "--json", "deploy", *args],
                                cwd=self.dir, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def finish(self, proc, timeout=240):
        out, err = proc.communicate(timeout=timeout)
        try:
            return proc.returncode, json.loads(out)["machines"][0], err
        except ValueError:
            self.fail(f"no JSON (exit {proc.returncode}):\n{out}\n{err}")

    def on(self, script, timeout=60):
        return self.hosts.exec(self.host["name"], "sh", "-c", script,
                               timeout=timeout).stdout.strip()

    def wait_on(self, script, what, timeout=60):
        """Waits, polling inside the machine, until script exits 0."""
        r = self.hosts.exec(self.host["name"], "sh", "-c",
                            f"i=0; until ( {script} ); do i=$((i + 1)); "
                            f"[ $i -lt {timeout * 50} ] || exit 1; sleep 0.02; done",
                            timeout=timeout + 10)
        self.assertEqual(r.returncode, 0, f"timed out waiting for {what}")

    def profile(self):
        return self.on("readlink -e /nix/var/nix/profiles/system || true")

    def current(self):
        return self.on("readlink -e /run/current-system || true")

    def wait_settled(self, timeout=90):
        """Until no activation runs or waits on the machine."""
        self.wait_on(f"! ls {RUNTIME}/*.waiting >/dev/null 2>&1 && "
                     f"for f in {ACTIVATIONS}/*.log {RUNTIME}/*.log; do [ -e \"$f\" ] || continue; "
                     f"i=${{f##*/}}; i=${{i%.log}}; [ -e {ACTIVATIONS}/$i.result ] || "
                     f"[ -e {RUNTIME}/$i.result ] || exit 1; done", "the activation to end",
                     timeout)

    def state(self):
        with open(os.path.join(self.dir, ".fedi", "state.json")) as f:
            return json.load(f)  # parses: never half-written

    # ---- the invariants ----

    def assert_whole(self, allowed):
        """The machine runs one of `allowed` wholly: profile and running system agree,
        their closure is valid on the machine, and the canary is intact."""
        profile, current = self.profile(), self.current()
        self.assertIn(current, allowed, "the machine runs neither the old nor the new system")
        self.assertEqual(profile, current, "profile and running system disagree")
        r = self.hosts.exec(self.host["name"], "nix-store", "--check-validity", current)
        self.assertEqual(r.returncode, 0, f"the running system is not valid: {r.stderr}")
        self.assertEqual(self.on(f"cat {CANARY}"), self.canary, "the canary changed")
        return current

    def assert_report_true(self, rc, res, running, new):
        """fedi's exit code and result say what the machine runs."""
        if running == new:
            self.assertEqual(rc, 0, res)
            self.assertIn(res["result"], ("deployed", "unchanged"))
        else:
            self.assertEqual(rc, 1, res)
            self.assertEqual(res["result"], "failed")
            self.assertTrue(res.get("error"), res)

    def assert_rerun_converges(self, new):
        r, res = self.deploy()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.assert_whole([new]), new)
        gens = self.state()["machines"]["m"]["generations"]
        self.assertEqual(gens[-1]["system"], new)

    def inject(self):
        type(self).injected += 1

    def survive(self):
        type(self).survived += 1

    def baseline(self, **system_args):
        """v1 deployed; returns (v1, v2 written but not deployed)."""
        v1 = self.write("1")
        r, res = self.deploy()
        self.assertEqual(r.returncode, 0, r.stderr)
        v2 = self.write("2", **system_args)
        self.clear_activation_logs()
        return v1, v2

    def clear_activation_logs(self):
        """So that waiting for "a log" means waiting for the next activation's."""
        self.on(f"rm -f {ACTIVATIONS}/*.log {ACTIVATIONS}/*.result {RUNTIME}/*")

    def wait_activation_started(self):
        self.wait_on(f"ls {ACTIVATIONS}/*.log {RUNTIME}/*.log 2>/dev/null | grep -q .",
                     "the activation to start")

    def sigkill(self, proc):
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        self.state()

    # ---- fedi killed ----

    def test_sigkill_during_push(self):
        v1 = self.write("1")
        self.deploy()
        size = 2_000_000 + time.time_ns() % 1000  # new payload paths every run
        v2 = self.write("2", payloadFiles=20, payloadSize=size)
        self.inject()
        proc = self.start_deploy()
        self.wait_on("[ $(ls /nix/store | grep -c fedi-test-payload) -ge 2 ]", "the push")
        self.sigkill(proc)
        self.assertEqual(self.assert_whole([v1]), v1)
        self.assert_rerun_converges(v2)
        self.survive()

    def test_sigkill_after_push_in_secrets(self):
        value = secrets.token_hex(12)
        self.secrets = {"token": {"machine": "m", "source": {"command": f"echo {value}"}}}
        v1, v2 = self.baseline(payloadFiles=3, payloadSize=1_000_000 + time.time_ns() % 1000)
        self.inject()
        proc = self.start_deploy()
        # The closure is on the machine: fedi is writing secrets or starting activation.
        self.wait_on(f"nix-store --check-validity {v2} 2>/dev/null", "the push to end")
        self.sigkill(proc)
        self.wait_settled()
        self.assert_whole([v1, v2])
        # A secret file is whole or absent, never cut.
        got = self.on("cat /var/lib/fedi/secrets/token 2>/dev/null || true")
        self.assertIn(got, ("", value))
        self.assert_rerun_converges(v2)
        self.assertEqual(self.on("cat /var/lib/fedi/secrets/token"), value)
        self.survive()

    def test_sigkill_during_activation(self):
        v1, v2 = self.baseline()
        self.on("mkdir -p /var/lib/fedi-test && echo 2 > /var/lib/fedi-test/delay-next-activation")
        self.inject()
        proc = self.start_deploy("--confirm-timeout", "3")
        self.wait_activation_started()
        self.sigkill(proc)
        # Nobody confirms: the machine goes back to v1 by itself.
        self.wait_settled()
        self.assertEqual(self.assert_whole([v1, v2]), v1)
        self.assert_rerun_converges(v2)
        self.survive()

    def test_sigkill_during_confirmation_status_then_rerun(self):
        # A health check that takes a while keeps fedi in the confirmation window.
        check = [{"command": "sleep 3", "attempts": 1, "interval": 0, "timeout": 5}]
        v1 = self.write("1", checks=check)
        self.deploy()
        v2 = self.write("2", checks=check)
        self.inject()
        proc = self.start_deploy("--confirm-timeout", "3")
        self.wait_on(f"ls {RUNTIME}/*.waiting >/dev/null 2>&1", "the confirmation window")
        self.sigkill(proc)
        # status says the truth: the new system runs, but it will revert.
        r = lib.run_fedi(["--json", "status"], cwd=self.dir, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        st = json.loads(r.stdout)["machines"][0]
        self.assertEqual(st["current"], v2)
        self.assertRegex(st["status"], r"^awaiting confirmation \(reverts in [0-9]+ s\)$")
        self.assertGreater(st["revertsInSeconds"], 0)
        # The re-run lets the abandoned activation end, then deploys v2 properly.
        start = time.time()
        r, res = self.deploy()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("is awaiting confirmation", r.stderr)
        self.assertIn("waiting for it to end before changing the machine", r.stderr)
        self.assertLess(time.time() - start, 90)
        self.assertEqual(self.assert_whole([v2]), v2)
        r = lib.run_fedi(["--json", "status"], cwd=self.dir, env=self.env)
        self.assertEqual(json.loads(r.stdout)["machines"][0]["status"], "up to date")
        self.survive()

    # ---- the machine's side of the connection ----

    def test_sshd_killed_mid_activation(self):
        v1, v2 = self.baseline()
        self.on("mkdir -p /var/lib/fedi-test && echo 2 > /var/lib/fedi-test/delay-next-activation")
        self.inject()
        proc = self.start_deploy("--confirm-timeout", "10")
        self.wait_activation_started()
        self.hosts.stop_sshd(self.host["name"])
        self.hosts.kill_sessions(self.host["name"])
        time.sleep(2)
        self.hosts.start_sshd(self.host["name"])
        rc, res, err = self.finish(proc)
        self.wait_settled()
        running = self.assert_whole([v1, v2])
        self.assert_report_true(rc, res, running, v2)
        self.assert_rerun_converges(v2)
        self.survive()

    def test_sessions_killed_in_confirmation_window(self):
        # Its first attempt may lose its connection to the kill; the second must pass.
        check = [{"command": "sleep 2", "attempts": 2, "interval": 1, "timeout": 5}]
        v1 = self.write("1", checks=check)
        self.deploy()
        v2 = self.write("2", checks=check)
        self.inject()
        proc = self.start_deploy()
        self.wait_on(f"ls {RUNTIME}/*.waiting >/dev/null 2>&1", "the confirmation window")
        self.hosts.kill_sessions(self.host["name"])
        rc, res, err = self.finish(proc)
        self.wait_settled()
        running = self.assert_whole([v1, v2])
        self.assert_report_true(rc, res, running, v2)
        self.assertEqual(running, v2, f"a killed session became a rollback: {err}")
        self.assertIn("reconnected", err)
        self.assert_rerun_converges(v2)
        self.survive()

    def test_frozen_connection_is_replaced_within_the_window(self):
        v1, v2 = self.baseline()
        self.on("mkdir -p /var/lib/fedi-test && echo 2 > /var/lib/fedi-test/delay-next-activation")
        self.inject()
        start = time.time()
        proc = self.start_deploy("--confirm-timeout", "12")
        self.wait_activation_started()
        # Freeze every sshd serving a connection (not the listener): the TCP connection
        # stays open, nothing moves on it.
        listener = (self.hosts.dir / self.host["name"] / "sshd.pid").read_text().strip()
        frozen = self.on(f"for p in /proc/[0-9]*; do p=${{p#/proc/}}; "
                         f"[ \"$p\" != {listener} ] && [ \"$(cat /proc/$p/comm 2>/dev/null)\" = sshd ] "
                         f"&& kill -STOP $p && echo $p; done; true").split()
        self.assertTrue(frozen, "no sshd session to freeze")
        self.addCleanup(self.on, f"kill -CONT {' '.join(frozen)} 2>/dev/null; true")
        rc, res, err = self.finish(proc)
        self.on(f"kill -CONT {' '.join(frozen)} 2>/dev/null; true")
        self.wait_settled()
        running = self.assert_whole([v1, v2])
        self.assert_report_true(rc, res, running, v2)
        # Noticed and replaced in time to confirm: the stall did not become a rollback.
        self.assertEqual(running, v2, err)
        self.assertIn("reconnected", err)
        self.assertLess(time.time() - start, 60)
        self.assert_rerun_converges(v2)
        self.survive()

    # ---- full disks on the machine ----

    def test_nix_full_during_push(self):
        self.use_host(1)
        # A small empty /nix of its own; the host's real one comes back afterwards.
        self.on("mount -t tmpfs -o size=64m,mode=0755 fedi-fault-nix /nix && "
                "mkdir -p /nix/store /nix/var/nix/profiles && nix-store --init")
        self.addCleanup(self.on, "umount -l /nix 2>/dev/null; rm -rf /nix/var/nix/profiles/system*; "
                                 "rm -f /run/current-system; true")
        v1, v2 = self.baseline(payloadFiles=6, payloadSize=1_000_000 + time.time_ns() % 1000)
        used_kb = int(self.on("df -k --output=used /nix | tail -1"))
        self.on(f"mount -o remount,size={used_kb + 2048}k /nix")
        self.inject()
        r, res = self.deploy()
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(res["failedPhase"], "push")
        self.assertIn("No space left on device", res["error"])
        self.assertEqual(self.assert_whole([v1]), v1)
        self.on("mount -o remount,size=256m /nix")
        self.assert_rerun_converges(v2)
        self.survive()

    def test_var_lib_fedi_full_during_activation(self):
        self.use_host(1)
        v1, v2 = self.baseline()
        # fedi's directory on a full tmpfs (its installed scripts copied in first).
        self.on("rm -rf /tmp/fedi-dir && cp -a /var/lib/fedi /tmp/fedi-dir && "
                "mount -t tmpfs -o size=512k,mode=0755 fedi-fault-varlib /var/lib/fedi && "
                "cp -a /tmp/fedi-dir/. /var/lib/fedi/ && "
                "dd if=/dev/zero of=/var/lib/fedi/fill bs=4k 2>/dev/null; "
                "[ \"$(df -k --output=avail /var/lib/fedi | tail -1)\" = 0 ]")
        self.addCleanup(self.on, "umount -l /var/lib/fedi 2>/dev/null; true")
        self.inject()
        start = time.time()
        r, res = self.deploy("--confirm-timeout", "5")
        elapsed = time.time() - start
        self.wait_settled()
        running = self.assert_whole([v1, v2])
        self.assert_report_true(r.returncode, res, running, v2)
        # Said at once and for what it is, not as a lost machine after minutes.
        self.assertLess(elapsed, 40)
        self.assertNotIn("lost the machine", r.stderr)
        self.assertIn("cannot be written (full or read-only?)", r.stderr)
        self.on("rm -f /var/lib/fedi/fill")
        self.assert_rerun_converges(v2)
        self.survive()

    def test_state_write_fails_after_activation(self):
        # The state on a small tmpfs of its own, filled while the machine activates.
        state_dir = os.path.join(self.dir, "state")
        os.makedirs(state_dir)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "fedi-fault-state", state_dir],
                       check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", state_dir])
        state = os.path.join(state_dir, "state.json")
        v1 = self.write("1")
        r = lib.run_fedi(["--json", "--state", state, "deploy"], cwd=self.dir, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        v2 = self.write("2")
        self.clear_activation_logs()
        self.on("mkdir -p /var/lib/fedi-test && echo 2 > /var/lib/fedi-test/delay-next-activation")
        self.inject()
        proc = subprocess.Popen([os.environ["FEDI_BIN"], "--json", "--state", state, "deploy"],
                                cwd=self.dir, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        self.wait_activation_started()
        subprocess.run(["sh", "-c", f"dd if=/dev/zero of={state_dir}/fill bs=4k 2>/dev/null"])
        rc, res, err = self.finish(proc)
        self.wait_settled()
        self.assertEqual(self.assert_whole([v1, v2]), v2)
        # True: the machine is deployed; the run failed to record it, and says so.
        self.assertEqual(rc, 1, err)
        self.assertEqual(res["result"], "deployed")
        self.assertIn("the state file could not record it", res["error"])
        with open(state) as f:
            self.assertEqual(json.load(f)["machines"]["m"]["generations"][-1]["system"], v1)
        os.unlink(os.path.join(state_dir, "fill"))
        # The next run finds the machine up to date and records what it runs.
        r = lib.run_fedi(["--json", "--state", state, "deploy"], cwd=self.dir, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("an earlier run deployed it without recording it", r.stderr)
        with open(state) as f:
            self.assertEqual(json.load(f)["machines"]["m"]["generations"][-1]["system"], v2)
        self.survive()

    # ---- a hostile system ----

    def test_spoofing_activation_does_not_get_confirmed(self):
        forged = ["fedi: waiting 30s for confirmation", "@@fedi-result ok",
                  "@AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA waiting 30",
                  "@AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA result ok", "| fedi: waiting 30s",
                  "fedi: confirmed"]
        # Prints every protocol form it could, gives fedi time to fall for it, then
        # locks the operator out (stops sshd).
        spoof = "".join(f"echo '{line}'; echo '{line}' >&2; " for line in forged)
        spoof += "sleep 2; [ ! -x /run/testhost/sshd-stop ] || /run/testhost/sshd-stop"
        v1, v2 = self.baseline(onActivate=spoof)
        self.inject()
        r, res = self.deploy("--confirm-timeout", "5")
        self.wait_settled()
        running = self.assert_whole([v1, v2])
        self.assertEqual(running, v1, "a spoofed confirmation kept a system that breaks SSH")
        self.assert_report_true(r.returncode, res, running, v2)
        self.assertIn("could not be confirmed", res["error"])
        # The old system started sshd again: reachable, and the log shows the spoof as
        # what it was: output.
        self.assertEqual(self.hosts.ssh(self.host["name"], "true").returncode, 0)
        self.assertIn("| fedi: waiting 30s for confirmation", r.stderr)
        v3 = self.write("3")
        self.assert_rerun_converges(v3)
        self.survive()


if __name__ == "__main__":
    unittest.main()
