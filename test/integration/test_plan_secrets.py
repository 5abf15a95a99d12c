"""`fedi plan`'s secrets, accounts and directory entries, against a real sshd test host
(with the stand-ins of the services' admin commands, test/standins) and a real OpenLDAP
slapd (test/servers/ldap/slapd): what a deploy would add, change, re-own or remove in the
secrets directory, the accounts and entries it would create or update, nothing once it
ran, and no secret value anywhere in the plan's output.

The secrets of a machine are compared with what the machine's probe reports.
"""
import json
import os
import secrets
import shutil
import tempfile
import time
import unittest

import fedi_testlib as lib

SECRETS_DIR = "/var/lib/fedi/secrets"
STANDIN_BIN = lib.STANDIN_BIN


class PlanSecretsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ldap_info = lib.start_slapd(cls, "fedi-plan-ldap-")
        cls.hosts, cls.host = lib.host_with_standins(cls, "psec")

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fedi-plan-secrets-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        os.makedirs(os.path.join(self.dir, "home"))
        self.env = lib.isolated_env(os.path.join(self.dir, "home"))
        lib.reset_hosts(self.hosts)
        self.hosts.exec(self.host, f"{STANDIN_BIN}/standin", "reset", "mastodon")
        self.hosts.exec(self.host, "rm", "-rf", SECRETS_DIR)
        self.nonce = f"{time.time_ns()}"
        self.outputs = []  # everything fedi printed, searched for values at the end

    def write_deployment(self, extra):
        machines = self.hosts.machines(systems={self.host: lib.system_expr(
            self.host, message=f"plan secrets {self.nonce}")})
        lib.write_file(os.path.join(self.dir, "deployment.nix"),
                       lib.render_deployment({"web": machines[self.host]}, extra))

    def fedi(self, *args):
        r = lib.run_fedi(list(args), cwd=self.dir, env=self.env)
        self.outputs += [r.stdout, r.stderr]
        return r

    def deploy(self):
        r = self.fedi("deploy")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def plan(self):
        r = self.fedi("--json", "plan")
        try:
            return json.loads(r.stdout)
        except ValueError:
            self.fail(f"fedi plan printed no JSON (exit {r.returncode}):\n{r.stdout}\n{r.stderr}")

    def web(self, doc):
        (m,) = [m for m in doc["machines"] if m["name"] == "web"]
        return m

    def secrets_of(self, doc):
        """The machine's secrets plan: {name: (action, reasons)}."""
        m = self.web(doc)
        self.assertEqual(m["errors"], [])
        return {s["name"]: (s["action"], s["reasons"]) for s in m["secrets"]}

    def on_host(self, script):
        r = self.hosts.exec(self.host, "sh", "-c", script)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def assert_no_value(self, *values):
        for v in values:
            for out in self.outputs:
                self.assertNotIn(v, out)

    def test_secret_files_added_changed_reowned_removed_then_nothing(self):
        first, second = "first-" + secrets.token_hex(12), "second-" + secrets.token_hex(12)
        value_file = lib.write_file(os.path.join(self.dir, "keys", "value"), first)
        declared = {
            "fromfile": {"machine": "web", "source": {"file": lib.nix_path(value_file)}},
            "gen": {"machine": "web", "source": {"generate": {"length": 40}}},
            "moded": {"machine": "web", "mode": "0400",
                      "source": {"command": "printf fixed-value"}},
        }
        self.write_deployment({"secrets": declared})
        # Before any deploy: every file is new; the generated value does not exist yet.
        doc = self.plan()
        self.assertEqual(self.secrets_of(doc), {
            "fromfile": ("create", []),
            "gen": ("create", ["value made at deploy"]),
            "moded": ("create", []),
        })
        self.deploy()
        with open(os.path.join(self.dir, ".fedi", "state.json")) as f:
            generated = json.load(f)["secrets"]["gen"]["value"]
        self.assertEqual(self.secrets_of(self.plan()), {})  # nothing after a deploy

        lib.write_file(value_file, second)
        declared["moded"]["mode"] = "0440"
        declared["moded"]["owner"] = "nobody"
        declared["moded"]["group"] = "nogroup"
        declared["added"] = {"machine": "web", "source": {"command": "printf added-value"}}
        self.write_deployment({"secrets": declared})
        self.on_host(f"printf stray > {SECRETS_DIR}/stray && chmod 400 {SECRETS_DIR}/stray")
        doc = self.plan()
        self.assertEqual(self.secrets_of(doc), {
            "added": ("create", []),
            "fromfile": ("update", ["content differs"]),
            "moded": ("update", ["owner root → nobody", "group root → nogroup",
                                 "mode 0400 → 0440"]),
            "stray": ("destroy", []),
        })
        self.assertTrue(self.web(doc)["changes"])
        # The plan changed nothing: the machine still has the first value.
        self.assertEqual(self.on_host(f"cat {SECRETS_DIR}/fromfile"), first)

        self.deploy()
        self.assertEqual(self.secrets_of(self.plan()), {})
        self.assert_no_value(first, second, generated, "fixed-value", "added-value")

    def test_no_value_in_plan_output_before_the_probe_too(self):
        # What the plan reads (file and command sources, generated values in state) never
        # reaches its output, whether or not the machine could be compared.
        value = "plan-secret-" + secrets.token_hex(12)
        value_file = lib.write_file(os.path.join(self.dir, "keys", "value"), value)
        self.write_deployment({"secrets": {
            "fromfile": {"machine": "web", "source": {"file": lib.nix_path(value_file)}},
            "gen": {"machine": "web", "source": {"generate": {"length": 48}}}}})
        self.deploy()
        with open(os.path.join(self.dir, ".fedi", "state.json")) as f:
            generated = json.load(f)["secrets"]["gen"]["value"]
        lib.write_file(value_file, value + "-changed")
        doc = self.plan()
        self.assertNotIn("secrets", " ".join(doc["errors"]))  # the part itself worked
        # A saved plan (`--out`, plan-core's part) holds no value either, when it exists.
        if "--out" in self.fedi("plan", "--help").stdout:
            out = os.path.join(self.dir, "plan.json")
            self.fedi("plan", "--out", out)
            with open(out) as f:
                self.outputs.append(f.read())
        self.assert_no_value(value, generated)
        # The plan saved nothing: the state holds the same generated value.
        with open(os.path.join(self.dir, ".fedi", "state.json")) as f:
            self.assertEqual(json.load(f)["secrets"]["gen"]["value"], generated)

    def test_account_to_create_then_nothing(self):
        self.write_deployment({"accounts": {"masto": {
            "machine": "web", "service": "mastodon", "username": "owner",
            "email": "owner@example.org"}}})
        doc = self.plan()
        self.assertEqual([(a["kind"], a["name"], a["machine"], a["action"], a["reasons"])
                          for a in self.web(doc)["accounts"]],
                         [("account", "masto", "web", "create", ["does not exist"])])
        self.assertNotIn("accounts", " ".join(doc["errors"]))
        # Asking created nothing: the stand-in only saw the existence check.
        log = self.on_host("cat /var/lib/mastodon/standin-argv.log 2>/dev/null; true")
        self.assertNotIn("create", log)
        self.deploy()
        doc = self.plan()
        self.assertEqual(self.web(doc)["accounts"], [])
        with open(os.path.join(self.dir, ".fedi", "state.json")) as f:
            password = json.load(f)["accounts"]["masto"]["password"]
        self.assertTrue(password)
        self.assert_no_value(password)

    def test_an_unreachable_machine_has_its_accounts_error_and_the_others_are_planned(self):
        machines = self.hosts.machines(systems={self.host: lib.system_expr(
            self.host, message=f"plan secrets {self.nonce}")})
        gone = dict(machines[self.host], ssh=dict(machines[self.host]["ssh"], port=lib.closed_port()))
        accounts = {name: {"machine": machine, "service": "mastodon", "username": "owner",
                           "email": "owner@example.org"}
                    for name, machine in (("masto", "web"), ("other", "gone"))}
        lib.write_file(os.path.join(self.dir, "deployment.nix"), lib.render_deployment(
            {"web": machines[self.host], "gone": gone}, {"accounts": accounts}))
        doc = self.plan()
        self.assertEqual([(a["name"], a["action"]) for a in self.web(doc)["accounts"]],
                         [("masto", "create")])
        (other,) = [m for m in doc["machines"] if m["name"] == "gone"]
        self.assertEqual(other["accounts"], [])
        self.assertTrue([e for e in other["errors"] if e.startswith("accounts: ")], other["errors"])
        self.assertNotIn("accounts", " ".join(doc["errors"]))

    def directory(self, users, services):
        info = self.ldap_info
        return {"identity": {"directory": {
            "type": "ldap", "url": info["ldapsUrl"], "caFile": info["caFile"],
            "baseDN": info["baseDN"], "bindDN": info["bindDN"],
            "bindPasswordFile": info["bindPasswordFile"],
            "users": users, "services": services}}}

    def test_directory_entries_to_create_update_then_nothing(self):
        base = self.ldap_info["baseDN"]
        uid, service = f"u{self.nonce}", f"s{self.nonce}"
        user_dn, service_dn = f"uid={uid},ou=people,{base}", f"cn={service},ou=services,{base}"
        users = {uid: {"email": "one@example.org", "displayName": "One"}}
        self.write_deployment(self.directory(users, [service]))
        doc = self.plan()
        self.assertNotIn("directory", " ".join(doc["errors"]))
        entries = {e["name"]: (e["kind"], e["action"], e["reasons"]) for e in doc["directory"]}
        self.assertEqual(entries.get(user_dn), ("directory", "create", ["does not exist"]))
        self.assertEqual(entries.get(service_dn), ("directory", "create", ["does not exist"]))
        self.assertTrue(doc["changes"])

        self.deploy()
        doc = self.plan()
        self.assertEqual(doc["directory"], [])

        users[uid]["email"] = "two@example.org"
        self.write_deployment(self.directory(users, [service]))
        doc = self.plan()
        self.assertEqual([(e["name"], e["action"], e["reasons"]) for e in doc["directory"]],
                         [(user_dn, "update", ["mail differs"])])
        with open(os.path.join(self.dir, ".fedi", "state.json")) as f:
            passwords = [e["password"] for e in json.load(f)["identity"]["directory"].values()]
        self.assert_no_value(*passwords)


if __name__ == "__main__":
    unittest.main()
