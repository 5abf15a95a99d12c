"""The machine's lock and interrupted activations, on real test hosts: two deployers
(two checkouts, two state files) on one machine never both change it; an activation left
waiting by a killed fedi is waited for or aborted, never reverted behind a re-run's back;
a lock whose holder was killed is taken over, with a message; an activation killed with
SIGKILL is reported as failed, not followed forever. Each test fails if the behaviour it
names is removed."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import fedi_testlib as lib
# Imported as a module, so its own test classes are not collected (and run) a second time.
import test_systemd_activation as systemd

RUN = "/run/fedi/activations"
LOCK = "/run/fedi/lock"


class Checkout:
    """One deployer: a directory with its own deployment.nix and state file."""

    def __init__(self, test, hosts, label, system_file=lib.MINIMAL_SYSTEM):
        self.test, self.hosts, self.system_file = test, hosts, system_file
        self.dir = tempfile.mkdtemp(prefix=f"fedi-lock-{label}-")
        test.addCleanup(shutil.rmtree, self.dir, True)
        self.env = lib.isolated_env(self.dir)

    def write(self, version, checks=None, **system_args):
        host = self.hosts.hosts[0]
        attrs = {"healthChecks": checks} if checks else {}
        machines = {"m": lib.machine(
            host, identity_file=self.hosts.identity_file(),
            system=self.system(host["name"], version, **system_args), **attrs)}
        lib.write_file(os.path.join(self.dir, "deployment.nix"), lib.render_deployment(machines))
        r = lib.run_fedi(["eval"], cwd=self.dir, env=self.env)
        self.test.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)["machines"]["m"]["system"]["outPath"]

    def system(self, name, version, **args):
        if self.system_file == lib.MINIMAL_SYSTEM:
            args["message"] = f"{self.dir} {version}"
        else:
            name = "web"  # its units are named after it
        return lib.Nix(f"import {lib.nix_path(self.system_file)} "
                       f"{lib.to_nix(dict(name=name, version=version, **args), 1)}")

    def start(self, *args):
        return subprocess.Popen([os.environ["FEDI_BIN"], "--json", "deploy", *args], cwd=self.dir,
                                env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)

    def finish(self, proc, timeout=120):
        out, err = proc.communicate(timeout=timeout)
        try:
            doc = json.loads(out)
        except ValueError:
            self.test.fail(f"no JSON (exit {proc.returncode}):\n{out}\n{err}")
        return proc.returncode, doc["machines"][0], err

    def deploy(self, *args):
        return self.finish(self.start(*args))


class MachineLockTest(unittest.TestCase):
    hosts = None

    @classmethod
    def setUpClass(cls):
        cls.hosts = lib.TestHosts(1, prefix="lk")
        cls.addClassCleanup(cls.hosts.stop)

    def setUp(self):
        lib.reset_hosts(self.hosts)
        self.on("rm -rf /run/fedi")
        self.a = Checkout(self, self.hosts, "a")
        self.b = Checkout(self, self.hosts, "b")

    def on(self, script):
        return self.hosts.exec(self.hosts.hosts[0]["name"], "sh", "-c", script).stdout.strip()

    def profile(self):
        return self.on("readlink -e /nix/var/nix/profiles/system || true")

    def current(self):
        return self.on("readlink -e /run/current-system || true")

    def generation_of(self, n):
        """The system the machine's generation n is."""
        return self.on(f"readlink -e /nix/var/nix/profiles/system-{n}-link || true")

    def wait_for(self, script, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            out = self.on(script)
            if out:
                return out
            time.sleep(0.1)
        self.fail(f"timed out waiting for: {script}")

    def test_two_deployers_one_machine_never_both_succeed(self):
        va = self.a.write("a1", delay=5)
        vb = self.b.write("b1", delay=5)
        # Built first, so both reach the machine at once.
        for c in (self.a, self.b):
            self.assertEqual(c.deploy("--goal", "build")[0], 0)
        pa, pb = self.a.start(), self.b.start()
        (ra, ma, ea), (rb, mb, eb) = self.a.finish(pa), self.b.finish(pb)
        self.assertEqual(sorted([ra, rb]), [0, 1], ea + eb)
        won, lost, won_system = (ma, mb, va) if ra == 0 else (mb, ma, vb)
        self.assertEqual(lost["result"], "failed")
        self.assertRegex(lost["error"], r"the machine is locked by another deployer: fedi pid "
                                        r"\d+ on \S+ \(user \S+\), `.*deploy`, since \S+")
        self.assertEqual(self.profile(), won_system)
        self.assertEqual(self.generation_of(won["generation"]), won_system)
        # With --lock-timeout the second one waits its turn: both succeed, one after the
        # other, and each records the generation the machine made of its system.
        va2 = self.a.write("a2", delay=3)
        self.assertEqual(self.a.deploy("--goal", "build")[0], 0)
        pa = self.a.start()
        self.wait_for(f"grep '^keeper=' {LOCK} 2>/dev/null")
        pb = self.b.start("--lock-timeout", "60")
        (ra, ma, ea), (rb, mb, eb) = self.a.finish(pa), self.b.finish(pb)
        self.assertEqual((ra, rb), (0, 0), ea + eb)
        self.assertIn("the machine is locked by fedi pid", eb)
        self.assertIn("waiting up to 60 s", eb)
        self.assertEqual(self.generation_of(ma["generation"]), va2)
        self.assertEqual(self.generation_of(mb["generation"]), vb)
        self.assertEqual(mb["generation"], ma["generation"] + 1)
        self.assertEqual(self.profile(), vb)
        self.assertEqual(self.current(), vb)

    def kill_during_confirmation(self, confirm, sig=signal.SIGKILL):
        """Starts a deploy of checkout a and kills fedi with `sig` (it has no handler for
        SIGINT either) once the machine waits for its confirmation; returns when the
        machine reverts if no one confirms."""
        proc = self.a.start("--confirm-timeout", str(confirm))
        # Stopped once its activation has begun, so that it cannot confirm in the moment
        # between the machine's "waiting" and the signal (it does, on a loaded machine).
        self.wait_for(f"ls {RUN}/*.lock 2>/dev/null | head -n 1")
        proc.send_signal(signal.SIGSTOP)
        deadline = int(self.wait_for(f"cat {RUN}/*.waiting 2>/dev/null | head -n 1"))
        proc.send_signal(sig)
        proc.send_signal(signal.SIGCONT)  # a pending SIGINT ends it as it resumes
        proc.communicate()
        return deadline

    def test_rerun_of_another_system_aborts_the_waiting_activation(self):
        v1 = self.a.write("1")
        self.assertEqual(self.a.deploy()[0], 0)
        self.a.write("2")
        old_deadline = self.kill_during_confirmation(10)
        v3 = self.a.write("3")
        rc, m, err = self.a.deploy("--confirm-timeout", "10")
        self.assertEqual(rc, 0, err)
        self.assertRegex(err, r"activation \S+ \(switch /nix/store/\S+\), started by fedi pid "
                              r"\d+ .* is awaiting confirmation")
        self.assertIn("it activates another system: aborting it", err)
        self.assertIn("ended: aborted, rolled back", err)
        # Past the old activation's window: nothing reverted behind the report's back.
        time.sleep(max(0, old_deadline - time.time()) + 2)
        self.assertEqual(m["system"], v3)
        self.assertEqual(self.profile(), v3)
        self.assertEqual(self.current(), v3)
        self.assertEqual(self.generation_of(m["generation"]), v3)
        self.assertNotEqual(v1, v3)

    def test_rerun_of_the_same_system_waits_for_the_waiting_activation(self):
        self.a.write("1")
        self.assertEqual(self.a.deploy()[0], 0)
        v2 = self.a.write("2")
        old_deadline = self.kill_during_confirmation(6, signal.SIGINT)
        rc, m, err = self.a.deploy("--confirm-timeout", "6")
        self.assertEqual(rc, 0, err)
        self.assertIn("waiting for it to end before changing the machine", err)
        self.assertIn("ended: unconfirmed, rolled back", err)
        self.assertGreaterEqual(time.time(), old_deadline)
        time.sleep(2)
        self.assertEqual(m["system"], v2)
        self.assertEqual(self.profile(), v2)
        self.assertEqual(self.current(), v2)

    def test_lock_of_a_killed_holder_is_taken_over_with_a_message(self):
        self.a.write("1")
        self.assertEqual(self.a.deploy()[0], 0)
        # A holder killed with SIGKILL never lets go of its record.
        self.on("rm -f /run/lk.out; ((printf 'host=ghost\\nuser=gone\\npid=4711\\n"
                "command=fedi deploy\\nsince=2026-01-01T00:00:00Z\\n\\n'; sleep 20) | "
                "sh /var/lib/fedi/bin/lock-*.sh 0 > /run/lk.out 2>&1) </dev/null >/dev/null "
                "2>&1 &")
        keeper = self.wait_for("sed -n 's/^locked //p' /run/lk.out")
        self.on(f"kill -9 {keeper}")
        v2 = self.a.write("2")
        rc, m, err = self.a.deploy()
        self.assertEqual(rc, 0, err)
        self.assertRegex(err, r"the machine's lock was left by fedi pid 4711 on ghost \(user "
                              r"gone\), `fedi deploy`, since 2026-01-01T00:00:00Z, which is "
                              r"gone .*; taking it over")
        self.assertEqual(self.profile(), v2)
        self.assertEqual(self.on("cat /run/fedi/lock"), "")  # let go cleanly

    def start_slow_activation(self):
        """Deploys a first system, then starts deploying one whose switch sleeps 30 s."""
        self.a.write("1")
        self.assertEqual(self.a.deploy()[0], 0)
        self.a.write("2", delay=30)
        return self.a.start()

    def test_activation_killed_with_sigkill_is_reported_failed(self):
        proc = self.start_slow_activation()
        start = time.time()
        pid = self.wait_for(f"sed -n 's/^activation-pid=//p' {RUN}/*.lock 2>/dev/null")
        # Its children (switch-to-configuration, sleeping) are killed after the test.
        children = self.wait_for(f"pgrep -P {pid} | tr '\\n' ' '")
        self.addCleanup(self.on, f"for c in {children}; do pkill -9 -P $c; kill -9 $c; done")
        self.on(f"kill -9 {pid}")
        rc, m, err = self.a.finish(proc, timeout=60)
        self.assertEqual(rc, 1, err)
        self.assertRegex(m["error"], r"activation \S+ died before it wrote its result \(killed\?\)"
                                     r".*see /var/lib/fedi/activations/\S+\.log there")
        self.assertLess(time.time() - start, 30)



class SystemdMachineLockTest(MachineLockTest):
    """The same on a machine with systemd as PID 1, where the activation runs as a
    fedi-activate-ID.service under systemd-run."""

    @classmethod
    def setUpClass(cls):
        systemd.skip_unless_systemd_machines()

    def setUp(self):
        # A machine per test: each starts from the base unit set, never deployed.
        self.hosts = lib.TestHosts(1, prefix="lks", systemd=True)
        self.addCleanup(self.hosts.stop)
        self.a = Checkout(self, self.hosts, "a", systemd.SYSTEM)
        self.b = Checkout(self, self.hosts, "b", systemd.SYSTEM)

    # Only what depends on how the activation is started runs here again.
    test_two_deployers_one_machine_never_both_succeed = None
    test_rerun_of_the_same_system_waits_for_the_waiting_activation = None
    test_lock_of_a_killed_holder_is_taken_over_with_a_message = None
    test_activation_killed_with_sigkill_is_reported_failed = None

    def test_activation_unit_killed_with_sigkill_is_reported_failed(self):
        proc = self.start_slow_activation()
        start = time.time()
        lock = self.wait_for(f"ls {RUN}/*.lock 2>/dev/null")
        unit = "fedi-activate-" + os.path.basename(lock)[:-len(".lock")] + ".service"
        self.wait_for(f"systemctl is-active {unit} | grep -x active")
        self.on(f"systemctl kill -s KILL {unit}")
        rc, m, err = self.a.finish(proc, timeout=60)
        self.assertEqual(rc, 1, err)
        self.assertIn("died before it wrote its result", m["error"])
        self.assertLess(time.time() - start, 30)

    def test_lock_is_taken_again_when_sshd_restart_ended_every_session(self):
        # sshd with KillMode=control-group: the switch's restart of sshd ends fedi's
        # sessions, the lock's among them. A health check keeps it in the window.
        check = [{"command": "sleep 6", "attempts": 1, "interval": 0, "timeout": 10}]
        self.a.write("1", sshdKillMode="control-group")
        self.assertEqual(self.a.deploy()[0], 0)
        va = self.a.write("2", checks=check, sshdKillMode="control-group")
        self.b.write("b", sshdKillMode="control-group")
        self.assertEqual(self.b.deploy("--goal", "build")[0], 0)  # so it reaches the machine fast
        pa = self.a.start("--confirm-timeout", "30")
        first = self.wait_for(f"sed -n 's/^keeper=//p' {LOCK} 2>/dev/null")
        self.wait_for(f"ls {RUN}/*.waiting 2>/dev/null")
        # Taken again over the new connection: another keeper holds it for the same fedi.
        self.wait_for(f"sed -n 's/^keeper=//p' {LOCK} | grep -vx {first}")
        rb, mb, eb = self.b.deploy()
        ra, ma, ea = self.a.finish(pa)
        self.assertEqual((ra, rb), (0, 1), ea + eb)
        self.assertIn("reconnected", ea)
        self.assertIn(f"the machine is locked by another deployer: fedi pid {pa.pid}", mb["error"])
        self.assertEqual(self.profile(), va)


if __name__ == "__main__":
    unittest.main()
