"""`fedi deploy --keep-generations N` on a real test host: old system generations and
activation logs beyond the newest N go, the running, booted and current ones stay, and
fedi says what it removed."""
import json
import os
import shutil
import tempfile
import time
import unittest

import fedi_testlib as lib

PROFILES = "/nix/var/nix/profiles"
ACTIVATIONS = "/var/lib/fedi/activations"


class KeepGenerationsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hosts = lib.TestHosts(1, prefix="keep")
        cls.addClassCleanup(cls.hosts.stop)
        cls.host = cls.hosts.hosts[0]

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fedi-keep-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.env = lib.isolated_env(self.dir)
        self.nonce = f"{time.time_ns()}"
        lib.reset_hosts(self.hosts)
        self.on(f"rm -rf {ACTIVATIONS} /run/booted-system")

    def on(self, script):
        return self.hosts.exec(self.host["name"], "sh", "-c", script).stdout.strip()

    def deploy_version(self, version, *args):
        machines = {"m": lib.machine(self.host, identity_file=self.hosts.identity_file(),
                                     system=lib.system_expr(self.host["name"], version=version,
                                                            message=self.nonce))}
        lib.write_file(os.path.join(self.dir, "deployment.nix"), lib.render_deployment(machines))
        r = lib.run_fedi(["--json", "deploy", *args], cwd=self.dir, env=self.env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r, json.loads(r.stdout)["machines"][0]

    def generations(self):
        out = self.on(f"ls {PROFILES} | sed -n 's/^system-\\([0-9]*\\)-link$/\\1/p'")
        return sorted(int(n) for n in out.split())

    def logs(self):
        return int(self.on(f"ls {ACTIVATIONS}/*.log 2>/dev/null | wc -l"))

    def test_keeps_the_newest_and_what_is_in_use(self):
        for v in range(1, 5):
            r, res = self.deploy_version(str(v), "--keep-generations", "2")
        self.assertEqual(res["generation"], 4)
        self.assertEqual(self.generations(), [3, 4])
        self.assertEqual(self.logs(), 2)
        self.assertIn("removed system generation(s) 2 (keeping the last 2)", r.stderr)
        self.assertIn("removed 1 old activation log(s) (keeping the last 2)", r.stderr)
        # The booted system's generation stays however old it is.
        booted = self.on(f"readlink -e {PROFILES}/system-3-link")
        self.on(f"ln -sfn {booted} /run/booted-system")
        for v in range(5, 7):
            r, res = self.deploy_version(str(v), "--keep-generations", "2")
        self.assertEqual(self.generations(), [3, 5, 6])
        self.assertEqual(self.on("readlink -e /run/current-system"),
                         self.on(f"readlink -e {PROFILES}/system"))
        # The kept generation still works as a rollback target.
        r = lib.run_fedi(["--json", "rollback", "m"], cwd=self.dir, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.on("readlink -e /run/current-system"),
                         self.on(f"readlink -e {PROFILES}/system-5-link"))

    def test_default_keeps_ten_and_zero_keeps_all(self):
        for v in range(1, 4):
            r, res = self.deploy_version(str(v), "--keep-generations", "0")
        self.assertEqual(self.generations(), [1, 2, 3])
        self.assertNotIn("removed", r.stderr)
        r, res = self.deploy_version("4")
        self.assertEqual(self.generations(), [1, 2, 3, 4])
        self.assertNotIn("removed", r.stderr)


if __name__ == "__main__":
    unittest.main()
