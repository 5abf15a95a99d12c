"""`fedi plan` and saved plans end to end: the real fedi binary, real Nix, real sshd test
hosts. Exit codes (0 up to date, 2 pending with --detailed-exitcode, 1 unreachable), the
JSON against doc/plan.schema.json, `fedi plan --out` then `fedi deploy --plan`, refusals
when the world or the deployment moved, and no secret value in any plan output.
"""
import json
import os
import secrets
import sys
import time
import unittest

import fedi_testlib as lib

SOURCE = os.environ.get("FEDI_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SOURCE, "test", "tools"))

import json_schema_subset as jss  # noqa: E402

with open(os.path.join(SOURCE, "doc", "plan.schema.json")) as f:
    SCHEMA = json.load(f)


class PlanCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hosts = lib.TestHosts(2)
        cls.addClassCleanup(cls.hosts.stop)

    def setUp(self):
        lib.private_workdir(self, "fedi-plan-")
        self.nonce = f"{self._testMethodName}-{time.time_ns()}"
        lib.reset_hosts(self.hosts)

    # --- helpers ---

    def write(self, tag="v1", extra=None, machines=None, where=None):
        """deployment.nix with every test host, each system made unique by tag."""
        systems = {h["name"]: lib.system_expr(h["name"], message=f"{tag} {self.nonce}")
                   for h in self.hosts.hosts}
        ms = machines if machines is not None else self.hosts.machines(systems)
        lib.write_file(os.path.join(where or self.dir, "deployment.nix"),
                       lib.render_deployment(ms, extra))

    def fedi(self, *args, cwd=None):
        return lib.run_fedi(list(args), cwd=cwd or self.dir, env=self.env)

    def plan_json(self, *args):
        r = self.fedi("--json", "plan", *args)
        try:
            return r, json.loads(r.stdout)
        except ValueError:
            self.fail(f"plan printed no JSON (exit {r.returncode}):\n{r.stdout}\n{r.stderr}")

    def assert_valid(self, doc):
        self.assertEqual(jss.validate(SCHEMA, doc), [])

    def deploy(self, *args, cwd=None):
        r = self.fedi("deploy", *args, cwd=cwd)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r

    def first(self):
        return self.hosts.hosts[0]["name"]

    # --- can pass before the machine parts are merged ---

    def test_goal_build_plans_the_evaluated_systems(self):
        self.write()
        r, doc = self.plan_json("--goal", "build")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_valid(doc)
        wanted = json.loads(self.fedi("--json", "eval").stdout)
        systems = {m["name"]: m["system"]["system"] for m in doc["machines"]}
        self.assertEqual(systems, {n: m["system"]["outPath"] for n, m in wanted["machines"].items()})
        for name, system in systems.items():
            self.assertEqual(doc["observed"][f"machine.{name}.system"], system)
        self.assertEqual(doc["goal"], "build")
        self.assertEqual(doc["deployment"], os.path.join(self.dir, "deployment.nix"))
        # The table: colour only when asked (stdout is no terminal here).
        plain = self.fedi("plan", "--goal", "build")
        self.assertEqual(plain.returncode, 0, plain.stderr)
        self.assertNotIn("\x1b[", plain.stdout)
        self.assertIn("No changes.", plain.stdout)
        coloured = self.fedi("--color", "always", "plan", "--goal", "build")
        self.assertIn("\x1b[1mNo changes.\x1b[0m", coloured.stdout)

    def test_json_validates_against_the_schema(self):
        self.write()
        r, doc = self.plan_json()
        self.assertIn(r.returncode, (0, 1), r.stderr)
        self.assert_valid(doc)
        self.assertEqual(doc["schemaVersion"], 1)
        self.assertEqual([m["name"] for m in doc["machines"]], sorted(self.hosts.names))

    def test_an_unreachable_machine_exits_1_and_is_named(self):
        ms = self.hosts.machines()
        ms[self.first()]["ssh"]["port"] = lib.closed_port()
        self.write(machines=ms)
        r = self.fedi("plan", "--detailed-exitcode")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(f"machine {self.first()}\n", r.stdout)
        self.assertIn("error:", r.stdout)
        self.assertIn("the plan is incomplete", r.stdout)
        r, doc = self.plan_json()
        self.assertEqual(r.returncode, 1)
        self.assert_valid(doc)
        broken = {m["name"]: m for m in doc["machines"]}[self.first()]
        self.assertTrue(broken["errors"], broken)
        self.assertFalse(doc["ok"])

    def test_deploy_dry_run_prints_the_plan(self):
        self.write()
        r = self.fedi("--json", "deploy", "--dry-run", "--goal", "build")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assert_valid(doc)
        table = self.fedi("deploy", "--dry-run", "--goal", "build")
        self.assertIn("No changes.", table.stdout)
        self.assertFalse(os.path.exists(os.path.join(self.dir, ".fedi", "state.json")))
        for h in self.hosts.hosts:
            self.assertEqual(self.hosts.exec(h["name"], "sh", "-c",
                                             "readlink /run/current-system || true").stdout, "")

    def test_plan_out_is_private_and_refused_for_another_schema_or_deployment(self):
        self.write()
        out = os.path.join(self.dir, "saved.json")
        r = self.fedi("plan", "--goal", "build", "--out", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(os.stat(out).st_mode & 0o777, 0o600)
        with open(out) as f:
            saved = json.load(f)
        self.assert_valid(saved)
        self.assertEqual([f for f in os.listdir(self.dir) if ".tmp" in f], [])
        # Another deployment file: refused, naming both.
        other = os.path.join(self.dir, "other")
        self.write(where=other)
        r = self.fedi("deploy", "--plan", out, cwd=other)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(os.path.join(self.dir, "deployment.nix"), r.stderr)
        self.assertIn(os.path.join(other, "deployment.nix"), r.stderr)
        # Another schema version: refused, naming it.
        saved["schemaVersion"] = 99
        lib.write_file(out, json.dumps(saved))
        r = self.fedi("deploy", "--plan", out)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("schemaVersion 99", r.stderr)

    def test_plan_conflicts_with_selection_goal_and_dry_run(self):
        self.write()
        for extra in (["--on", self.first()], ["--goal", "boot"], ["--dry-run"]):
            r = self.fedi("deploy", "--plan", "saved.json", *extra)
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
            self.assertIn("--plan", r.stderr)

    def test_help_explains_the_exit_codes(self):
        r = self.fedi("plan", "--help")
        self.assertEqual(r.returncode, 0)
        for text in ("--detailed-exitcode", "--out", "Exit codes", "usage"):
            self.assertIn(text, r.stdout)

    def test_no_secret_value_in_any_plan_output(self):
        value = "plan-secret-" + secrets.token_hex(16)
        value_file = lib.write_file(os.path.join(self.dir, "keys", "v"), value + "\n")
        extra = {"secrets": {"token": {"machine": self.first(),
                                       "source": {"file": lib.nix_path(value_file)}}}}
        self.write(extra=extra)
        out = os.path.join(self.dir, "saved.json")
        outputs = [self.fedi("plan", "--out", out), self.fedi("--json", "plan"),
                   self.fedi("-v", "plan"), self.fedi("--json", "deploy", "--dry-run")]
        for r in outputs:
            self.assertNotIn(value, r.stdout + r.stderr)
        with open(out) as f:
            self.assertNotIn(value, f.read())

    def test_saved_build_plan_applies_and_is_refused_once_the_deployment_changed(self):
        # Goal build asks no machine, so this runs the whole saved-plan path on its own.
        self.write("v1")
        out = os.path.join(self.dir, "saved.json")
        r = self.fedi("plan", "--goal", "build", "--on", self.first(), "--out", out)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(out) as f:
            planned = json.load(f)["machines"][0]["system"]["system"]
        r = self.fedi("--json", "deploy", "--plan", out)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        report = json.loads(r.stdout)
        self.assertEqual(report["goal"], "build")
        self.assertEqual([(m["name"], m["system"]) for m in report["machines"]],
                         [(self.first(), planned)])
        self.write("v2")
        r = self.fedi("deploy", "--plan", out)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(f"{self.first()}: system {planned} → /nix/store/", r.stderr)
        self.assertIn("(the deployment changed)", r.stderr)
        self.assertIn("no longer holds", r.stderr)

    # --- need the machine parts (system, secrets, provisioning, storage) merged ---

    def test_exit_codes_up_to_date_and_pending(self):
        self.write("v1")
        self.deploy()
        r = self.fedi("plan", "--detailed-exitcode")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("No changes.", r.stdout)
        self.write("v2")
        r = self.fedi("plan", "--detailed-exitcode")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("machines change", r.stdout)
        self.assertIn("~ system /nix/store/", r.stdout)
        self.assertEqual(self.fedi("plan").returncode, 0)  # without the flag: 0
        r, doc = self.plan_json("--detailed-exitcode")
        self.assertEqual(r.returncode, 2)
        self.assert_valid(doc)
        self.assertTrue(doc["changes"])

    def test_saved_plan_applies(self):
        self.write("v1")
        out = os.path.join(self.dir, "saved.json")
        r = self.fedi("plan", "--out", out, "--on", self.first())
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(out) as f:
            saved = json.load(f)
        r = self.deploy("--plan", out)
        wanted = saved["machines"][0]["system"]["system"]
        current = self.hosts.exec(self.first(), "readlink", "/run/current-system").stdout.strip()
        self.assertEqual(current, wanted)
        # Only the plan's selection was deployed.
        other = self.hosts.hosts[1]["name"]
        self.assertEqual(self.hosts.exec(other, "sh", "-c",
                                         "readlink /run/current-system || true").stdout, "")

    def test_saved_plan_refused_after_a_deploy_behind_its_back(self):
        self.write("v1")
        self.deploy("--on", self.first())
        self.write("v2")
        out = os.path.join(self.dir, "saved.json")
        self.assertEqual(self.fedi("plan", "--out", out, "--on", self.first()).returncode, 0)
        # Someone else deploys another system to the same machine, from their own checkout.
        elsewhere = os.path.join(self.dir, "elsewhere")
        self.write("v3", where=elsewhere)
        self.deploy("--on", self.first(), cwd=elsewhere)
        r = self.fedi("deploy", "--plan", out)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(f"{self.first()}: generation 1 → 2 (changed by someone else)", r.stderr)
        self.assertIn("no longer holds", r.stderr)

    def test_saved_plan_refused_after_the_deployment_changed(self):
        self.write("v1")
        out = os.path.join(self.dir, "saved.json")
        r = self.fedi("plan", "--out", out)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(out) as f:
            before = {m["name"]: m["system"]["system"] for m in json.load(f)["machines"]}
        self.write("v2")
        r = self.fedi("deploy", "--plan", out)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        name = self.first()
        self.assertIn(f"{name}: system {before[name]} → ", r.stderr)
        self.assertIn("(the deployment changed)", r.stderr)
        for h in self.hosts.hosts:
            self.assertEqual(self.hosts.exec(h["name"], "sh", "-c",
                                             "readlink /run/current-system || true").stdout, "")


if __name__ == "__main__":
    unittest.main()
