"""Safe activation on machines with systemd as PID 1 (test/hosts/testhosts --systemd),
the path every real NixOS machine takes: fedi starts the activation with systemd-run, the
test system's switch-to-configuration stops, restarts and starts real units (sshd among
them) and exits 4 when one fails. Each test fails if the behaviour it names is removed.

Skipped, with the reason, only where the kernel or container gives no cgroup v2
hierarchy or no systemd (testhosts refuses to start such machines)."""
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

import fedi_testlib as lib
# Imported as a module, so its own test class is not collected (and run) a second time.
import test_safe_activation as safe

SYSTEM = lib.SOURCE_DIR / "resources" / "systemd-test-system.nix"
# The cgroup a switch-to-configuration ran in when fedi started it with systemd-run.
ACTIVATION_UNIT = re.compile(r"/system\.slice/fedi-activate-[^/ ]+\.service$")


@functools.lru_cache(maxsize=None)
def systemd_machines_refused():
    """Why this machine cannot run systemd machines (testhosts' own word), or None."""
    if os.geteuid() != 0:
        return "systemd machines need root (namespaces, mounts, veth)"
    try:
        with lib.TestHosts(1, prefix="probe", systemd=True):
            return None
    except RuntimeError as e:
        text = str(e)
        if "needs a cgroup v2 hierarchy" in text or "needs systemd" in text:
            return text.strip().splitlines()[-1]
        raise


def skip_unless_systemd_machines():
    reason = systemd_machines_refused()
    if reason:
        raise unittest.SkipTest(reason)


class SystemdMachineTest(unittest.TestCase):
    """What a systemd machine is: the promises of testhosts --systemd."""

    @classmethod
    def setUpClass(cls):
        skip_unless_systemd_machines()
        cls.hosts = lib.TestHosts(2, prefix="box", systemd=True)
        cls.addClassCleanup(cls.hosts.stop)
        cls.name = cls.hosts.names[0]

    def ssh(self, command):
        r = self.hosts.ssh(self.name, command)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.strip()

    def test_systemd_is_pid_1_with_only_its_own_units(self):
        self.assertEqual(self.ssh("cat /proc/1/comm"), "systemd")
        self.assertEqual(self.ssh("systemctl is-system-running"), "running")
        self.assertEqual(self.ssh("sed -n 's/^0:://p' /proc/1/cgroup"), "/init.scope")
        services = self.ssh("systemctl list-units --type=service --no-legend --plain | cut -d' ' -f1")
        self.assertEqual(sorted(services.split()), ["sshd.service", "systemd-journald.service"])
        self.assertEqual(self.ssh("hostname"), self.name)

    def test_own_network_tmp_and_var(self):
        host = self.hosts.hosts[0]["host"]
        self.assertRegex(host, r"^10\.213\.")
        self.assertIn(f"inet {host}/30", self.ssh("ip -4 -o addr show eth0"))
        self.assertNotIn("eth0", subprocess.run(["ip", "-o", "addr", "show", "to", host],
                                                capture_output=True, text=True).stdout)
        marker = tempfile.NamedTemporaryFile(prefix="fedi-sd-", dir="/tmp")
        self.addCleanup(marker.close)
        self.assertEqual(self.ssh(f"test -e {marker.name} && echo shared || echo own"), "own")
        self.ssh("echo mine > /var/lib/box-marker")
        self.assertFalse(os.path.exists("/var/lib/box-marker"))

    def test_machines_reach_one_another_through_this_machine(self):
        other = self.hosts.hosts[1]["host"]
        self.assertNotEqual(other, self.hosts.hosts[0]["host"])
        banner = self.ssh(f"timeout 10 bash -c 'exec 3<>/dev/tcp/{other}/22 && head -c 8 <&3'")
        self.assertEqual(banner, "SSH-2.0-")

    def test_a_directory_under_what_the_machine_covers(self):
        """DIR under /var (or /root: a checkout in root's home, as on a fresh machine),
        which the machine's own /var and /root cover while it mounts its parts."""
        d = tempfile.mkdtemp(prefix="fedi-sd-var-", dir="/var/tmp")
        self.addCleanup(shutil.rmtree, d, True)
        hosts = lib.TestHosts(1, prefix="varbox", dir=d, systemd=True)
        self.addCleanup(hosts.stop)
        r = hosts.ssh(hosts.names[0], "systemctl is-system-running --wait")
        self.assertEqual(r.stdout.strip(), "running", r.stderr)

    def test_dies_with_the_process_that_started_it(self):
        code = ("import fedi_testlib as lib, sys\n"
                "h = lib.TestHosts(1, prefix='orphan', systemd=True)\n"
                "print(h.hosts[0]['pid'], h.hosts[0]['initPid'], h.dir, flush=True)\n"
                "sys.stdin.read()\n")
        proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, cwd=lib.HERE)
        pid, init_pid, directory = proc.stdout.readline().split()
        self.addCleanup(shutil.rmtree, directory, True)
        self.assertTrue(os.path.exists(f"/proc/{init_pid}"))
        proc.kill()
        proc.communicate()
        deadline = time.time() + 30
        while time.time() < deadline and (os.path.exists(f"/proc/{pid}") or
                                           os.path.exists(f"/proc/{init_pid}")):
            time.sleep(0.1)
        self.assertFalse(os.path.exists(f"/proc/{init_pid}"), "the machine outlived its starter")


class SystemdContainerTest(unittest.TestCase):
    """The container provider makes systemd machines with `systemd = true`."""

    @staticmethod
    def stop_containers(work):
        for d in (lib.pathlib.Path(work) / ".fedi" / "containers").glob("*"):
            subprocess.run([str(lib.TESTHOSTS), "stop", "--dir", str(d)], capture_output=True,
                           timeout=60)

    def test_container_provider_makes_a_systemd_machine(self):
        skip_unless_systemd_machines()
        work = tempfile.mkdtemp(prefix="fedi-sd-container-")
        self.addCleanup(shutil.rmtree, work, True)
        env = lib.isolated_env(work)
        system = lib.Nix(f"import {lib.nix_path(SYSTEM)} {{ name = \"web\"; }}")
        lib.write_file(os.path.join(work, "deployment.nix"), lib.render_deployment(
            {"web": {"provision": {"provider": "local"}, "system": system}},
            extra={"providers": {"local": {"type": "container", "systemd": True}}},
            function=True))
        self.addCleanup(self.stop_containers, work)
        r = lib.run_fedi(["--json", "deploy"], cwd=work, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(work, ".fedi", "state.json")) as f:
            rec = json.load(f)["provisioned"]["web"]
        address = rec["outputs"]["host"]
        self.assertRegex(address, r"^10\.213\.")
        with urllib.request.urlopen(f"http://{address}:8080/health", timeout=5) as resp:
            self.assertEqual(resp.read().decode().strip(), "web 1")
        out = subprocess.run([str(lib.TESTHOSTS), "exec", "--dir", rec["data"]["dir"], rec["id"],
                              "--", "cat", "/proc/1/comm"], capture_output=True, text=True,
                             timeout=60)
        self.assertEqual(out.stdout.strip(), "systemd", out.stderr)
        r = lib.run_fedi(["--yes", "provision", "--destroy", "web"], cwd=work, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        # Gone with its network: nothing answers at its address.
        with self.assertRaises(OSError):
            urllib.request.urlopen(f"http://{address}:8080/health", timeout=3)


class SystemdActivationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        skip_unless_systemd_machines()

    def setUp(self):
        # A machine per test: each starts from the base unit set, never deployed.
        self.hosts = lib.TestHosts(1, prefix="web", systemd=True)
        self.addCleanup(self.hosts.stop)
        self.host = self.hosts.hosts[0]
        self.name = self.host["name"]
        self.dir = tempfile.mkdtemp(prefix="fedi-systemd-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.env = lib.isolated_env(self.dir)

    def write(self, version, checks=None, **args):
        """deployment.nix with the one machine on a test system; returns its out path."""
        system = lib.Nix(f"import {lib.nix_path(SYSTEM)} "
                         f"{lib.to_nix(dict(name='web', version=version, **args), 1)}")
        attrs = {"healthChecks": checks} if checks else {}
        machines = {"web": lib.machine(self.host, self.hosts.identity_file(), system, **attrs)}
        lib.write_file(os.path.join(self.dir, "deployment.nix"), lib.render_deployment(machines))
        r = lib.run_fedi(["eval"], cwd=self.dir, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)["machines"]["web"]["system"]["outPath"]

    def deploy(self, *args):
        """fedi --json deploy: (the process, {machine: its JSON result})."""
        r = lib.run_fedi(["--json", "deploy", *args], cwd=self.dir, env=self.env)
        self.assertTrue(r.stdout.startswith("{"), f"no JSON (exit {r.returncode}):\n{r.stderr}")
        return r, {m["name"]: m for m in json.loads(r.stdout)["machines"]}

    def on(self, script):
        """Run a shell script inside the machine (not over SSH); its stdout."""
        return self.hosts.exec(self.name, "sh", "-c", script).stdout.strip()

    def current(self):
        return self.on("readlink -e /run/current-system || true")

    def profile(self):
        return self.on("readlink -e /nix/var/nix/profiles/system || true")

    def web(self):
        """(status, body) of the machine's fedi-test-web.service, asked from here."""
        url = f"http://{self.host['host']}:8080/health"
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.status, r.read().decode().strip()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode().strip()

    def last_activation(self):
        """The last line the test system's switch-to-configuration logged."""
        return self.on("tail -n 1 /var/lib/fedi-test/activations.log").split()

    def assert_runs(self, system, version):
        self.assertEqual(self.current(), system)
        self.assertEqual(self.on("systemctl is-system-running || true"), "running")
        self.assertEqual(self.web(), (200, f"web {version}"))
        r = self.hosts.ssh(self.name, "true")
        self.assertEqual(r.returncode, 0, f"sshd does not answer: {r.stderr}")

    def test_activation_runs_under_systemd_run_and_survives_a_cut_session(self):
        v1 = self.write("1")
        r, res = self.deploy()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_runs(v1, "1")
        # The switch ran in a transient unit of its own, not in sshd's cgroup.
        self.assertRegex(self.last_activation()[3], ACTIVATION_UNIT)
        v2 = self.write("2")
        self.on("echo 3 > /var/lib/fedi-test/delay-next-activation")
        proc = subprocess.Popen([os.environ["FEDI_BIN"], "--json", "deploy"], cwd=self.dir,
                                env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if self.on("systemctl list-units --no-legend --plain 'fedi-activate-*'"):
                break
            time.sleep(0.1)
        time.sleep(0.5)
        self.hosts.kill_sessions(self.name)
        out, err = proc.communicate(timeout=180)
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn("reconnected", err)
        self.assert_runs(v2, "2")
        line = self.last_activation()
        self.assertEqual(line[2], v2)
        self.assertRegex(line[3], ACTIVATION_UNIT)
        # sshd.service was restarted by the switch (the unit changed with the version).
        self.assertIn("OpenSSH server (fedi test system web 2)",
                      self.on("systemctl show -p Description --value sshd.service"))

    def test_sshd_restart_that_ends_every_session_is_survived(self):
        self.write("1")
        r, res = self.deploy()
        self.assertEqual(r.returncode, 0, r.stderr)
        # The new sshd.service kills its whole cgroup when it restarts: fedi's session
        # too, and so anything started from it; the activation's own unit lives on.
        v2 = self.write("2", sshdKillMode="control-group")
        r, res = self.deploy()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("reconnected", r.stderr)
        self.assertEqual(res["web"]["result"], "deployed")
        self.assert_runs(v2, "2")
        self.assertRegex(self.last_activation()[3], ACTIVATION_UNIT)

    def test_system_that_breaks_sshd_reverts_by_itself(self):
        v1 = self.write("1")
        r, res = self.deploy()
        self.assertEqual(r.returncode, 0, r.stderr)
        v2 = self.write("2", breakSsh=True)
        start = time.time()
        r, res = self.deploy("--confirm-timeout", "4")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("could not be confirmed", res["web"]["error"])
        self.assertIn(f"the previously running system {v1} was activated again",
                      res["web"]["error"])
        self.assertLess(time.time() - start, 90)
        # The broken system did stop sshd.service; the machine started it again itself.
        log = self.on("cat /var/lib/fedi-test/activations.log")
        self.assertIn(f"switch {v2}", log)
        self.assertEqual(self.profile(), v1)
        self.assert_runs(v1, "1")
        r = lib.run_fedi(["--json", "status"], cwd=self.dir, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_health_checks_call_the_real_service(self):
        check = [{"http": f"http://{self.host['host']}:8080/health", "attempts": 3,
                  "interval": 1, "timeout": 5},
                 {"command": "systemctl is-active fedi-test-web.service", "attempts": 2,
                  "interval": 1, "timeout": 5}]
        v1 = self.write("1", checks=check)
        r, res = self.deploy()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"health check passed: GET http://{self.host['host']}:8080/health", r.stderr)
        # The new system's service answers 503: fedi rolls back, and the old service runs.
        self.write("2", checks=check, webStatus=503)
        r, res = self.deploy()
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("health check failed", res["web"]["error"])
        self.assertIn("HTTP 503 (expected 200)", res["web"]["error"])
        self.assertEqual(self.profile(), v1)
        self.assert_runs(v1, "1")

    def test_unit_that_fails_to_start_rolls_back_on_exit_4(self):
        v1 = self.write("1")
        r, res = self.deploy()
        self.assertEqual(r.returncode, 0, r.stderr)
        v2 = self.write("2", failUnit=True)
        r, res = self.deploy()
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("switch-to-configuration switch failed (exit status 4)", res["web"]["error"])
        self.assertIn("rolled back", res["web"]["error"])
        self.assertIn(f"switch {v2}", self.on("cat /var/lib/fedi-test/activations.log"))
        self.assertEqual(self.profile(), v1)
        self.assert_runs(v1, "1")
        self.assertEqual(self.on("systemctl list-units --failed --no-legend --plain"), "")
        # --no-rollback leaves the failed system for debugging, its unit failed.
        r, res = self.deploy("--no-rollback")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(self.current(), v2)
        self.assertIn("fedi-test-broken.service",
                      self.on("systemctl list-units --failed --no-legend --plain"))

    def test_boot_goal_takes_effect_after_a_reboot(self):
        v1 = self.write("1")
        r, res = self.deploy()
        self.assertEqual(r.returncode, 0, r.stderr)
        v2 = self.write("2")
        r, res = self.deploy("--goal", "boot")
        self.assertEqual(r.returncode, 0, r.stderr)
        # Set to boot, not running: the old system and its service go on.
        self.assertEqual(self.profile(), v2)
        self.assert_runs(v1, "1")
        # The reboot: systemd shuts the machine down (the kernel ends its PID namespace);
        # testhosts restart powers it on, and it boots the system profile.
        pid = self.host["pid"]
        self.hosts.ssh(self.name, "systemctl reboot")
        deadline = time.time() + 60
        while time.time() < deadline and os.path.exists(f"/proc/{pid}"):
            time.sleep(0.1)
        self.assertFalse(os.path.exists(f"/proc/{pid}"), "the machine did not go down")
        self.hosts.restart(self.name)
        self.assert_runs(v2, "2")
        self.assertEqual(self.on("readlink -e /run/booted-system"), v2)
        r = lib.run_fedi(["--json", "status"], cwd=self.dir, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["machines"][0]["current"], v2)


class SafeActivationOnSystemdTest(safe.SafeActivationTest):
    """Every test of test_safe_activation.py again, on systemd machines: there fedi
    activates with systemd-run, and the minimal test system's sshd switches are
    `systemctl start|stop sshd.service`."""

    @classmethod
    def setUpClass(cls):
        skip_unless_systemd_machines()
        cls.hosts = lib.TestHosts(len(safe.NAMES), systemd=True)
        cls.addClassCleanup(cls.hosts.stop)


if __name__ == "__main__":
    unittest.main()
