"""`fedi plan`: the storage part, against the Garage admin API test server and the real
Ceph RGW. Each test reads the plan's storage part and observed digests from `fedi plan
--json` and checks that planning changed nothing on the server. (The provisioning part:
test_plan_resources_pve.py, which uses the helpers below.)

The exit code is not asserted: until every part of the plan exists, the other parts may
add errors to the plan (tests of the plan as a whole are elsewhere).
"""

import json
import os
import pathlib
import time
import unittest
import urllib.request

import fedi_testlib as lib
import storage_testlib as slib


def plan_of(test, directory, env, *args):
    r = lib.run_fedi(["plan", "--json", *args], cwd=directory, env=env)
    try:
        return json.loads(r.stdout)
    except ValueError:
        test.fail(f"fedi plan printed no JSON (exit {r.returncode}):\n{r.stdout}\n{r.stderr}")


def changes(entry):
    """{what: (from, to)} of a provision plan or storage item."""
    return {c["what"]: (c["from"], c["to"]) for c in entry["changes"]}


class GarageStoragePlan(unittest.TestCase):
    """One Garage node (a test host holding the node id of the admin API test server's
    only node) and a service machine receiving a bucket key."""

    @classmethod
    def setUpClass(cls):
        cls.hosts = lib.TestHosts(2, prefix="ps")
        cls.addClassCleanup(cls.hosts.stop)
        cls.host_of = dict(zip(["s3-1", "web"], cls.hosts.names))

    def setUp(self):
        lib.private_workdir(self, "fedi-plan-storage-")
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
        slib.rgw_workdir(self, "fedi-plan-rgw-")
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
