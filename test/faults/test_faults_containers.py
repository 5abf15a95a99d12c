"""Faults around local containers (the `container` provider): the deployer "reboots"
(every container's processes die, their files stay) and `fedi deploy` runs again: each
container starts again with its /nix and /var/lib; `--dry-run` before and after changes
nothing anywhere (no directory made or removed, no container started or stopped).
Prints "faults injected: N, survived: M"."""

import json
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import fedi_testlib as lib

REBOOTS = 3


class ContainerFaults(unittest.TestCase):
    injected = 0
    survived = 0

    @classmethod
    def setUpClass(cls):
        cls.tmp = pathlib.Path(tempfile.mkdtemp(prefix="fedi-faults-containers-"))
        home = cls.tmp / "home"
        home.mkdir()
        cls.env = lib.isolated_env(home)
        cls.state_file = cls.tmp / ".fedi" / "state.json"
        machines = {name: {"provision": {"provider": "local"},
                           "system": lib.system_expr(name, message=f"{name} in a container")}
                    for name in ("alpha", "beta")}
        lib.write_file(cls.tmp / "deployment.nix",
                       lib.render_deployment(machines, extra={"providers": {"local": {"type": "container"}}}))

    @classmethod
    def tearDownClass(cls):
        for d in (cls.tmp / ".fedi" / "containers").glob("*"):
            subprocess.run([str(lib.TESTHOSTS), "stop", "--dir", str(d)], capture_output=True, timeout=60)
        if not lib.KEEP_DIRS:
            shutil.rmtree(cls.tmp, ignore_errors=True)
        print(f"\nfaults injected: {cls.injected}, survived: {cls.survived}", flush=True)

    def fedi(self, *args):
        return lib.run_fedi(["--state", self.state_file, *args], cwd=self.tmp, env=self.env)

    def records(self):
        return json.loads(self.state_file.read_text())["provisioned"]

    def exec(self, machine, *cmd):
        rec = self.records()[machine]
        return subprocess.run([str(lib.TESTHOSTS), "exec", "--dir", rec["data"]["dir"], rec["id"], "--", *cmd],
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)

    def snapshot(self):
        """Every file and directory fedi's containers have outside their stores, and the
        namespaces that run."""
        root = self.tmp / ".fedi"
        files = sorted(str(p) for p in root.rglob("*") if "nix" not in p.relative_to(root).parts
                       and p.name not in ("sshd.log", "init.log", "state.json.lock"))
        running = {m: self.exec(m, "true").returncode == 0 for m in self.records()} \
            if self.state_file.exists() else {}
        return files, running

    def reboot(self):
        """What a reboot of the deployer does to its containers: every process dies."""
        for rec in self.records().values():
            hosts = json.loads((pathlib.Path(rec["data"]["dir"]) / "hosts.json").read_text())
            for h in hosts:
                try:
                    os.kill(h["pid"], signal.SIGKILL)
                except ProcessLookupError:
                    pass
        deadline = time.time() + 10
        while any(self.exec(m, "true").returncode == 0 for m in self.records()):
            self.assertLess(time.time(), deadline, "containers still run after the reboot")
            time.sleep(0.05)

    def test_1_dry_run_before_anything_exists(self):
        r = self.fedi("deploy", "--dry-run")
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        type(self).injected += 1
        self.assertFalse((self.tmp / ".fedi" / "containers").exists(), r.stderr)
        self.assertFalse(self.state_file.exists())
        type(self).survived += 1

    def test_2_reboots_keep_the_data(self):
        r = self.fedi("--json", "deploy")
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        for m in ("alpha", "beta"):
            self.assertEqual(self.exec(m, "sh", "-c", f"echo {m}-data > /var/lib/precious").returncode, 0)
        systems = {m: self.exec(m, "readlink", "/nix/var/nix/profiles/system").stdout for m in ("alpha", "beta")}
        for n in range(REBOOTS):
            self.reboot()
            type(self).injected += 1
            # --dry-run on the stopped containers: nothing made, removed, started or stopped.
            before = self.snapshot()
            state_before = self.state_file.read_bytes()
            r = self.fedi("deploy", "--dry-run")
            self.assertEqual(r.returncode, 0, r.stderr[-2000:])
            self.assertEqual(self.snapshot(), before, f"reboot {n}: --dry-run changed something")
            self.assertEqual(self.state_file.read_bytes(), state_before)
            type(self).injected += 1
            type(self).survived += 1
            r = self.fedi("--json", "deploy")
            self.assertEqual(r.returncode, 0, r.stderr[-3000:])
            self.assertNotIn("making a new one", r.stderr)
            for m in ("alpha", "beta"):
                self.assertEqual(self.exec(m, "cat", "/var/lib/precious").stdout, f"{m}-data\n")
                self.assertEqual(self.exec(m, "readlink", "/nix/var/nix/profiles/system").stdout, systems[m])
            type(self).survived += 1
        # Running: --dry-run changes nothing either.
        before = self.snapshot()
        r = self.fedi("deploy", "--dry-run")
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.assertEqual(self.snapshot(), before)


if __name__ == "__main__":
    unittest.main()
