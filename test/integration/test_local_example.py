"""examples/local, the README's first command (scripts/demo), is wired as it says: the
storage, the directory and the service machines use the names fedi delivers to them
(bucket key files, bind passwords, admin credentials), and bootstrap.nix is exactly its
infrastructure part. The demo itself (Ceph RGW, slapd, four systemd machines) runs in CI
through scripts/fresh-check (`scripts/demo; scripts/demo stop`)."""

import json
import pathlib
import shutil
import tempfile
import unittest

from fedi_testlib import SOURCE_DIR, isolated_env, nix_build, run_fedi

EXAMPLE = SOURCE_DIR / "examples" / "local"
SECRETS = "/var/lib/fedi/secrets/"
INFRASTRUCTURE = {"s3", "ldap"}
ADDRESSES = {"s3": "10.213.7.2", "ldap": "10.213.7.6", "web": "10.213.7.10", "video": "10.213.7.14"}


class LocalExample(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = pathlib.Path(tempfile.mkdtemp(prefix="fedi-local-example-"))
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        (cls.tmp / "home").mkdir()
        cls.env = isolated_env(cls.tmp / "home")
        cls.full = cls.eval("deployment.nix")
        cls.bootstrap = cls.eval("bootstrap.nix")

    @classmethod
    def eval(cls, file):
        r = run_fedi(["--json", "--state", cls.tmp / "state.json", "-f", file, "eval"],
                     cwd=EXAMPLE, env=cls.env)
        if r.returncode != 0:
            raise AssertionError(f"fedi eval of {file} failed: {r.stderr}")
        return json.loads(r.stdout)

    def unit(self, machine, name):
        """The text of a unit of `machine`'s system, built with the machines' addresses."""
        resources = " ".join(f'{m} = {{ host = "{a}"; port = 22; }};' for m, a in ADDRESSES.items())
        out = nix_build(f"(import {EXAMPLE}/deployment.nix {{ resources.machines = {{ {resources} }}; }})"
                        f".machines.{machine}.system", env=self.env)
        return (pathlib.Path(out) / "etc" / "systemd" / "system" / name).read_text()

    def script_of(self, unit_text, key):
        """The store script a unit's `key=` line runs, and its text."""
        line = next(l for l in unit_text.splitlines() if l.startswith(key + "="))
        path = line.split("=", 1)[1].split()[0]
        return pathlib.Path(path).read_text()

    def test_the_machines_are_systemd_containers(self):
        self.assertEqual(self.full["providers"]["local"]["systemd"], True)
        self.assertEqual(set(self.full["machines"]), INFRASTRUCTURE | {"web", "video"})
        for name, m in self.full["machines"].items():
            self.assertEqual(m["provision"]["provider"], "local", name)
            self.assertTrue(m["healthChecks"], f"{name} has no health check")
            if name not in INFRASTRUCTURE:
                self.assertTrue(INFRASTRUCTURE <= set(m["after"]), name)

    def test_each_service_uses_the_bucket_key_fedi_delivers_to_it(self):
        self.assertEqual(self.full["storage"]["rgw"]["type"], "rgw")
        delivered = {}
        for bucket in self.full["buckets"].values():
            self.assertEqual(bucket["storage"], "rgw")
            for key in bucket["keys"].values():
                for d in key["deliverTo"]:
                    delivered[d["machine"]] = d["file"]
        self.assertEqual(set(delivered), {"web", "video"})
        for machine, file in delivered.items():
            unit = self.unit(machine, "demo-s3-check.service")
            self.assertIn(f"EnvironmentFile={SECRETS}{file}\n", unit)
            checks = " ".join(c.get("command", "") for c in self.full["machines"][machine]["healthChecks"])
            self.assertIn("demo-s3-check.service", checks)

    def test_the_storage_node_serves_where_fedi_looks_with_the_admin_keys_it_holds(self):
        rgw = self.full["storage"]["rgw"]
        secrets = self.full["secrets"]
        for attr, secret in (("accessKey", "rgw-admin-access-key"), ("secretKey", "rgw-admin-secret-key")):
            # The file fedi signs with is the one it delivers to the machine.
            self.assertEqual(secrets[secret]["machines"], ["s3"])
            self.assertEqual(pathlib.Path(rgw[attr]["file"]).name, secret)
        admin = self.script_of(self.unit("s3", "ceph-demo-admin-user.service"), "ExecStart")
        self.assertIn(SECRETS + "rgw-admin-access-key", admin)
        self.assertIn(SECRETS + "rgw-admin-secret-key", admin)
        setup = self.script_of(self.unit("s3", "ceph-demo-mon.service"), "ExecStartPre")
        self.assertIn(f"rgw frontends = beast endpoint={ADDRESSES['s3']}:7480", setup)
        self.assertEqual(rgw["s3Endpoint"], "http://not-provisioned-yet:7480")  # no state here

    def test_the_directory_and_its_bind_accounts(self):
        identity = self.full["identity"]["directory"]
        self.assertEqual(set(identity["services"]), {"web", "video"})
        self.assertEqual(pathlib.Path(identity["bindPasswordFile"]).name, "ldap-admin-password")
        self.assertEqual(self.full["secrets"]["ldap-admin-password"]["machines"], ["ldap"])
        slapd = self.script_of(self.unit("ldap", "slapd-demo.service"), "ExecStartPre")
        self.assertIn(SECRETS + "ldap-admin-password", slapd)
        self.assertIn(f"olcSuffix: {identity['baseDN']}", slapd)
        for service in ("web", "video"):
            secret = self.full["secrets"][f"{service}-ldap"]
            self.assertEqual(secret["machines"], [service])
            self.assertEqual(secret["source"], f"password of identity.directory.services.{service}")
            check = self.script_of(self.unit(service, "demo-ldap-check.service"), "ExecStart")
            self.assertIn(identity["services"][service]["dn"], check)
            self.assertIn(SECRETS + secret["name"], check)

    def test_accounts_on_the_service_machines(self):
        accounts = self.full["accounts"]
        self.assertEqual({a["machine"]: a["service"] for a in accounts.values()},
                         {"web": "mastodon", "video": "peertube"})
        # PeerTube's first start reads the file fedi delivers for its root account.
        unit = self.unit("video", "peertube.service")
        self.assertIn(f"--environment-file {SECRETS}account-peertube-root.env", unit)

    def test_bootstrap_is_the_infrastructure_part(self):
        for section in ("storage", "buckets", "identity", "accounts"):
            self.assertFalse(self.bootstrap.get(section), section)
        for name in INFRASTRUCTURE:
            # The same systems: the full deploy finds these machines unchanged.
            self.assertEqual(self.bootstrap["machines"][name]["system"],
                             self.full["machines"][name]["system"], name)
            self.assertEqual(self.bootstrap["machines"][name]["tags"], ["infrastructure"])
        want = {n: s for n, s in self.full["secrets"].items() if set(s["machines"]) <= INFRASTRUCTURE}
        self.assertEqual(self.bootstrap["secrets"], want)


if __name__ == "__main__":
    unittest.main()
