"""`fedi plan`'s system part on real test hosts: the closure diff, the paths and bytes a
machine lacks (against what the following deploy sends), and the activation each goal
needs. Other parts of the plan may report errors of their own (parts still unsupported
on some branches): these tests read machines[i].system only, never the exit code."""
import json
import os
import shutil
import tempfile
import time
import unittest

import fedi_testlib as lib


def package(pname, version, nonce):
    """A tiny package "<pname>-<version>" with bin/<pname>, unique to this test."""
    script = (f"mkdir -p $out/bin; printf '#!/bin/sh\\necho {pname} {version} {nonce}\\n' "
              f"> $out/bin/{pname}; chmod 0555 $out/bin/{pname}")
    return lib.Nix("derivation { name = " + lib.nix_string(f"{pname}-{version}") +
                   "; system = builtins.currentSystem; builder = \"/bin/sh\"; args = [ \"-c\" " +
                   lib.nix_string(script) + " ]; PATH = \"/usr/bin:/bin\"; }")


class PlanSystemTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hosts = lib.TestHosts(1)
        cls.addClassCleanup(cls.hosts.stop)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fedi-plan-system-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.env = lib.isolated_env(self.dir)
        self.nonce = f"{self._testMethodName}-{time.time_ns()}"
        self.host = self.hosts.hosts[0]
        lib.reset_hosts(self.hosts)

    def write(self, hello="1.0", version="1"):
        system = lib.system_expr(
            "a", message=f"a {self.nonce}", version=version,
            packages=[package("hello", hello, self.nonce), package("greeting", "2.0", self.nonce)])
        m = lib.machine(self.host, identity_file=self.hosts.identity_file(), system=system)
        lib.write_file(os.path.join(self.dir, "deployment.nix"), lib.render_deployment({"a": m}))

    def fedi(self, *args):
        return lib.run_fedi(list(args), cwd=self.dir, env=self.env)

    def plan(self, goal="switch"):
        """machines[0].system of `fedi plan --json --goal GOAL` (whatever its exit code)."""
        r = self.fedi("--json", "plan", "--goal", goal)
        try:
            doc = json.loads(r.stdout)
        except ValueError:
            self.fail(f"plan printed no JSON (exit {r.returncode}):\n{r.stdout}\n{r.stderr}")
        self.assertEqual([m["name"] for m in doc["machines"]], ["a"], r.stdout)
        system_errors = [e for e in doc["machines"][0]["errors"] if "system" in e or "prob" in e]
        self.assertEqual(system_errors, [], r.stdout)
        return doc["machines"][0]["system"]

    def deploy(self, goal="switch"):
        r = self.fedi("--json", "deploy", "--goal", goal)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr[-3000:])
        return json.loads(r.stdout)["machines"][0]

    def on_host(self, *cmd):
        return self.hosts.exec(self.host["name"], *cmd).stdout.strip()

    def test_version_bump_shows_and_bytes_match_the_deploy(self):
        self.write(hello="1.0")
        first = self.plan()
        # Never deployed: nothing runs, everything of the closure is missing.
        self.assertTrue(first["observed"])
        self.assertEqual(first["current"], "")
        self.assertEqual(first["activation"], "activate")
        self.assertEqual(first["pathsToSend"], first["pathsTotal"])
        sent = self.deploy()
        self.assertEqual(sent["narBytes"], first["bytesToSend"])
        self.assertEqual(sent["pathsSent"], first["pathsToSend"])

        self.write(hello="1.1")
        p = self.plan()
        self.assertEqual(p["current"], sent["system"])
        self.assertEqual(p["profile"], sent["system"])
        self.assertIsNotNone(p["generation"])
        self.assertEqual(p["activation"], "activate")
        by_name = {c["name"]: c for c in p["packages"]}
        self.assertEqual((by_name["hello"]["from"], by_name["hello"]["to"]), (["1.0"], ["1.1"]))
        self.assertNotIn("greeting", by_name)  # the same path in both systems
        # The new hello and the new system (whose store name is unchanged: a size
        # change below 8 KiB, so not shown) are what travels.
        self.assertEqual(p["pathsToSend"], 2)
        lacking = self.on_host("sh", "-c", "nix-store --check-validity --print-invalid "
                               + " ".join(self.closure_of(p["system"])) + " | wc -l")
        self.assertEqual(int(lacking), 2)
        sent = self.deploy()
        self.assertEqual(sent["system"], p["system"])
        self.assertEqual(sent["pathsSent"], p["pathsToSend"])
        self.assertEqual(sent["narBytes"], p["bytesToSend"])

        # Up to date: nothing changes, nothing travels.
        again = self.plan()
        self.assertEqual(again["activation"], "none")
        self.assertEqual(again["packages"], [])
        self.assertEqual((again["pathsToSend"], again["bytesToSend"]), (0, 0))
        self.assertEqual(again["current"], p["system"])

    def closure_of(self, path):
        r = lib.subprocess.run(["nix-store", "-qR", path], capture_output=True, text=True,
                               check=True)
        return r.stdout.split()

    def test_boot_goal_and_switch_after_test_update_the_boot_loader_only(self):
        self.write(version="1")
        self.deploy()
        self.write(version="2")
        boot = self.plan("boot")
        self.assertEqual(boot["activation"], "boot-loader")
        self.assertGreater(boot["pathsToSend"], 0)
        names = {c["name"]: c for c in boot["packages"]}
        self.assertEqual((names["nixos-system-a"]["from"], names["nixos-system-a"]["to"]),
                         (["1"], ["2"]))
        self.assertEqual(self.plan("push")["activation"], "none")
        self.assertEqual(self.plan("test")["activation"], "activate")
        # After `deploy --goal test` the machine runs the system, not as its profile:
        # switch only updates the boot loader; test has nothing left to do.
        self.deploy("test")
        after_test = self.plan("switch")
        self.assertEqual(after_test["current"], after_test["system"])
        self.assertNotEqual(after_test["profile"], after_test["system"])
        self.assertEqual(after_test["activation"], "boot-loader")
        self.assertEqual(after_test["packages"], [])
        self.assertEqual(after_test["pathsToSend"], 0)
        self.assertEqual(self.plan("test")["activation"], "none")
        self.deploy("boot")
        self.assertEqual(self.plan("boot")["activation"], "none")


if __name__ == "__main__":
    unittest.main()
