"""The container provider, end to end, on README's main example: `fedi deploy` of
examples/local creates its three local containers itself, deploys them, sees their
addresses through `resources`, converges on a re-run, and destroys on request."""

import json
import pathlib
import shutil
import subprocess
import tempfile
import unittest

from fedi_testlib import KEEP_DIRS, SOURCE_DIR, TESTHOSTS, isolated_env, run_fedi

EXAMPLE = SOURCE_DIR / "examples" / "local"


class LocalExample(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = pathlib.Path(tempfile.mkdtemp(prefix="fedi-containers-"))
        cls.state_file = cls.tmp / "state.json"
        home = cls.tmp / "home"
        home.mkdir()
        cls.env = isolated_env(home)

    @classmethod
    def tearDownClass(cls):
        for d in (cls.tmp / "containers").glob("*"):
            subprocess.run([str(TESTHOSTS), "stop", "--dir", str(d)], capture_output=True, timeout=60)
        if not KEEP_DIRS:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def fedi(self, *args):
        return run_fedi(["--state", self.state_file, *args], cwd=EXAMPLE, env=self.env)

    def state(self):
        return json.loads(self.state_file.read_text())

    def exec(self, machine, *cmd):
        rec = self.state()["provisioned"][machine]
        return subprocess.run([str(TESTHOSTS), "exec", "--dir", rec["data"]["dir"], rec["id"], "--", *cmd],
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)

    def test_01_deploy_creates_the_containers(self):
        r = self.fedi("--json", "deploy")
        self.assertEqual(r.returncode, 0, r.stderr)
        results = {m["name"]: m["result"] for m in json.loads(r.stdout)["machines"]}
        self.assertEqual(results, {"s3": "deployed", "web": "deployed", "video": "deployed"})
        provisioned = self.state()["provisioned"]
        self.assertEqual(sorted(provisioned), ["s3", "video", "web"])
        for name, rec in provisioned.items():
            self.assertEqual(rec["type"], "container")
            self.assertTrue(pathlib.Path(rec["data"]["dir"]).is_relative_to(self.tmp / "containers"))
            host = self.exec(name, "hostname")
            self.assertEqual(host.returncode, 0, host.stderr)
        s3 = provisioned["s3"]["outputs"]
        msg = self.exec("web", "cat", "/run/current-system/etc/fedi-test/message").stdout.strip()
        self.assertEqual(msg, f"Mastodon front end; object storage at {s3['host']}:{s3['port']}")

    def test_02_rerun_changes_nothing(self):
        before = self.state()["provisioned"]
        r = self.fedi("--json", "deploy")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual({m["result"] for m in json.loads(r.stdout)["machines"]}, {"unchanged"})
        self.assertEqual(self.state()["provisioned"], before)

    def test_03_a_vanished_container_is_made_again(self):
        rec = self.state()["provisioned"]["video"]
        subprocess.run([str(TESTHOSTS), "stop", "--dir", rec["data"]["dir"]], check=True, capture_output=True)
        r = self.fedi("--json", "deploy", "--on", "video")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("is gone; making a new one", r.stderr)
        self.assertEqual(json.loads(r.stdout)["machines"][0]["result"], "deployed")
        self.assertEqual(self.exec("video", "true").returncode, 0)

    def test_04_destroy(self):
        rec = self.state()["provisioned"]["s3"]
        r = self.fedi("provision", "--destroy", "s3")
        self.assertEqual(r.returncode, 2, r.stderr)  # not a terminal, no --yes
        self.assertEqual(self.exec("s3", "true").returncode, 0)
        r = self.fedi("--yes", "provision", "--destroy", "s3")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(pathlib.Path(rec["data"]["dir"]).exists())
        self.assertNotIn("s3", self.state()["provisioned"])


if __name__ == "__main__":
    unittest.main()
