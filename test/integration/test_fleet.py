"""Fleet deploys: selection, goals, `after` ordering and failure isolation, with the
real fedi binary, real Nix and real sshd test hosts (each with its own Nix store)."""
import json
import os
import shutil
import tempfile
import time
import unittest

import fedi_testlib as lib

NAMES = ["s3", "web", "video", "extra"]


class FleetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hosts = lib.TestHosts(len(NAMES))
        cls.addClassCleanup(cls.hosts.stop)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fedi-fleet-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.env = lib.isolated_env(self.dir)
        self.nonce = f"{self._testMethodName}-{time.time_ns()}"
        lib.reset_hosts(self.hosts)

    def host(self, machine):
        return self.hosts.hosts[NAMES.index(machine)]["name"]

    def write(self, after=None, tags=None, extra=""):
        after = after or {}
        tags = tags or {"s3": ["storage"], "web": ["fediverse"], "video": ["fediverse"],
                        "extra": []}
        machines = {}
        for i, name in enumerate(NAMES):
            attrs = {}
            if name in after:
                attrs["after"] = after[name]
            machines[name] = lib.machine(
                self.hosts.hosts[i], identity_file=self.hosts.identity_file(),
                system=lib.system_expr(name, message=f"{name} {self.nonce}"),
                tags=tags.get(name, []), **attrs)
        lib.write_file(os.path.join(self.dir, "deployment.nix"),
                       lib.render_deployment(machines))

    def deploy(self, *args):
        r = lib.run_fedi(["--json", "deploy", *args], cwd=self.dir, env=self.env)
        try:
            doc = json.loads(r.stdout)
        except ValueError:
            self.fail(f"no JSON from deploy (exit {r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r, doc, {m["name"]: m for m in doc["machines"]}

    def on(self, machine, script):
        return self.hosts.exec(self.host(machine), "sh", "-c", script).stdout.strip()

    def profile(self, machine):
        return self.on(machine, "readlink -e /nix/var/nix/profiles/system || true")

    def current(self, machine):
        return self.on(machine, "readlink -e /run/current-system || true")

    def log(self, machine):
        return self.on(machine, "cat /var/lib/fedi-test/activations.log 2>/dev/null || true")

    def wanted(self):
        r = lib.run_fedi(["eval"], cwd=self.dir, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        return {n: m["system"]["outPath"] for n, m in json.loads(r.stdout)["machines"].items()}

    def test_selection_by_name_glob_and_tag(self):
        self.write()
        for args, expected in [(["--on", "s3"], {"s3"}),
                               (["--on", "v*"], {"video"}),
                               (["--on", "@fediverse"], {"web", "video"}),
                               (["--on", "@storage", "--on", "ext*"], {"s3", "extra"})]:
            with self.subTest(args=args):
                for n in NAMES:
                    self.on(n, "rm -rf /nix/var/nix/profiles/system* /var/lib/fedi-test")
                r, doc, res = self.deploy(*args)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(set(res), expected)
                for n in NAMES:
                    touched = self.log(n) != ""
                    self.assertEqual(touched, n in expected, n)
        r = lib.run_fedi(["deploy", "--on", "nothing*"], cwd=self.dir, env=self.env)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--on nothing*: matches no machine", r.stderr)

    def test_after_orders_activations(self):
        self.write(after={"web": ["s3"], "video": ["s3"]})
        # s3 activates slowly: without ordering, web and video would finish first.
        self.on("s3", "mkdir -p /var/lib/fedi-test && echo 2 > /var/lib/fedi-test/delay-next-activation")
        r, doc, res = self.deploy()
        self.assertEqual(r.returncode, 0, r.stderr)
        t = {n: self.log(n).split()[0] for n in ["s3", "web", "video", "extra"]}
        self.assertLess(t["s3"], t["web"])
        self.assertLess(t["s3"], t["video"])
        # extra is independent: it did not wait for s3.
        self.assertLess(t["extra"], t["s3"])

    def test_failure_skips_dependents_only(self):
        self.write(after={"web": ["s3"], "video": ["web"]})
        self.on("s3", "mkdir -p /var/lib/fedi-test && touch /var/lib/fedi-test/fail-next-activation")
        r, doc, res = self.deploy()
        self.assertEqual(r.returncode, 1)
        self.assertFalse(doc["ok"])
        self.assertEqual(res["s3"]["result"], "failed")
        self.assertEqual(res["web"]["result"], "skipped")
        self.assertIn("after s3", res["web"]["error"])
        self.assertEqual(res["video"]["result"], "skipped")
        self.assertEqual(res["extra"]["result"], "deployed")
        self.assertEqual(self.log("web"), "")
        self.assertEqual(self.log("video"), "")

    def test_goals_leave_profile_and_running_system_as_nixos_would(self):
        self.write()
        wanted = self.wanted()
        # build: nothing reaches the machine.
        r, doc, res = self.deploy("--goal", "build", "--on", "s3")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(res["s3"]["result"], "built")
        self.assertNotEqual(self.on("s3", f"test -e {wanted['s3']} && echo there || echo absent"),
                            "there")
        # push: the closure arrives, nothing is activated.
        r, doc, res = self.deploy("--goal", "push", "--on", "s3")
        self.assertEqual(res["s3"]["result"], "pushed")
        self.assertGreater(res["s3"]["pathsSent"], 0)
        self.on("s3", f"nix-store --verify-path {wanted['s3']}")
        self.assertEqual(self.profile("s3"), "")
        self.assertEqual(self.log("s3"), "")
        # dry-activate: reports, changes neither profile nor running system.
        r, doc, res = self.deploy("--goal", "dry-activate", "--on", "s3")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("would switch", r.stderr)
        self.assertEqual(self.profile("s3"), "")
        self.assertEqual(self.current("s3"), "")
        # boot: profile set, running system unchanged.
        r, doc, res = self.deploy("--goal", "boot", "--on", "s3")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.profile("s3"), wanted["s3"])
        self.assertEqual(self.current("s3"), "")
        # test: running system switched, profile untouched (machine web has no profile).
        r, doc, res = self.deploy("--goal", "test", "--on", "web")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.current("web"), wanted["web"])
        self.assertEqual(self.profile("web"), "")
        # switch: both.
        r, doc, res = self.deploy("--goal", "switch", "--on", "video")
        self.assertEqual(self.profile("video"), wanted["video"])
        self.assertEqual(self.current("video"), wanted["video"])
        with open(os.path.join(self.dir, ".fedi", "state.json")) as f:
            state = json.load(f)
        # Only goals that set the profile are generations.
        self.assertEqual(state["machines"]["s3"]["generations"][-1]["goal"], "boot")
        self.assertNotIn("web", state["machines"])

    def test_json_summary_matches_what_happened(self):
        self.write()
        r, doc, res = self.deploy("--on", "s3", "--on", "web")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(doc["goal"], "switch")
        self.assertTrue(doc["ok"])
        wanted = self.wanted()
        for n in ["s3", "web"]:
            self.assertEqual(res[n]["system"], wanted[n])
            self.assertEqual(res[n]["result"], "deployed")
            gen = self.on(n, "readlink /nix/var/nix/profiles/system")
            self.assertEqual(gen, f"system-{res[n]['generation']}-link")
            self.assertGreater(res[n]["narBytes"], 0)
            self.assertGreaterEqual(res[n]["bytesSent"], res[n]["narBytes"])
        # Not a TTY: progress is plain timestamped lines on stderr, results on stdout.
        self.assertRegex(r.stderr, r"(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ s3: ")
        self.assertNotIn("\x1b[", r.stderr)

    def test_dry_run_changes_nothing(self):
        self.write()
        r, doc, res = self.deploy("--dry-run")
        self.assertEqual(r.returncode, 0, r.stderr)
        # The plan (`fedi plan`'s document): every machine would get its system.
        self.assertEqual(doc["schemaVersion"], 1)
        self.assertEqual(set(res), set(NAMES))
        self.assertTrue(all(m["system"]["system"].startswith("/nix/store/") for m in res.values()))
        for n in NAMES:
            self.assertEqual(self.log(n), "")
        self.assertFalse(os.path.exists(os.path.join(self.dir, ".fedi", "state.json")))


if __name__ == "__main__":
    unittest.main()
