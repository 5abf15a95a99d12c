"""A binary cache with no `url`, on a real Ceph RGW (test/servers/rgw/rgw): machines read it
through Nix's S3 store (s3://…&profile=fedi-cache) with a read-only key that fedi makes
once, records in state and writes to each machine that fetches, as a root-only AWS shared
credentials file.

The key can GET the bucket's objects and list them; a PUT or a DELETE with it is refused.
The fetch itself cannot be exercised here: the test hosts run Debian's Nix 2.8, built
without S3 support, which cannot open an s3:// store at all ("don't know how to open Nix
store"). So a deploy writes the credentials file (checked: mode 0600, the key and the
profile), says in plain words why the machines could not fetch, and converges through the
push. The secret appears in no output of fedi. On Garage (its admin API test server),
the read key is a key with the bucket's read permission only.
"""

import json
import os
import shutil
import tempfile
import time
import unittest

import fedi_testlib as lib
import storage_testlib as slib

CREDENTIALS = "/var/lib/fedi/cache/aws-credentials"


class CacheS3ReadKey(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        slib.require_s3_check()
        slib.start_rgw_cache(cls)
        cls.hosts = lib.TestHosts(1, prefix="csk")
        cls.addClassCleanup(cls.hosts.stop)

    def setUp(self):
        slib.new_cache_bucket(self, "fedi-cache-s3-key-")
        self.nonce = f"{self._testMethodName}-{time.time_ns()}"
        lib.forget_closures(self.hosts)
        self.host = self.hosts.hosts[0]
        self.system = lib.system_expr(self.host["name"], message=self.nonce)
        machines = {self.host["name"]: lib.machine(self.host,
                                                   identity_file=self.hosts.identity_file(),
                                                   system=self.system)}
        cache = slib.rgw_cache(self.dir, self.rgw, self.bucket, self.secret_key, self.public_key)
        del cache["cache"]["url"]  # read through S3, with a key
        lib.write_file(os.path.join(self.dir, "deployment.nix"),
                       lib.render_deployment(machines, cache))

    def fedi(self, *args):
        r = lib.run_fedi(["--json", *args], cwd=self.dir, env=self.env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r, json.loads(r.stdout)

    def keys(self):
        with open(os.path.join(self.dir, ".fedi", "state.json")) as f:
            return json.load(f)["storage"]["buckets"][self.bucket]["keys"]

    def s3(self, key, *args, stdin=b""):
        """fedi-s3-check signing with `key` (a state record): CompletedProcess."""
        return slib.s3_as(self, key, *args, stdin=stdin)

    def test_the_read_key_reads_and_is_refused_writes(self):
        path = lib.nix_build(str(self.system), env=self.env)
        r, pushed = self.fedi("cache", "push", path)
        self.assertEqual(pushed["url"], f"s3://{self.bucket}?endpoint="
                         f"{self.rgw['endpoint'].split('://', 1)[1]}&region="
                         f"{self.rgw.get('region', 'us-east-1')}&scheme=http&profile=fedi-cache")
        keys = self.keys()
        reader, uploader = keys["fedi-cache-read"], keys["fedi-cache"]
        self.assertNotEqual(reader["id"], uploader["id"])
        self.assertNotIn(reader["secret"], r.stdout + r.stderr)
        # Made once: a second run uses the recorded key.
        self.fedi("cache", "push", path)
        self.assertEqual(self.keys()["fedi-cache-read"], reader)
        _, info = self.fedi("cache", "info")
        self.assertEqual(info["readKey"], reader["id"])
        self.assertNotIn(reader["secret"], json.dumps(info))

        narinfo = lib.narinfo_name(path)
        got = self.s3(reader, "get", self.bucket, narinfo)
        self.assertEqual(got.returncode, 0, got.stderr)
        self.assertIn(f"StorePath: {path}".encode(), got.stdout)
        listed = self.s3(reader, "list", self.bucket)
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assertIn(narinfo.encode(), listed.stdout)

        put = self.s3(reader, "put", self.bucket, narinfo, stdin=b"StorePath: /nix/store/x\n")
        self.assertNotEqual(put.returncode, 0)
        self.assertIn(b"AccessDenied", put.stderr)
        delete = self.s3(reader, "delete", self.bucket, narinfo)
        self.assertNotEqual(delete.returncode, 0)
        self.assertIn(b"AccessDenied", delete.stderr)
        # Untouched, as the uploader key still sees it.
        self.assertEqual(self.s3(uploader, "get", self.bucket, narinfo).stdout, got.stdout)

    def test_a_deploy_writes_the_credentials_and_pushes_when_nix_cannot_read_s3(self):
        name = self.host["name"]
        closure = lib.closure(lib.nix_build(str(self.system), env=self.env), env=self.env)
        r, doc = self.fedi("deploy", "--transfer", "cache")
        reader = self.keys()["fedi-cache-read"]
        m = doc["machines"][0]
        self.assertEqual(m["result"], "deployed", m)
        self.assertEqual(self.hosts.valid_paths(name, closure), closure)
        self.assertEqual(m["pathsSent"], len(closure))  # Nix 2.8 fetched nothing
        self.assertIn(f"the binary cache {doc['upload']['cache']['url']} did not provide "
                      f"{len(closure)} paths (the machine's Nix has no S3 support, so it cannot "
                      "read an s3:// cache: NixOS's Nix has it, Debian's does not; Nix said "
                      "\"don't know how to open Nix store 's3://", r.stderr)
        self.assertNotIn(reader["secret"], r.stdout + r.stderr)

        stat = self.hosts.exec(name, "stat", "-c", "%U %G %a", CREDENTIALS)
        self.assertEqual(stat.stdout.split(), ["root", "root", "600"], stat.stderr)
        text = self.hosts.exec(name, "cat", CREDENTIALS).stdout
        self.assertEqual(text, f"[fedi-cache]\naws_access_key_id = {reader['id']}\n"
                               f"aws_secret_access_key = {reader['secret']}\n")


class CacheGarageReadKey(unittest.TestCase):
    """On Garage (its admin API test server, test/servers/garage: no S3 there), the read
    key is a key of its own with the bucket's read permission only. Both keys are made
    through the admin API before fedi reads anything from S3, so `fedi cache gc` makes
    them and then fails on the S3 endpoint, which nothing serves."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fedi-cache-garage-key-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        os.makedirs(os.path.join(self.dir, "home"))
        self.env = lib.isolated_env(os.path.join(self.dir, "home"))
        self.garage = slib.GarageServer("--nodes", "1")
        self.addCleanup(self.garage.stop)
        secret_key, public_key = lib.cache_keys(self.dir)
        storage = {"type": "garage", "adminEndpoint": self.garage.endpoint,
                   "adminTokenFile": self.garage.token_file,
                   "s3Endpoint": f"http://127.0.0.1:{lib.closed_port()}",
                   "allowInsecureHttp": True}  # the test server speaks plain http
        machines = {"web": {"ssh": {"host": "127.0.0.1"}, "system": lib.system_expr("web")}}
        lib.write_file(os.path.join(self.dir, "deployment.nix"), lib.render_deployment(
            machines, {"storage": {"garage": storage},
                       "buckets": {"nix-cache": {"storage": "garage"}},
                       "cache": {"storage": "garage", "bucket": "nix-cache",
                                 "secretKeyFile": str(secret_key), "publicKey": public_key}}))

    def test_the_read_key_has_the_read_permission_only(self):
        r = lib.run_fedi(["cache", "gc", "--keep-generations", "1"], cwd=self.dir, env=self.env)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)  # no S3 behind the endpoint
        with open(os.path.join(self.dir, ".fedi", "state.json")) as f:
            keys = json.load(f)["storage"]["buckets"]["nix-cache"]["keys"]
        bucket = self.garage.bucket("nix-cache")["id"]
        served = self.garage.keys()
        perms = {name: {b["id"]: b["permissions"] for b in served[k["id"]]["buckets"]}
                 for name, k in keys.items()}
        self.assertEqual(perms, {
            "fedi-cache": {bucket: {"read": True, "write": True, "owner": False}},
            "fedi-cache-read": {bucket: {"read": True, "write": False, "owner": False}}})
        self.assertEqual(served[keys["fedi-cache-read"]["id"]]["name"],
                         "fedi-nix-cache-fedi-cache-read")
        self.assertNotIn(keys["fedi-cache-read"]["secret"], r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
