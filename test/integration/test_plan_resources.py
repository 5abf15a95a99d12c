"""`fedi plan`: the provisioning and storage parts, against the Proxmox API test server,
the Garage admin API test server and the real Ceph RGW. Each test reads its part of
`fedi plan --json` (machines[i].provision, destroyed, storage, observed) and checks that
planning changed nothing on the servers.

The exit code is not asserted: until every part of the plan exists, the other parts may
add errors to the plan (tests of the plan as a whole are elsewhere).
"""

import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import time
import unittest

import fedi_testlib as lib
import storage_testlib as slib
from pve_fixture import VM_SSH_PORT, PveWithGuests


def plan_of(test, directory, env, *args):
    r = lib.run_fedi(["plan", "--json", *args], cwd=directory, env=env)
    try:
        return json.loads(r.stdout)
    except ValueError:
        test.fail(f"fedi plan printed no JSON (exit {r.returncode}):\n{r.stdout}\n{r.stderr}")


def changes(entry):
    """{what: (from, to)} of a provision plan or storage item."""
    return {c["what"]: (c["from"], c["to"]) for c in entry["changes"]}


class ProvisioningPlan(unittest.TestCase):
    """Two Proxmox machines: planned before they exist, changed, one made unchangeable in
    place, one removed. Numbered tests build on each other."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = pathlib.Path(tempfile.mkdtemp(prefix="fedi-plan-prov-"))
        cls.pve = PveWithGuests()
        cls.home = cls.tmp / "home"
        cls.home.mkdir()
        cls.env = lib.isolated_env(cls.home)
        cls.key = cls.tmp / "id_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(cls.key)],
                       check=True)
        cls.pubkey = (cls.tmp / "id_ed25519.pub").read_text().strip()
        cls.dir = cls.tmp / "fleet"
        cls.dir.mkdir()

    @classmethod
    def tearDownClass(cls):
        errors = cls.pve.close()
        if not lib.KEEP_DIRS:
            shutil.rmtree(cls.tmp, ignore_errors=True)
        if errors:
            raise AssertionError("Proxmox test server stderr:\n" + errors)

    def vm(self, name, **provision):
        value = {"provider": "pve", "template": 9000, "sshKeys": [self.pubkey]}
        value.update(provision)
        return {"provision": value, "ssh": {"port": VM_SSH_PORT, "identityFile": str(self.key)},
                "system": lib.system_expr(name)}

    def deployment(self, a=None, b=None, with_b=True):
        machines = {"pve-a": self.vm("pve-a", **(a or {"cores": 2, "memory": 2048}))}
        if with_b:
            machines["pve-b"] = self.vm("pve-b", **(b or {"memory": 1024}))
        text = lib.render_deployment(machines, {"providers": {"pve": self.pve.provider()}},
                                     function=True)
        lib.write_file(self.dir / "deployment.nix", text)

    def plan(self):
        """The plan, and that the Proxmox server saw no change while it was made."""
        before = len(self.pve.requests())
        vms = {vmid: vm["config"] for vmid, vm in self.pve.vms().items()}
        doc = plan_of(self, self.dir, self.env)
        self.assertEqual([r for r in self.pve.requests(before) if r["method"] != "GET"], [])
        self.assertEqual({vmid: vm["config"] for vmid, vm in self.pve.vms().items()}, vms)
        return doc, {m["name"]: m["provision"] for m in doc["machines"]}

    def test_01_machines_to_create(self):
        self.deployment()
        doc, prov = self.plan()
        self.assertEqual(self.pve.vms_named("pve-a"), [])
        for name in ("pve-a", "pve-b"):
            self.assertEqual(prov[name]["action"], "create", prov[name])
            self.assertEqual((prov[name]["provider"], prov[name]["type"]), ("pve", "proxmox"))
        self.assertEqual(changes(prov["pve-a"])["memory"], ("", "2048"))
        self.assertEqual(changes(prov["pve-a"])["cores"], ("", "2"))
        self.assertEqual(changes(prov["pve-b"])["memory"], ("", "1024"))
        self.assertEqual(doc["destroyed"], [])
        self.assertIn("vm.pve-a", doc["observed"])

    def test_02_memory_and_cores_change_in_place(self):
        self.deployment()
        r = lib.run_fedi(["--json", "provision"], cwd=self.dir, env=self.env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        doc, prov = self.plan()
        self.assertEqual(prov["pve-a"]["action"], "none", prov["pve-a"])
        unchanged = doc["observed"]["vm.pve-a"]
        vmid = int(prov["pve-a"]["id"])
        self.assertEqual(str(self.pve.vms()[vmid]["config"]["memory"]), "2048")

        self.deployment(a={"cores": 4, "memory": 4096})
        doc, prov = self.plan()
        self.assertEqual(prov["pve-a"]["action"], "update", prov["pve-a"])
        self.assertEqual(changes(prov["pve-a"]), {"memory": ("2048", "4096"), "cores": ("2", "4")})
        self.assertEqual(prov["pve-a"]["id"], str(vmid))
        self.assertEqual(prov["pve-b"]["action"], "none", prov["pve-b"])
        self.assertNotEqual(doc["observed"]["vm.pve-a"], unchanged)

    def test_03_a_vm_changed_behind_the_plan_is_noticed(self):
        self.deployment()
        doc, prov = self.plan()
        vmid = int(prov["pve-a"]["id"])
        seen = doc["observed"]["vm.pve-a"]
        self.assertEqual(doc["observed"]["vm.pve-a"], self.plan()[0]["observed"]["vm.pve-a"])
        # Someone changes the VM's memory through the API.
        self.pve_put_config(vmid, {"memory": "3072"})
        doc, prov = self.plan()
        self.assertEqual(changes(prov["pve-a"]), {"memory": ("3072", "2048")})
        self.assertNotEqual(doc["observed"]["vm.pve-a"], seen)
        self.pve_put_config(vmid, {"memory": "2048"})

    def pve_put_config(self, vmid, values):
        import ssl
        import urllib.parse
        import urllib.request
        body = urllib.parse.urlencode(values).encode()
        req = urllib.request.Request(f"{self.pve.url}/api2/json/nodes/pve1/qemu/{vmid}/config",
                                     data=body, method="PUT",
                                     headers={"Authorization": f"PVEAPIToken={self.pve.token}"})
        ctx = ssl.create_default_context(cafile=self.pve.ca_file)
        with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
            r.read()

    def test_04_fixed_field_needs_replace(self):
        self.deployment(b={"memory": 1024, "template": 9001, "full": False})
        doc, prov = self.plan()
        b = prov["pve-b"]
        self.assertEqual(b["action"], "replace", b)
        fixed = {c["what"]: (c["from"], c["to"]) for c in b["fixed"]}
        self.assertEqual(fixed["template"], ("9000", "9001"))
        self.assertEqual(fixed["clone"], ("full", "linked"))
        self.assertIn("template", b["why"])
        self.assertIn("cannot change in place", b["why"])
        self.assertIn("fedi provision --destroy pve-b", b["why"])

    def test_05_machine_left_the_deployment_is_destroyed(self):
        self.deployment(with_b=False)
        vms = sorted(self.pve.vms())
        doc, prov = self.plan()
        self.assertEqual(doc["destroyed"], ["pve-b"])
        self.assertEqual(sorted(prov), ["pve-a"])
        self.assertEqual(sorted(self.pve.vms()), vms)


class GarageStoragePlan(unittest.TestCase):
    """One Garage node (a test host holding the node id of the admin API test server's
    only node) and a service machine receiving a bucket key."""

    @classmethod
    def setUpClass(cls):
        cls.hosts = lib.TestHosts(2, prefix="ps")
        cls.addClassCleanup(cls.hosts.stop)
        cls.host_of = dict(zip(["s3-1", "web"], cls.hosts.names))

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fedi-plan-storage-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        os.makedirs(os.path.join(self.dir, "home"))
        self.env = lib.isolated_env(os.path.join(self.dir, "home"))
        lib.reset_hosts(self.hosts)
        for name in self.hosts.names:
            self.hosts.exec(name, "rm", "-rf", "/var/lib/fedi")
        self.garage = slib.GarageServer("--nodes", "1", "--isolated", "--replication-factor", "1")
        self.addCleanup(self.garage.stop)
        node = self.garage.info["nodes"][0]
        self.node_id = node["id"]
        self.hosts.exec(self.host_of["s3-1"], "sh", "-c",
                        f"mkdir -p /var/lib/fedi/garage && echo '{node['id']}@{node['addr']}' "
                        f"> {slib.NODE_ID_FILE}")

    def write(self, node=None, buckets=None):
        machines = {name: lib.machine(self.hosts[host], self.hosts.identity_file(),
                                      lib.system_expr(name, message=name))
                    for name, host in self.host_of.items()}
        storage = {"type": "garage", "machines": ["s3-1"], "replication": 1,
                   "adminEndpoint": self.garage.endpoint, "adminTokenFile": self.garage.token_file,
                   "s3Endpoint": "http://127.0.0.1:3900", "healthTimeout": 5,
                   "allowInsecureHttp": True,
                   "nodes": {"s3-1": node or {"zone": "dc1", "capacity": "1T"}}}
        text = lib.render_deployment(machines, {"storage": {"garage": storage},
                                                "buckets": buckets or self.buckets()})
        lib.write_file(os.path.join(self.dir, "deployment.nix"), text)

    @staticmethod
    def key(perms, machine="web"):
        return dict(perms, deliverTo={"machine": machine, "owner": "root", "mode": "0400"})

    def buckets(self, **extra):
        value = {"media": {"storage": "garage", "quota": {"maxSize": "1G"},
                           "keys": {"web": self.key({"read": True, "write": True})}},
                 "old": {"storage": "garage"}}
        value.update(extra)
        return value

    def plan(self):
        """The plan's storage part and observed digests; nothing changed on Garage."""
        before = self.garage.state()
        self.garage.clear_requests()
        doc = plan_of(self, self.dir, self.env)
        self.assertEqual(slib.mutating_requests(self.garage), [])
        after = self.garage.state()
        self.assertEqual(after["cluster"]["layout"], before["cluster"]["layout"])
        self.assertEqual(after["buckets"], before["buckets"])
        self.assertEqual(after["keys"], before["keys"])
        items = {(i["kind"], i["name"]): i for i in doc["storage"]["items"]}
        return doc, items

    def test_plan_of_a_new_cluster_creates_layout_bucket_and_key(self):
        self.write()
        doc, items = self.plan()
        self.assertEqual(self.garage.state()["cluster"]["layout"]["version"], 0)
        node = items[("node", "s3-1")]
        self.assertEqual(node["action"], "create", node)
        self.assertEqual(changes(node), {"zone": ("", "dc1"), "capacity": ("", str(10**12)),
                                         "tags": ("", "s3-1")})
        self.assertEqual(changes(items[("cluster", "garage")]), {"layout version": ("0", "1")})
        media = items[("bucket", "media")]
        self.assertEqual((media["action"], changes(media)), ("create", {"max size": ("", str(10**9))}))
        key = items[("key", "media/web")]
        self.assertEqual((key["action"], changes(key)), ("create", {"permissions": ("", "read+write")}))
        self.assertEqual(items[("bucket", "old")]["action"], "create")
        self.assertIn("cluster.garage", doc["observed"])
        self.assertIn("bucket.garage.media", doc["observed"])

    def test_plan_after_deploy_shows_layout_bucket_and_key_changes_and_undeclared(self):
        self.write()
        r = lib.run_fedi(["--json", "deploy"], cwd=self.dir, env=self.env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        doc, items = self.plan()
        self.assertEqual(items, {}, "nothing changes right after a deploy")
        seen = dict(doc["observed"])

        self.write(node={"zone": "dc2", "capacity": "2T"},
                   buckets={"media": {"storage": "garage", "quota": {"maxSize": "2G"},
                                      "website": True,
                                      "keys": {"web": self.key({"read": True, "write": True,
                                                                "owner": True})}},
                            "more": {"storage": "garage",
                                     "keys": {"web": self.key({"read": True})}}})
        doc, items = self.plan()
        node = items[("node", "s3-1")]
        self.assertEqual((node["action"], changes(node)),
                         ("update", {"zone": ("dc1", "dc2"),
                                     "capacity": (str(10**12), str(2 * 10**12))}))
        self.assertEqual(changes(items[("cluster", "garage")]), {"layout version": ("1", "2")})
        media = items[("bucket", "media")]
        self.assertEqual((media["action"], changes(media)),
                         ("update", {"max size": (str(10**9), str(2 * 10**9)),
                                     "website": ("disabled", "enabled")}))
        key = items[("key", "media/web")]
        self.assertEqual((key["action"], changes(key)),
                         ("update", {"permissions": ("read+write", "read+write+owner")}))
        self.assertEqual(items[("bucket", "more")]["action"], "create")
        self.assertEqual(items[("key", "more/web")]["action"], "create")
        self.assertTrue(any("bucket old" in u for u in doc["storage"]["undeclared"]),
                        doc["storage"]["undeclared"])
        # Garage answered the same about the cluster and the bucket: same digests.
        self.assertEqual(doc["observed"]["cluster.garage"], seen["cluster.garage"])
        self.assertEqual(doc["observed"]["bucket.garage.media"], seen["bucket.garage.media"])
        # No secret in the plan.
        out = lib.run_fedi(["plan", "--json"], cwd=self.dir, env=self.env)
        for k in self.garage.state()["keys"]:
            if k.get("secretAccessKey"):
                self.assertNotIn(k["secretAccessKey"], out.stdout + out.stderr)

    def test_observed_layout_changes_when_the_cluster_changes(self):
        self.write()
        r = lib.run_fedi(["--json", "deploy"], cwd=self.dir, env=self.env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        doc, _ = self.plan()
        seen = doc["observed"]["cluster.garage"]
        # Someone changes the node's tags through the admin API.
        layout = self.garage.state()["cluster"]["layout"]
        self.garage_post("/v2/UpdateClusterLayout", {"roles": [
            {"id": self.node_id, "zone": "dc1", "capacity": 10**12, "tags": ["s3-1", "hand"]}]})
        self.garage_post("/v2/ApplyClusterLayout", {"version": layout["version"] + 1})
        doc, items = self.plan()
        self.assertNotEqual(doc["observed"]["cluster.garage"], seen)
        node = items[("node", "s3-1")]
        self.assertEqual((node["action"], changes(node)), ("update", {"tags": ("hand,s3-1", "s3-1")}))

    def garage_post(self, path, body):
        import urllib.request
        req = urllib.request.Request(self.garage.endpoint + path, data=json.dumps(body).encode(),
                                     method="POST")
        req.add_header("Authorization", f"Bearer {self.garage.token}")
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read().decode() or "null")


class RgwStoragePlan(unittest.TestCase):
    """A real Ceph RGW: a bucket and key deployed, then a plan with a new bucket and key
    and the first bucket no longer declared. (Quotas and website flags are refused for RGW
    when the deployment is read, so an RGW plan never holds them.)"""

    @classmethod
    def setUpClass(cls):
        cls.rgw_dir, cls.rgw = lib.start_rgw(cls)
        cls.hosts = lib.TestHosts(1, prefix="prgw")
        cls.addClassCleanup(cls.hosts.stop)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fedi-plan-rgw-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        os.makedirs(os.path.join(self.dir, "home"))
        self.env = lib.isolated_env(os.path.join(self.dir, "home"))
        self.access = lib.write_file(os.path.join(self.dir, "rgw-access"),
                                     self.rgw["accessKey"] + "\n", 0o600)
        self.secret = lib.write_file(os.path.join(self.dir, "rgw-secret"),
                                     self.rgw["secretKey"] + "\n", 0o600)
        self.first = f"plan-{time.time_ns() % 10**9}"
        self.second = self.first + "-b"

    def write(self, bucket_names):
        h = self.hosts.hosts[0]
        machines = {"web": lib.machine(h, self.hosts.identity_file(),
                                       lib.system_expr("web", message=self.first))}
        storage = {"type": "rgw", "s3Endpoint": self.rgw["endpoint"],
                   "region": self.rgw.get("region", "us-east-1"),
                   "accessKeyFile": str(self.access), "secretKeyFile": str(self.secret),
                   "allowInsecureHttp": True}
        buckets = {name: {"storage": "ceph", "keys": {"web": {
            "read": True, "write": True,
            "deliverTo": {"machine": "web", "owner": "root", "mode": "0400"}}}}
            for name in bucket_names}
        lib.write_file(os.path.join(self.dir, "deployment.nix"),
                       lib.render_deployment(machines, {"storage": {"ceph": storage},
                                                        "buckets": buckets}))

    def buckets(self):
        r = lib.run_fedi(["--json", "bucket", "list"], cwd=self.dir, env=self.env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return json.loads(r.stdout)

    def test_new_bucket_and_key_planned_undeclared_reported_nothing_changed(self):
        self.write([self.first])
        r = lib.run_fedi(["--json", "deploy"], cwd=self.dir, env=self.env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        doc = plan_of(self, self.dir, self.env)
        self.assertEqual(doc["storage"]["items"], [], "nothing changes right after a deploy")
        self.assertIn(f"bucket.ceph.{self.first}", doc["observed"])

        self.write([self.second])
        before = self.buckets()
        doc = plan_of(self, self.dir, self.env)
        self.assertEqual(self.buckets(), before)
        items = {(i["kind"], i["name"]): i for i in doc["storage"]["items"]}
        self.assertEqual(items[("bucket", self.second)]["action"], "create")
        key = items[("key", f"{self.second}/web")]
        self.assertEqual((key["action"], changes(key)), ("create", {"permissions": ("", "read+write")}))
        self.assertTrue(any(f"bucket {self.first}" in u for u in doc["storage"]["undeclared"]),
                        doc["storage"]["undeclared"])
        state = json.loads(pathlib.Path(self.dir, ".fedi", "state.json").read_text())
        secret = state["storage"]["buckets"][self.first]["keys"]["web"]["secret"]
        self.assertNotIn(secret, json.dumps(doc))
