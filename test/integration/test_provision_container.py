"""The container provider, end to end: `fedi deploy` of a deployment of three local
containers (what examples/local was before it grew into the whole demo, which
test_local_example.py covers) creates them itself, deploys them, sees their addresses
through `resources`, converges on a re-run, starts a stopped container again with its
data, never touches a directory it did not make, and destroys on request."""

import json
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from fedi_testlib import KEEP_DIRS, SOURCE_DIR, TESTHOSTS, isolated_env, run_fedi

# Three machines with plain (non-systemd) containers; one's system names another's address.
DEPLOYMENT = """{ resources, ... }:
let
  mkSystem = import %s;
  address = name:
    let m = resources.machines.${name} or null;
    in if m == null then "(not provisioned yet)" else "${m.host}:${toString m.port}";
  machine = args: { provision.provider = "local"; system = mkSystem args; };
in
{
  providers.local = { type = "container"; };
  machines.s3 = machine { name = "s3"; message = "object storage node"; };
  machines.web = machine {
    name = "web";
    message = "Mastodon front end; object storage at ${address "s3"}";
  } // { after = [ "s3" ]; };
  machines.video = machine {
    name = "video";
    message = "PeerTube; object storage at ${address "s3"}";
  } // { after = [ "s3" ]; };
}
""" % (SOURCE_DIR / "resources" / "minimal-system.nix")


class LocalExample(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = pathlib.Path(tempfile.mkdtemp(prefix="fedi-containers-"))
        cls.state_file = cls.tmp / "state.json"
        home = cls.tmp / "home"
        home.mkdir()
        cls.env = isolated_env(home)
        cls.example = cls.tmp / "example"
        cls.example.mkdir()
        (cls.example / "deployment.nix").write_text(DEPLOYMENT)

    @classmethod
    def tearDownClass(cls):
        for d in (cls.tmp / "containers").glob("*"):
            subprocess.run([str(TESTHOSTS), "stop", "--dir", str(d)], capture_output=True, timeout=60)
        if not KEEP_DIRS:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def fedi(self, *args):
        return run_fedi(["--state", self.state_file, *args], cwd=self.example, env=self.env)

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

    def reboot(self, machine):
        """What a reboot of this machine does to a container: its processes die, its files
        (and the stale hosts.json) stay."""
        d = pathlib.Path(self.state()["provisioned"][machine]["data"]["dir"])
        for h in json.loads((d / "hosts.json").read_text()):
            try:
                os.kill(h["pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass
        for _ in range(200):
            if self.exec(machine, "true").returncode != 0:
                return
            time.sleep(0.05)
        self.fail(f"the container of {machine} still runs after its processes were killed")

    def tree(self):
        return sorted(str(p) for p in (self.tmp / "containers").rglob("*") if "nix" not in p.parts)

    def test_03_a_stopped_container_starts_again_with_its_data(self):
        rec = self.state()["provisioned"]["video"]
        self.assertEqual(self.exec("video", "sh", "-c", "echo kept > /var/lib/precious").returncode, 0)
        generation = self.exec("video", "readlink", "/nix/var/nix/profiles/system").stdout.strip()
        self.assertTrue(generation)
        self.reboot("video")
        # --dry-run says what it would do and changes nothing: no directory, no container.
        before = self.tree()
        r = self.fedi("deploy", "--dry-run", "--on", "video")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("stopped -> running", r.stderr)
        self.assertEqual(self.tree(), before)
        self.assertNotEqual(self.exec("video", "true").returncode, 0)
        # A deploy starts it again: same files, same host keys, nothing recreated.
        r = self.fedi("--json", "deploy", "--on", "video")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("making a new one", r.stderr)
        self.assertIn("again with its data", r.stderr)
        self.assertEqual(self.exec("video", "cat", "/var/lib/precious").stdout, "kept\n")
        self.assertEqual(self.exec("video", "readlink", "/nix/var/nix/profiles/system").stdout.strip(),
                         generation)
        after = self.state()["provisioned"]["video"]
        self.assertEqual(after["outputs"]["hostKeys"], rec["outputs"]["hostKeys"])
        self.assertEqual(after["data"]["marker"], rec["data"]["marker"])
        # `testhosts stop` (which forgets its hosts.json entries) keeps the data too.
        subprocess.run([str(TESTHOSTS), "stop", "--dir", rec["data"]["dir"]], check=True, capture_output=True)
        r = self.fedi("--json", "deploy", "--on", "video")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.exec("video", "cat", "/var/lib/precious").stdout, "kept\n")

    def test_03b_a_path_in_state_that_fedi_did_not_make_is_never_touched(self):
        victim = self.tmp / "victim"
        victim.mkdir()
        (victim / "data").write_text("mine")
        st = self.state()
        saved = json.dumps(st)
        st["provisioned"]["video"]["data"]["dir"] = str(victim)
        st["provisioned"]["video"]["id"] = "nothing1"
        self.state_file.write_text(json.dumps(st))
        try:
            for args in (["deploy", "--dry-run", "--on", "video"], ["deploy", "--on", "video"],
                         ["--yes", "provision", "--destroy", "video"]):
                r = self.fedi(*args)
                self.assertNotEqual(r.returncode, 0, args)
                self.assertIn(str(victim), r.stderr)
                self.assertEqual((victim / "data").read_text(), "mine")
            # Inside the containers directory but without fedi's marker: the same.
            fake = self.tmp / "containers" / "fake"
            fake.mkdir()
            (fake / "data").write_text("mine")
            st["provisioned"]["video"]["data"]["dir"] = str(fake)
            self.state_file.write_text(json.dumps(st))
            r = self.fedi("--yes", "provision", "--destroy", "video")
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("did not make", r.stderr)
            self.assertEqual((fake / "data").read_text(), "mine")
        finally:
            self.state_file.write_text(saved)

    def test_04_destroy(self):
        rec = self.state()["provisioned"]["s3"]
        r = self.fedi("provision", "--destroy", "s3")
        self.assertEqual(r.returncode, 2, r.stderr)  # not a terminal, no --yes
        self.assertEqual(self.exec("s3", "true").returncode, 0)
        r = self.fedi("--yes", "provision", "--destroy", "s3")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(pathlib.Path(rec["data"]["dir"]).exists())
        self.assertNotIn("s3", self.state()["provisioned"])

    def test_05_create_refuses_a_directory_it_did_not_make(self):
        d = self.tmp / "containers" / "s3"
        d.mkdir()
        (d / "data").write_text("mine")
        r = self.fedi("provision", "--on", "s3")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f"{d} already exists", r.stderr)
        self.assertEqual((d / "data").read_text(), "mine")
        self.assertNotIn("s3", self.state()["provisioned"])


if __name__ == "__main__":
    unittest.main()
