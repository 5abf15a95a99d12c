"""Faults while fedi writes its state: SIGKILL at random moments of many writes, a full
state directory, a read-only one. After each, the state file is a complete version (the
old one or a new one, never half of one), no temporary file is left for good, and what
fedi reports is true. Prints "faults injected: N, survived: M"."""

import json
import os
import pathlib
import random
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import fedi_testlib as lib

MACHINES = 120  # `existing` machines: each provisioning run saves state once per machine
KILLS = int(os.environ.get("FEDI_FAULTS_STATE_KILLS", "60"))


def deployment(port):
    """MACHINES machines recorded by the `existing` provider at `port`: every run at a new
    port rewrites every record, one state write each."""
    machines = {
        f"m{i}": {"provision": {"provider": "here", "host": f"10.1.{i // 250}.{i % 250 + 1}", "port": port},
                  "system": lib.system_expr("fault-state")}
        for i in range(MACHINES)}
    return lib.render_deployment(machines, extra={"providers": {"here": {"type": "existing"}}})


class StateFaults(unittest.TestCase):
    injected = 0
    survived = 0

    @classmethod
    def tearDownClass(cls):
        print(f"\nfaults injected: {cls.injected}, survived: {cls.survived}", flush=True)

    def setUp(self):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="fedi-faults-state-"))
        self.addCleanup(shutil.rmtree, self.dir, True)
        home = self.dir / "home"
        home.mkdir()
        self.env = lib.isolated_env(home)

    def write_deployment(self, port):
        lib.write_file(self.dir / "deployment.nix", deployment(port))

    def start_fedi(self, state, *args):
        return subprocess.Popen([os.environ["FEDI_BIN"], "--state", str(state), *args],
                                cwd=self.dir, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)

    def check_complete(self, state, ports):
        """The state file is one complete version: valid JSON, every record whole and at
        one of `ports` (the run before or the run killed)."""
        if not state.exists():
            return True
        j = json.loads(state.read_text())  # a torn file fails here
        self.assertEqual(j["version"], 1)
        for name, rec in j.get("provisioned", {}).items():
            self.assertEqual(rec["type"], "existing", name)
            self.assertTrue(rec["complete"], name)
            self.assertIn(rec["outputs"]["port"], ports, name)
        return True

    def test_sigkill_during_state_writes(self):
        state = self.dir / "state" / "state.json"
        self.write_deployment(1000)
        r = lib.run_fedi(["--state", state, "provision"], cwd=self.dir, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        # How long a run takes once Nix's evaluation cache is warm: the shortest of a few,
        # so that a loaded machine's slow first run does not put the kills after the end.
        full = float("inf")
        for _ in range(3):
            start = time.time()
            r = lib.run_fedi(["--state", state, "provision"], cwd=self.dir, env=self.env)
            full = min(full, time.time() - start)
            self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.assertEqual(len(json.loads(state.read_text())["provisioned"]), MACHINES)
        rng = random.Random(int(os.environ.get("FEDI_FAULTS_SEED", "11")))
        port = 1000
        kills = torn = 0
        for _ in range(KILLS):
            port += 1
            self.write_deployment(port)
            p = self.start_fedi(state, "provision")
            # Mostly within the part of the run that writes (after the evaluation).
            time.sleep(rng.uniform(full * 0.3, full * 0.95))
            p.send_signal(signal.SIGKILL)
            p.communicate()
            if p.returncode == -signal.SIGKILL:
                kills += 1
                type(self).injected += 1
                # A temporary file left behind: the kill landed inside a write.
                torn += any(state.parent.glob("state.json.tmp.*"))
            self.check_complete(state, {port - 1, port} | set(range(1000, port + 1)))
            if p.returncode == -signal.SIGKILL:
                type(self).survived += 1
        print(f"\n{kills} kills while fedi ran, {torn} of them inside a state write", flush=True)
        self.assertGreater(kills, KILLS // 2, "most kills should land while fedi runs")
        # A run after the kills converges, and leaves no temporary file behind (those of
        # killed writes are removed once their writer is gone).
        r = lib.run_fedi(["--json", "--state", state, "provision"], cwd=self.dir, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.check_complete(state, {port})
        self.assertEqual(sorted(p.name for p in state.parent.iterdir()),
                         ["state.json", "state.json.lock"])

    def mount_tmpfs(self, path, size):
        path.mkdir(parents=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "fedi-faults", str(path)],
                       check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", str(path)], check=False)

    def provision_json(self, state):
        r = lib.run_fedi(["--json", "--state", state, "provision"], cwd=self.dir, env=self.env)
        try:
            machines = json.loads(r.stdout)["machines"]
        except (json.JSONDecodeError, KeyError):
            machines = []
        return r, machines

    def test_state_directory_full(self):
        statedir = self.dir / "full"
        self.mount_tmpfs(statedir, "256k")
        state = statedir / "state.json"
        self.write_deployment(2000)
        r = lib.run_fedi(["--state", state, "provision"], cwd=self.dir, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        before = state.read_bytes()
        # Fill the file system, then ask for a change of every record.
        with open(statedir / "filler", "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        type(self).injected += 1
        self.write_deployment(2001)
        r, machines = self.provision_json(state)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("No space left on device", r.stderr)
        # The report is true: nothing it calls changed was left unrecorded.
        self.assertTrue(machines and all(m["result"] == "failed" for m in machines), r.stdout[-2000:])
        self.assertEqual(state.read_bytes(), before)
        self.assertEqual(sorted(p.name for p in statedir.iterdir()), ["filler", "state.json", "state.json.lock"])
        # Space again: the next run converges.
        (statedir / "filler").unlink()
        r, machines = self.provision_json(state)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.check_complete(state, {2001})
        type(self).survived += 1

    def test_state_directory_read_only(self):
        statedir = self.dir / "ro"
        self.mount_tmpfs(statedir, "4m")
        state = statedir / "state.json"
        self.write_deployment(3000)
        r = lib.run_fedi(["--state", state, "provision"], cwd=self.dir, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        before = state.read_bytes()
        subprocess.run(["mount", "-o", "remount,ro", str(statedir)], check=True)
        type(self).injected += 1
        self.write_deployment(3001)
        r, machines = self.provision_json(state)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Read-only file system", r.stderr)
        self.assertIn(str(state), r.stderr)
        self.assertTrue(all(m["result"] == "failed" for m in machines), r.stdout[-2000:])
        self.assertEqual(state.read_bytes(), before)
        subprocess.run(["mount", "-o", "remount,rw", str(statedir)], check=True)
        r, machines = self.provision_json(state)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.check_complete(state, {3001})
        type(self).survived += 1


if __name__ == "__main__":
    unittest.main()
