"""fedi's S3 client (storage::S3Client, driven through the test tool fedi-s3-check)
against a real single-node Ceph RGW, which checks SigV4 signatures for real.

RGW is started once for the file by test/servers/rgw/rgw and stopped at the end.
"""
import json
import os
import subprocess
import time
import unittest
import urllib.error
import urllib.request

import fedi_testlib as lib

CHECK = os.environ.get("FEDI_S3_CHECK", "")


class S3AgainstRGW(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not CHECK or not os.access(CHECK, os.X_OK):
            raise RuntimeError("FEDI_S3_CHECK must name the fedi-s3-check binary (CTest sets it)")
        started = time.monotonic()
        cls.dir, cls.info = lib.start_rgw(cls, timeout=60)
        print(f"RGW cold start: {time.monotonic() - started:.1f} s")
        cls.config = os.path.join(cls.dir, "rgw.json")

    def s3(self, *args, config=None, stdin=b"", ok=True):
        """Runs fedi-s3-check; returns (exit code, stdout bytes, stderr text)."""
        cmd = [CHECK, "--config", config or self.config, *args]
        r = subprocess.run(cmd, input=stdin, capture_output=True, timeout=60)
        err = r.stderr.decode()
        if ok:
            self.assertEqual(r.returncode, 0, f"{args} failed: {err}")
        return r.returncode, r.stdout, err

    def config_with(self, **changes):
        data = dict(self.info, **changes)
        path = os.path.join(self.dir, f"config-{len(os.listdir(self.dir))}.json")
        with open(path, "w") as f:
            json.dump(data, f)
        return path

    def test_state_file_is_private(self):
        self.assertEqual(os.stat(self.config).st_mode & 0o777, 0o600)
        self.assertTrue(self.info["endpoint"].startswith("http://127.0.0.1:"))

    def test_bucket_and_object_round_trip(self):
        bucket = "fedi-round-trip"
        key = "media/a b+c~é/../x.bin"  # spaces, '+', UTF-8 and a dot segment, kept as is
        body = bytes(range(256)) * 40 + b"\0end"
        self.s3("create-bucket", bucket)
        self.assertEqual(self.s3("bucket-exists", bucket)[1], b"true\n")
        self.assertIn(bucket, self.s3("list-buckets")[1].decode().split("\n"))

        self.s3("put", bucket, key, stdin=body)
        self.s3("put", bucket, "other/y.txt", stdin=b"y")
        self.assertEqual(self.s3("get", bucket, key)[1], body)
        head = json.loads(self.s3("head", bucket, key)[1])
        self.assertEqual(head["size"], len(body))
        listed = json.loads(self.s3("list", bucket)[1])
        self.assertEqual(sorted(o["key"] for o in listed), sorted([key, "other/y.txt"]))
        self.assertEqual([o["size"] for o in listed if o["key"] == key], [len(body)])
        self.assertEqual([o["key"] for o in json.loads(self.s3("list", bucket, "media/")[1])],
                         [key])

        # A presigned URL works for anyone, with no headers; a tampered one does not.
        url = self.s3("presign-get", bucket, key, "300")[1].decode().strip()
        with urllib.request.urlopen(url, timeout=10) as r:
            self.assertEqual(r.read(), body)
        with self.assertRaises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url[:-1] + ("0" if url[-1] != "0" else "1"), timeout=10)
        self.assertEqual(refused.exception.code, 403)

        # Deleting a non-empty bucket is refused with the server's code.
        code, _, err = self.s3("delete-bucket", bucket, ok=False)
        self.assertEqual(code, 1)
        self.assertIn(f"S3 DeleteBucket {bucket}: BucketNotEmpty", err)

        self.s3("delete", bucket, key)
        self.s3("delete", bucket, "other/y.txt")
        self.assertEqual(self.s3("head", bucket, key)[1], b"null\n")
        code, _, err = self.s3("get", bucket, key, ok=False)
        self.assertIn(f"S3 GetObject {bucket}/{key}: NoSuchKey", err)
        self.assertEqual(json.loads(self.s3("list", bucket)[1]), [])
        self.s3("delete-bucket", bucket)
        self.assertEqual(self.s3("bucket-exists", bucket)[1], b"false\n")

    def test_wrong_secret_is_refused_by_signature(self):
        secret = self.info["secretKey"]
        wrong = self.config_with(secretKey=secret[:-4] + "AAAA")
        code, _, err = self.s3("create-bucket", "fedi-wrong-secret", config=wrong, ok=False)
        self.assertEqual(code, 1)
        self.assertIn("S3 CreateBucket fedi-wrong-secret: SignatureDoesNotMatch", err)
        self.assertNotIn(secret[:-4], err)
        # An unknown access key is refused too, with its own code.
        unknown = self.config_with(accessKey="FEDINOSUCHKEY0000000")
        code, _, err = self.s3("list-buckets", config=unknown, ok=False)
        self.assertIn("S3 ListBuckets: InvalidAccessKeyId", err)
        self.assertEqual(self.s3("bucket-exists", "fedi-wrong-secret")[1], b"false\n")

    def test_anonymous_requests_are_refused(self):
        bucket = "fedi-private"
        self.s3("create-bucket", bucket)
        self.s3("put", bucket, "secret.txt", stdin=b"private")
        try:
            for args, op in [(("get", bucket, "secret.txt"), "GetObject"),
                             (("put", bucket, "new.txt"), "PutObject"),
                             (("list", bucket), "ListObjectsV2"),
                             (("create-bucket", "fedi-anon"), "CreateBucket")]:
                code, out, err = self.s3("--anonymous", *args, ok=False)
                self.assertEqual(code, 1, args)
                self.assertIn(f"S3 {op} ", err)
                self.assertIn("AccessDenied", err)
                self.assertNotIn(b"private", out)
            self.assertEqual(self.s3("head", bucket, "new.txt")[1], b"null\n")
        finally:
            self.s3("delete", bucket, "secret.txt")
            self.s3("delete-bucket", bucket)

    def test_bucket_names_need_three_characters(self):
        # RGW itself refuses a 2-character name (a raw signed request, no client check) ...
        out = self.s3("raw", "PUT", "/ab")[1].decode()
        self.assertTrue(out.startswith("400\n"), out)
        self.assertIn("<Code>InvalidBucketName</Code>", out)
        # ... so the client refuses it before sending, as a usage error.
        code, _, err = self.s3("create-bucket", "ab", ok=False)
        self.assertEqual(code, 2)
        self.assertIn("invalid S3 bucket name 'ab'", err)
        # Three characters are enough.
        self.s3("create-bucket", "abc")
        self.assertEqual(self.s3("bucket-exists", "abc")[1], b"true\n")
        self.s3("delete-bucket", "abc")

    def test_location_constraint_outside_us_east_1(self):
        # RGW's zonegroup is named "default": that constraint is accepted, another refused.
        self.s3("--region", "default", "create-bucket", "fedi-located")
        self.s3("delete-bucket", "fedi-located")
        code, _, err = self.s3("--region", "eu-west-9", "create-bucket", "fedi-elsewhere",
                               ok=False)
        self.assertIn("S3 CreateBucket fedi-elsewhere: InvalidLocationConstraint", err)


if __name__ == "__main__":
    unittest.main()
