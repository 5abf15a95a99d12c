"""`fedi exec`: one command on selected machines over real SSH (sshd test hosts), output
prefixed by machine, exit status and --json per machine."""
import json
import os
import shutil
import tempfile
import unittest

import fedi_testlib as lib


class ExecTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hosts = lib.TestHosts(3)
        cls.addClassCleanup(cls.hosts.stop)
        cls.dir = tempfile.mkdtemp(prefix="fedi-exec-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        cls.env = lib.isolated_env(cls.dir)
        machines = {}
        for i, h in enumerate(cls.hosts.hosts):
            machines[f"m{i}"] = lib.machine(
                h, identity_file=cls.hosts.identity_file(),
                system=lib.system_expr(f"m{i}"), tags=["odd"] if i % 2 else ["even"])
        lib.write_file(os.path.join(cls.dir, "deployment.nix"), lib.render_deployment(machines))

    def fedi(self, *args):
        return lib.run_fedi(list(args), cwd=self.dir, env=self.env)

    def test_output_is_prefixed_by_machine_and_comes_from_that_machine(self):
        r = self.fedi("exec", "--", "hostname;", "echo", "err", ">&2")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = sorted(r.stdout.splitlines())
        expected = sorted(f"m{i} | {h['name']}" for i, h in enumerate(self.hosts.hosts))
        self.assertEqual(lines, expected)
        for i in range(3):
            self.assertIn(f"m{i} | err", r.stderr)

    def test_selection_and_json(self):
        r = self.fedi("--json", "exec", "--on", "@even", "--", "echo $((6*7)); exit 3")
        self.assertEqual(r.returncode, 1, r.stderr)
        doc = json.loads(r.stdout)
        self.assertFalse(doc["ok"])
        self.assertEqual([m["name"] for m in doc["machines"]], ["m0", "m2"])
        for m in doc["machines"]:
            self.assertEqual(m["exitStatus"], 3)
            self.assertEqual(m["stdout"], "42\n")

    def test_unreachable_machine_is_reported_and_others_still_run(self):
        name = self.hosts.hosts[1]["name"]
        self.hosts.stop_sshd(name)
        self.addCleanup(self.hosts.start_sshd, name)
        r = self.fedi("--json", "exec", "--", "true")
        self.assertEqual(r.returncode, 1)
        by = {m["name"]: m for m in json.loads(r.stdout)["machines"]}
        self.assertEqual(by["m0"]["exitStatus"], 0)
        self.assertEqual(by["m2"]["exitStatus"], 0)
        self.assertIsNone(by["m1"]["exitStatus"])
        self.assertIn("m1", by["m1"]["error"])

    def test_missing_command_is_a_usage_error(self):
        r = self.fedi("exec")
        self.assertEqual(r.returncode, 2)
        self.assertIn("command", r.stderr)


if __name__ == "__main__":
    unittest.main()
