"""fedi's RGW admin ops client (storage::rgw::RgwAdmin, driven through the test tool
fedi-rgw-admin-check) against a real single-node Ceph RGW: users and keys made through
the admin API are then used by the S3 client (fedi-s3-check), as RGW checks them.

RGW is started once for the file by test/servers/rgw/rgw and stopped at the end.
"""
import json
import os
import subprocess
import unittest

import fedi_testlib as lib

ADMIN = os.environ.get("FEDI_RGW_ADMIN_CHECK", "")
S3 = os.environ.get("FEDI_S3_CHECK", "")


class RGWAdminOps(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for name, tool in (("FEDI_RGW_ADMIN_CHECK", ADMIN), ("FEDI_S3_CHECK", S3)):
            if not tool or not os.access(tool, os.X_OK):
                raise RuntimeError(f"{name} must name the test tool (CTest sets it)")
        cls.dir, cls.info = lib.start_rgw(cls, prefix="fedi-rgw-admin-", timeout=60)
        cls.config = os.path.join(cls.dir, "rgw.json")
        cls.configs = 0

    def run_tool(self, tool, args, config, stdin=b"", ok=True):
        r = subprocess.run([tool, "--config", config, *args], input=stdin,
                           capture_output=True, timeout=60)
        err = r.stderr.decode()
        if ok:
            self.assertEqual(r.returncode, 0, f"{args} failed: {err}")
        return r.returncode, r.stdout, err

    def admin(self, *args, config=None, ok=True):
        """fedi-rgw-admin-check: (exit code, parsed JSON or None, stderr)."""
        code, out, err = self.run_tool(ADMIN, args, config or self.config, ok=ok)
        return code, json.loads(out) if out.strip() else None, err

    def s3(self, *args, config, stdin=b"", ok=True):
        return self.run_tool(S3, args, config, stdin=stdin, ok=ok)

    def config_with(self, **changes):
        """A credentials file like rgw.json with some fields changed (never argv)."""
        type(self).configs += 1
        path = os.path.join(self.dir, f"config-{self.configs}.json")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(dict(self.info, **changes), f)
        return path

    def key_config(self, key):
        return self.config_with(accessKey=key["accessKey"], secretKey=key["secretKey"])

    def test_user_and_keys_made_by_the_admin_api_work_for_s3(self):
        uid = "fedi-mastodon"
        _, user, _ = self.admin("create-user", uid, "Mastodon media")
        self.assertEqual(user["userId"], uid)
        self.assertEqual(user["displayName"], "Mastodon media")
        self.assertEqual(len(user["keys"]), 1)
        first = user["keys"][0]
        self.assertEqual(first["user"], uid)
        self.assertTrue(first["accessKey"] and first["secretKey"])
        _, info, _ = self.admin("user-info", uid)
        self.assertEqual(info["keys"], user["keys"])

        # The new user's key creates a bucket and stores and reads an object.
        as_user = self.key_config(first)
        bucket = "fedi-admin-made"
        body = b"stored with a key made through the admin ops API\n" * 100
        self.s3("create-bucket", bucket, config=as_user)
        self.s3("put", bucket, "media/a.bin", config=as_user, stdin=body)
        self.assertEqual(self.s3("get", bucket, "media/a.bin", config=as_user)[1], body)
        _, buckets, _ = self.admin("list-buckets", uid)
        self.assertEqual(buckets, [bucket])
        self.assertIn(bucket, self.admin("list-buckets")[1])
        _, stats, _ = self.admin("bucket-info", bucket)
        self.assertEqual(stats["owner"], uid)
        self.assertEqual(stats["objects"], 1)
        self.assertEqual(stats["size"], len(body))

        # A second key: the client returns the new one, both are listed and both work.
        _, second, _ = self.admin("create-key", uid)
        self.assertNotEqual(second["accessKey"], first["accessKey"])
        listed = {k["accessKey"] for k in self.admin("user-info", uid)[1]["keys"]}
        self.assertEqual(listed, {first["accessKey"], second["accessKey"]})
        as_second = self.key_config(second)
        self.assertEqual(self.s3("get", bucket, "media/a.bin", config=as_second)[1], body)

        # The first key removed: S3 refuses it at once; the second still works.
        self.admin("remove-key", uid, first["accessKey"])
        listed = [k["accessKey"] for k in self.admin("user-info", uid)[1]["keys"]]
        self.assertEqual(listed, [second["accessKey"]])
        code, out, err = self.s3("get", bucket, "media/a.bin", config=as_user, ok=False)
        self.assertEqual(code, 1)
        self.assertIn(f"S3 GetObject {bucket}/media/a.bin: InvalidAccessKeyId", err)
        self.assertEqual(out, b"")
        self.assertEqual(self.s3("get", bucket, "media/a.bin", config=as_second)[1], body)

        # A user that owns a bucket is removed only with its data (RGW says EEXIST, which
        # it spells BucketAlreadyExists).
        code, _, err = self.admin("remove-user", uid, ok=False)
        self.assertEqual(code, 1)
        self.assertIn("RGW RemoveUser: BucketAlreadyExists (HTTP 409)", err)
        self.assertIsNotNone(self.admin("find-user", uid)[1])
        self.admin("remove-user", uid, "--purge-data")
        self.assertIsNone(self.admin("find-user", uid)[1])
        code, _, err = self.admin("user-info", uid, ok=False)
        self.assertEqual(code, 1)
        self.assertIn("RGW GetUserInfo: NoSuchUser (HTTP 404)", err)
        self.assertIn(f"while reading user '{uid}' (RGW admin API at {self.info['endpoint']})",
                      err)
        self.assertNotIn(bucket, self.admin("list-buckets")[1])

    def test_existing_user_is_refused(self):
        uid = "fedi-twice"
        self.admin("create-user", uid, "Twice")
        try:
            code, _, err = self.admin("create-user", uid, "Twice", ok=False)
            self.assertEqual(code, 1)
            self.assertIn("RGW CreateUser: UserAlreadyExists (HTTP 409)", err)
            self.assertEqual(len(self.admin("user-info", uid)[1]["keys"]), 1)
        finally:
            self.admin("remove-user", uid)

    def test_wrong_admin_secret_is_refused(self):
        secret = self.info["secretKey"]
        wrong = self.config_with(secretKey=secret[:-4] + ("AAAA" if secret[-4:] != "AAAA"
                                                          else "BBBB"))
        code, out, err = self.admin("create-user", "fedi-never", "Never", config=wrong, ok=False)
        self.assertEqual(code, 1)
        self.assertIsNone(out)
        self.assertIn("RGW CreateUser: SignatureDoesNotMatch (HTTP 403)", err)
        self.assertNotIn(secret[:-4], err)
        self.assertIsNone(self.admin("find-user", "fedi-never")[1])

    def test_user_without_admin_caps_is_refused(self):
        uid = "fedi-plain"
        _, user, _ = self.admin("create-user", uid, "Plain user")
        try:
            as_plain = self.key_config(user["keys"][0])
            code, _, err = self.admin("list-buckets", config=as_plain, ok=False)
            self.assertEqual(code, 1)
            self.assertIn("RGW ListBuckets: AccessDenied (HTTP 403)", err)
        finally:
            self.admin("remove-user", uid)


if __name__ == "__main__":
    unittest.main()
