"""Storage on a real Ceph RGW (test/servers/rgw/rgw): `fedi deploy` creates a bucket
and a key through RGW's admin ops API and S3 and delivers the key to a test host; the
delivered key stores and reads an object (RGW checks the signature), a wrong secret is
refused; `fedi bucket` deletes a non-empty bucket only with --force.
"""

import json
import os
import subprocess
import time
import unittest

import fedi_testlib as lib
import storage_testlib as slib

CHECK = os.environ.get("FEDI_S3_CHECK", "")


class RgwStorage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not CHECK or not os.access(CHECK, os.X_OK):
            raise RuntimeError("FEDI_S3_CHECK must name the fedi-s3-check binary (CTest sets it)")
        cls.rgw_dir, cls.rgw = lib.start_rgw(cls)
        cls.hosts = lib.TestHosts(1, prefix="rgw")
        cls.addClassCleanup(cls.hosts.stop)

    def setUp(self):
        slib.rgw_workdir(self, "fedi-storage-rgw-")
        self.bucket = f"media-{time.time_ns() % 10**9}"

    def write(self, secret_file=None):
        h = self.hosts.hosts[0]
        machines = {"web": lib.machine(h, self.hosts.identity_file(),
                                       lib.system_expr("web", message=self.bucket))}
        storage = {"type": "rgw", "s3Endpoint": self.rgw["endpoint"],
                   "region": self.rgw.get("region", "us-east-1"),
                   "accessKeyFile": str(self.access),
                   "secretKeyFile": str(secret_file or self.secret),
                   "allowInsecureHttp": True}  # the local RGW listens on plain http
        buckets = {self.bucket: {"storage": "ceph", "keys": {"web": {
            "read": True, "write": True,
            "deliverTo": {"machine": "web", "owner": "www-data", "mode": "0400"}}}}}
        lib.write_file(os.path.join(self.dir, "deployment.nix"),
                       lib.render_deployment(machines, {"storage": {"ceph": storage},
                                                        "buckets": buckets}))

    def fedi(self, *args):
        return lib.run_fedi(["--json", *args], cwd=self.dir, env=self.env)

    def s3(self, env, *args, stdin=b""):
        config = os.path.join(self.dir, f"s3-{time.time_ns()}.json")
        with open(config, "w") as f:
            json.dump({"endpoint": env["S3_ENDPOINT"], "region": env["S3_REGION"],
                       "accessKey": env["AWS_ACCESS_KEY_ID"],
                       "secretKey": env["AWS_SECRET_ACCESS_KEY"]}, f)
        return subprocess.run([CHECK, "--config", config, *args], input=stdin,
                              capture_output=True, timeout=60)

    def key_file(self):
        r = self.hosts.exec(self.hosts.names[0], "sh", "-c",
                            f"stat -c '%U %a' /var/lib/fedi/secrets/{self.bucket}-web.env && "
                            f"cat /var/lib/fedi/secrets/{self.bucket}-web.env")
        self.assertEqual(r.returncode, 0, r.stderr)
        head, _, content = r.stdout.partition("\n")
        return head, slib.read_env_file(content)

    def test_deploy_creates_bucket_and_key_that_work_and_rerun_creates_nothing(self):
        self.write()
        r = self.fedi("deploy")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        owner_mode, env = self.key_file()
        self.assertEqual(owner_mode, "www-data 400")
        self.assertEqual(env["S3_BUCKET"], self.bucket)
        put = self.s3(env, "put", self.bucket, "hello.txt", stdin=b"stored by fedi's key")
        self.assertEqual(put.returncode, 0, put.stderr)
        got = self.s3(env, "get", self.bucket, "hello.txt")
        self.assertEqual(got.stdout, b"stored by fedi's key")
        secret = env["AWS_SECRET_ACCESS_KEY"]
        other = "y" if secret[0] == "x" else "x"  # a secret may start with "x" (CI met one)
        wrong = self.s3(dict(env, AWS_SECRET_ACCESS_KEY=other + secret[1:]),
                        "get", self.bucket, "hello.txt")
        self.assertEqual(wrong.returncode, 1)
        self.assertIn("SignatureDoesNotMatch", wrong.stderr.decode())

        # A re-run creates no key and delivers the same one.
        r = self.fedi("deploy")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual([c for b in doc["storage"]["buckets"] for c in b["changes"]], [])
        self.assertEqual(self.key_file()[1], env)
        info = json.loads(self.fedi("bucket", "info", self.bucket).stdout)
        self.assertEqual(info["objects"], 1)
        # the owner user's own key and the delivered one
        self.assertEqual(len(info["keys"]), 2)

    def test_rgw_errors_reach_the_user(self):
        bad = lib.write_file(os.path.join(self.dir, "bad-secret"), "not-the-secret\n", 0o600)
        self.write(secret_file=bad)
        r = self.fedi("deploy")
        self.assertEqual(r.returncode, 1)
        doc = json.loads(r.stdout)
        self.assertIn("SignatureDoesNotMatch", doc["storage"]["buckets"][0]["error"])
        self.assertIn("RGW GetBucketInfo", doc["storage"]["buckets"][0]["error"])
        self.assertEqual(doc["machines"][0]["failedPhase"], "storage")

    def test_non_empty_bucket_deleted_only_with_force(self):
        self.write()
        scratch = "scratch-" + self.bucket
        self.assertEqual(self.fedi("bucket", "create", scratch).returncode, 0)
        key = json.loads(self.fedi("bucket", "key", "create", scratch, "tool").stdout)
        env = {"S3_ENDPOINT": key["s3Endpoint"], "S3_REGION": key["region"],
               "AWS_ACCESS_KEY_ID": key["accessKeyId"],
               "AWS_SECRET_ACCESS_KEY": key["secretAccessKey"]}
        self.assertEqual(self.s3(env, "put", scratch, "a", stdin=b"x").returncode, 0)
        r = self.fedi("bucket", "delete", scratch)
        self.assertEqual(r.returncode, 1)
        self.assertIn("holds 1 object(s)", r.stderr)
        self.assertEqual(self.s3(env, "get", scratch, "a").stdout, b"x")
        r = self.fedi("bucket", "delete", scratch, "--force")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.fedi("bucket", "info", scratch)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no bucket", r.stderr)


if __name__ == "__main__":
    unittest.main()
