"""Helpers for the storage integration tests: the Garage admin API test server.

Garage itself cannot run here, so test/servers/garage/garage_test_server.py (built from
Garage's official admin API documents) stands in for a Garage cluster's admin API. The
"storage machines" of a test deployment are test hosts running minimal systems; the node
id file the Garage NixOS module would write (/var/lib/fedi/garage/node-id) is written on
each of them by the test, holding one of the test server's node ids.
"""

import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import fedi_testlib as lib

GARAGE_SERVER = lib.SOURCE_DIR / "test" / "servers" / "garage" / "garage_test_server.py"
NODE_ID_FILE = "/var/lib/fedi/garage/node-id"


class GarageServer:
    """One Garage admin API test server process."""

    def __init__(self, *args, token="garage-admin-token-for-tests"):
        self.tmp = tempfile.TemporaryDirectory(prefix="fedi-garage-")
        self.token = token
        self.token_file = os.path.join(self.tmp.name, "admin-token")
        lib.write_file(self.token_file, token + "\n", 0o600)
        self.process = subprocess.Popen(
            [sys.executable, str(GARAGE_SERVER), "--port", "0", "--admin-token-file",
             self.token_file, *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.process.stdout], [], [], 30)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            self.stop()
            raise RuntimeError("garage test server did not start")
        self.info = json.loads(line)
        self.endpoint = self.info["adminEndpoint"]

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.process.stdout.close()
        self.process.stderr.close()
        self.tmp.cleanup()

    def control(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.endpoint + "/_test/" + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read().decode() or "null")

    def api(self, path):
        req = urllib.request.Request(self.endpoint + path)
        req.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read().decode())

    def state(self):
        return self.control("GET", "state")

    def requests(self):
        return self.control("GET", "requests")

    def clear_requests(self):
        self.control("DELETE", "requests")

    def bucket(self, alias):
        for b in self.state()["buckets"]:
            if alias in b.get("globalAliases", []):
                return b
        return None

    def keys(self):
        return {k["accessKeyId"]: k for k in self.state()["keys"]}


# Admin API operations that change something.
MUTATING = {"ConnectClusterNodes", "UpdateClusterLayout", "ApplyClusterLayout",
            "RevertClusterLayout", "CreateBucket", "UpdateBucket", "DeleteBucket",
            "CreateKey", "ImportKey", "UpdateKey", "DeleteKey", "AllowBucketKey",
            "DenyBucketKey", "AddBucketAlias", "RemoveBucketAlias"}


def mutating_requests(server):
    return [r for r in server.requests() if r.get("operation") in MUTATING]


def read_env_file(text):
    return dict(line.split("=", 1) for line in text.strip().splitlines())


def rgw_storage(directory, rgw):
    """A storage.<name> of type rgw for the RGW lib.start_rgw started, its credentials in
    files (0600) of `directory`."""
    access = lib.write_file(os.path.join(directory, "rgw-access"), rgw["accessKey"] + "\n", 0o600)
    secret = lib.write_file(os.path.join(directory, "rgw-secret"), rgw["secretKey"] + "\n", 0o600)
    return {"type": "rgw", "s3Endpoint": rgw["endpoint"], "region": rgw.get("region", "us-east-1"),
            "accessKeyFile": str(access), "secretKeyFile": str(secret),
            "allowInsecureHttp": True}  # the local RGW listens on plain http


def rgw_cache(directory, rgw, bucket, secret_key, public_key, url=None, compression="xz"):
    """The top-level deployment attributes (storage, buckets, cache) of a binary cache in
    `bucket` of the RGW lib.start_rgw started; url: what machines fetch from (default the
    bucket's own http URL)."""
    return {"storage": {"ceph": rgw_storage(directory, rgw)},
            "buckets": {bucket: {"storage": "ceph"}},
            "cache": {"storage": "ceph", "bucket": bucket,
                      "url": url or f"{rgw['endpoint']}/{bucket}",
                      "secretKeyFile": str(secret_key), "publicKey": public_key,
                      "compression": compression}}


def require_s3_check():
    """The fedi-s3-check binary CTest names in FEDI_S3_CHECK; a clear error without it."""
    check = os.environ.get("FEDI_S3_CHECK", "")
    if not check or not os.access(check, os.X_OK):
        raise RuntimeError("FEDI_S3_CHECK must name the fedi-s3-check binary (CTest sets it)")
    return check


def cache_key(test, name="fedi-cache"):
    """A key fedi made on the cache bucket (test.dir's state, test.bucket): {id, secret}."""
    with open(os.path.join(test.dir, ".fedi", "state.json")) as f:
        return json.load(f)["storage"]["buckets"][test.bucket]["keys"][name]


def s3_as(test, key, *args, stdin=b""):
    """fedi-s3-check on test.rgw signing with `key` (cache_key's): CompletedProcess."""
    config = lib.write_file(os.path.join(test.dir, f"s3-{key['id']}.json"), json.dumps(
        {"endpoint": test.rgw["endpoint"], "region": test.rgw.get("region", "us-east-1"),
         "accessKey": key["id"], "secretKey": key["secret"]}), 0o600)
    return subprocess.run([require_s3_check(), "--config", str(config), *args], input=stdin,
                          capture_output=True, timeout=60)


def rgw_workdir(test, prefix):
    """For a test of a class with a real RGW (test.rgw): private_workdir, and files with
    the RGW's admin access key and secret (test.access, test.secret: 0600)."""
    lib.private_workdir(test, prefix)
    test.access = lib.write_file(os.path.join(test.dir, "rgw-access"),
                                 test.rgw["accessKey"] + "\n", 0o600)
    test.secret = lib.write_file(os.path.join(test.dir, "rgw-secret"),
                                 test.rgw["secretKey"] + "\n", 0o600)


def start_rgw_cache(cls):
    """For a test class: a real RGW (cls.rgw) and a binary cache key pair made by Nix
    (cls.secret_key, cls.public_key)."""
    cls.rgw_dir, cls.rgw = lib.start_rgw(cls)
    keys = tempfile.mkdtemp(prefix="fedi-cache-keys-")
    cls.addClassCleanup(shutil.rmtree, keys, True)
    cls.secret_key, cls.public_key = lib.cache_keys(keys)


def new_cache_bucket(test, prefix):
    """For a test of a class start_rgw_cache() set up: a private directory and environment
    (test.dir, test.env, removed after the test), a fresh bucket name and its http URL
    (test.bucket, test.url)."""
    lib.private_workdir(test, prefix)
    test.bucket = f"nix-cache-{time.time_ns() % 10**9}"
    test.url = f"{test.rgw['endpoint']}/{test.bucket}"
