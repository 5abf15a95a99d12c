"""`fedi bucket` against the Garage admin API test server (test/servers/garage, which
stands in for Garage: it cannot run here). The deployment declares an existing Garage
cluster (no storage machines), so no test host is needed.
"""

import json
import os
import shutil
import tempfile
import unittest

import fedi_testlib as lib
import storage_testlib as slib


class BucketCli(unittest.TestCase):
    GARAGE_VERSION = "2"  # the Garage release the test server answers as (see below)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fedi-bucket-cli-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.garage = slib.GarageServer("--nodes", "1", "--version", self.GARAGE_VERSION)
        self.addCleanup(self.garage.stop)
        storage = {"type": "garage", "adminEndpoint": self.garage.endpoint,
                   "adminTokenEnv": "TEST_GARAGE_TOKEN", "s3Endpoint": "http://127.0.0.1:3900",
                   "allowInsecureHttp": True}  # the test server speaks plain http
        self.storage = storage
        buckets = {"declared-media": {"storage": "garage", "keys": {"app": {"write": True}}}}
        lib.write_file(os.path.join(self.dir, "deployment.nix"),
                       lib.render_deployment({}, {"storage": {"garage": storage},
                                                  "buckets": buckets}))
        self.env = lib.nix_env()
        self.env["TEST_GARAGE_TOKEN"] = self.garage.token

    def write(self, storage):
        buckets = {"declared-media": {"storage": "garage", "keys": {"app": {"write": True}}}}
        lib.write_file(os.path.join(self.dir, "deployment.nix"),
                       lib.render_deployment({}, {"storage": {"garage": storage},
                                                  "buckets": buckets}))

    def fedi(self, *args, rc=0):
        r = lib.run_fedi(["--json", "bucket", *args], cwd=self.dir, env=self.env)
        self.assertEqual(r.returncode, rc, f"{args}: {r.stdout}\n{r.stderr}")
        return json.loads(r.stdout) if rc == 0 else r

    def perms(self, key_id, bucket):
        key = self.garage.keys()[key_id]
        return {b["id"]: b["permissions"] for b in key["buckets"]}.get(bucket["id"])

    def test_buckets_and_keys_declared_and_ad_hoc(self):
        # A declared bucket is created as declared, with its key.
        out = self.fedi("create", "declared-media")
        self.assertTrue(out["declared"])
        media = self.garage.bucket("declared-media")
        self.assertIsNotNone(media)
        self.assertEqual(len(media["keys"]), 1)
        self.assertEqual(media["keys"][0]["permissions"],
                         {"read": True, "write": True, "owner": False})
        self.assertEqual(self.fedi("create", "declared-media")["changes"], [])  # idempotent

        # An ad hoc bucket and key; the secret is printed once, for the caller.
        self.fedi("create", "scratch")
        key = self.fedi("key", "create", "scratch", "tool", "--read")
        scratch = self.garage.bucket("scratch")
        self.assertEqual(self.garage.keys()[key["accessKeyId"]]["secretAccessKey"],
                         key["secretAccessKey"])
        self.assertEqual(self.perms(key["accessKeyId"], scratch),
                         {"read": True, "write": False, "owner": False})
        listed = {b["name"]: b for b in self.fedi("list")}
        self.assertEqual(set(listed), {"declared-media", "scratch"})
        self.assertTrue(listed["declared-media"]["declared"])
        self.assertFalse(listed["scratch"]["declared"])
        self.assertNotIn(key["secretAccessKey"], json.dumps(listed))

        # allow sets, deny clears, by key name or id.
        self.fedi("allow", "scratch", "tool", "--write")
        self.assertEqual(self.perms(key["accessKeyId"], scratch),
                         {"read": True, "write": True, "owner": False})
        self.fedi("deny", "scratch", key["accessKeyId"], "--read")
        self.assertEqual(self.perms(key["accessKeyId"], scratch),
                         {"read": False, "write": True, "owner": False})
        keys = self.fedi("key", "list", "scratch")
        self.assertEqual([(k["name"], k["write"], k["read"]) for k in keys], [("tool", True, False)])

        # A non-empty bucket is not deleted unless asked for.
        self.garage.control("POST", "bucket-contents", {"bucketId": scratch["id"], "objects": 3,
                                                        "bytes": 10})
        r = self.fedi("delete", "scratch", rc=1)
        self.assertIn("holds 3 object(s)", r.stderr)
        self.assertIn("--force", r.stderr)
        self.assertIsNotNone(self.garage.bucket("scratch"))
        self.garage.control("POST", "bucket-contents", {"bucketId": scratch["id"], "objects": 0})
        self.fedi("delete", "scratch")
        self.assertIsNone(self.garage.bucket("scratch"))
        self.assertNotIn(key["accessKeyId"], self.garage.keys())  # its key went with it

        # Declared things are changed in the deployment, not here.
        r = self.fedi("delete", "declared-media", rc=2)
        self.assertIn("is declared", r.stderr)
        r = self.fedi("key", "delete", "declared-media", "app", rc=2)
        self.assertIn("is declared", r.stderr)

    def test_plain_http_is_refused_unless_accepted_and_then_warned_about(self):
        storage = dict(self.storage)
        del storage["allowInsecureHttp"]
        self.write(storage)
        before = len(self.garage.requests())
        r = self.fedi("list", rc=2)
        self.assertIn(f"storage.garage.adminEndpoint: {self.garage.endpoint} is plain http",
                      r.stderr)
        self.assertIn("admin token", r.stderr)
        self.assertNotIn(self.garage.token, r.stderr + r.stdout)
        self.assertEqual(len(self.garage.requests()), before)  # nothing was sent
        # Accepted: it works, and every run says so on stderr (stdout stays JSON).
        self.write(self.storage)
        for _ in range(2):
            r = lib.run_fedi(["--json", "bucket", "list"], cwd=self.dir, env=self.env)
            self.assertEqual(r.returncode, 0, r.stderr)
            json.loads(r.stdout)
            self.assertIn("warning: storage.garage.adminEndpoint: ", r.stderr)
            self.assertIn("warning: storage.garage.s3Endpoint: ", r.stderr)
        r = lib.run_fedi(["eval"], cwd=self.dir, env=self.env)
        paths = [w["path"] for w in json.loads(r.stdout)["warnings"]]
        self.assertEqual(paths, ["storage.garage.adminEndpoint", "storage.garage.s3Endpoint"])

    def test_garage_errors_reach_the_user_with_code_and_message(self):
        self.garage.control("POST", "faults", {"operation": "CreateBucket", "status": 409,
                                               "code": "BucketAlreadyExists",
                                               "message": "injected: taken"})
        r = self.fedi("create", "scratch", rc=1)
        self.assertIn("Garage CreateBucket: BucketAlreadyExists: injected: taken (HTTP 409)",
                      r.stderr)
        self.env["TEST_GARAGE_TOKEN"] = "wrong"
        r = self.fedi("list", rc=1)
        self.assertIn("AccessDenied", r.stderr)
        del self.env["TEST_GARAGE_TOKEN"]
        r = self.fedi("list", rc=2)
        self.assertIn("storage.garage.adminTokenEnv: the environment variable TEST_GARAGE_TOKEN "
                      "is not set", r.stderr)


class BucketCliOn1x(BucketCli):
    """The same against Garage 1.x's answers (admin API v1 only)."""
    GARAGE_VERSION = "1"


class BucketCliOn09(BucketCli):
    """The same against Garage 0.9's answers (admin API v1 only)."""
    GARAGE_VERSION = "0.9"


if __name__ == "__main__":
    unittest.main()
