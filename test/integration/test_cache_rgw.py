"""The binary cache on a real Ceph RGW (test/servers/rgw/rgw), read by real Nix.

`fedi cache push` uploads closures (xz or zstd NARs) to a public-read bucket (fedi signs
its own requests with the key it makes for the cache); `nix copy --from http://…` then
fetches them into a fresh store, checking each narinfo's signature against the
deployment's public key and each NAR against its hash, and refuses a tampered narinfo or
NAR. The narinfo fields and the signature match what `nix copy --to file://` writes for
the same path with the same compression; FileHash and FileSize are the NAR object's. A
large NAR goes up as a multipart upload; `fedi cache gc` keeps every path of the kept
generations and removes the rest.
"""

import json
import os
import subprocess
import time
import unittest
import urllib.error
import urllib.request

import fedi_testlib as lib
import storage_testlib as slib

NIX = ["nix", "--extra-experimental-features", "nix-command"]


def narinfo_fields(text):
    if isinstance(text, bytes):
        text = text.decode()
    return dict(line.split(": ", 1) if ": " in line else (line.rstrip(":"), "")
                for line in text.splitlines() if line)


class CacheRgw(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        slib.require_s3_check()
        slib.start_rgw_cache(cls)
        tag = str(time.time_ns())
        cls.sys1 = lib.nix_build(lib.system_expr("cache-web", message=tag))
        cls.sys2 = lib.nix_build(lib.system_expr("cache-web", message=tag, version="2"))

    def setUp(self):
        slib.new_cache_bucket(self, "fedi-cache-rgw-")
        self.stores = 0

    def write(self, compression="xz", public_key=None):
        machines = {"web": {"ssh": {"host": "127.0.0.1"},
                            "system": lib.system_expr("cache-web")}}
        cache = slib.rgw_cache(self.dir, self.rgw, self.bucket, self.secret_key,
                               public_key or self.public_key, url=self.url,
                               compression=compression)
        lib.write_file(os.path.join(self.dir, "deployment.nix"),
                       lib.render_deployment(machines, cache))

    def fedi(self, *args):
        r = lib.run_fedi(["--json", "cache", *args], cwd=self.dir, env=self.env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(self.secret_key) as f:
            secret = f.read().strip().split(":", 1)[1]
        self.assertNotIn(secret, r.stdout + r.stderr)
        return json.loads(r.stdout)

    def get(self, key):
        """An object of the cache as Nix's http substituter sees it (no credentials)."""
        with urllib.request.urlopen(f"{self.url}/{key}", timeout=30) as r:
            return r.read()

    def exists(self, key):
        try:
            self.get(key)
            return True
        except urllib.error.HTTPError as e:
            self.assertIn(e.code, (403, 404), key)  # RGW: 403 when anyone may not list
            return False

    def nix_copy_from_cache(self, path):
        """`nix copy --from` the cache into a fresh store, trusting only our key, with a
        fresh narinfo cache (Nix keeps narinfos it read in ~/.cache/nix)."""
        self.stores += 1
        store = os.path.join(self.dir, f"store-{self.stores}")
        env = lib.nix_env()
        env["XDG_CACHE_HOME"] = store + "-cache"
        return subprocess.run(
            [*NIX, "copy", "--from", self.url, "--store", store,
             "--option", "trusted-public-keys", self.public_key,
             "--option", "require-sigs", "true", path],
            env=env, capture_output=True, text=True, timeout=300), store

    def s3(self, *args, stdin=b""):
        """fedi-s3-check with the key fedi made for the cache (from state)."""
        r = slib.s3_as(self, slib.cache_key(self), *args, stdin=stdin)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_push_is_what_nix_reads_and_tampering_is_refused(self):
        for compression in ("xz", "zstd"):
            with self.subTest(compression=compression):
                if compression != "xz":
                    slib.new_cache_bucket(self, "fedi-cache-rgw-")  # a cache of its own
                self.push_read_and_tamper(compression)

    def file_hash(self, key):
        """sha256:<nix32> of an object, as Nix computes a narinfo's FileHash."""
        local = os.path.join(self.dir, "file-hash")
        with open(local, "wb") as f:
            f.write(self.get(key))
        out = subprocess.run(["nix-hash", "--type", "sha256", "--flat", "--base32", local],
                             check=True, capture_output=True, text=True).stdout
        return "sha256:" + out.strip()

    def push_read_and_tamper(self, compression):
        self.write(compression=compression)
        closure = lib.closure(self.sys1)
        r = self.fedi("push", self.sys1)
        self.assertEqual((r["paths"], r["uploaded"], r["present"]), (len(closure), len(closure), 0))
        again = self.fedi("push", self.sys1)
        self.assertEqual((again["uploaded"], again["present"]), (0, len(closure)))
        info = self.fedi("info")
        self.assertEqual((info["narinfos"], info["nars"]), (len(closure), len(closure)))
        self.assertEqual((info["url"], info["publicKey"], info["compression"]),
                         (self.url, self.public_key, compression))
        text = lib.run_fedi(["cache", "info"], cwd=self.dir, env=self.env).stdout
        self.assertIn(f"\ncompression  {compression}\nnarinfos     {len(closure)}\n", text)
        self.assertIn(b"StoreDir: /nix/store", self.get("nix-cache-info"))

        copied, store = self.nix_copy_from_cache(self.sys1)
        self.assertEqual(copied.returncode, 0, copied.stderr)
        for p in closure:
            self.assertTrue(os.path.exists(store + p), p)

        # Real Nix writes the same narinfo fields and signature for the same path.
        reference = os.path.join(self.dir, "nix-file-cache")
        params = f"secret-key={self.secret_key}&compression={compression}"
        subprocess.run([*NIX, "copy", "--to", f"file://{reference}?{params}", self.sys1],
                       env=lib.nix_env(), check=True, capture_output=True)
        name = os.path.basename(self.sys1)[:32] + ".narinfo"
        ours = narinfo_fields(self.get(name).decode())
        with open(os.path.join(reference, name)) as f:
            theirs = narinfo_fields(f.read())
        for field in ("StorePath", "NarHash", "NarSize", "References", "Deriver", "Sig",
                      "Compression"):
            self.assertEqual(ours[field], theirs[field], field)
        # Nix names a NAR by its FileHash, fedi by its NarHash: the suffix is the same.
        self.assertEqual(ours["URL"].rsplit(".nar", 1)[1], theirs["URL"].rsplit(".nar", 1)[1])
        self.assertEqual(int(ours["FileSize"]), len(self.get(ours["URL"])))
        self.assertEqual(ours["FileHash"], self.file_hash(ours["URL"]))

        # A narinfo whose references were changed no longer matches its signature.
        original = self.get(name)
        ref = next(r for r in ours["References"].split() if r != os.path.basename(self.sys1))
        tampered = b"\n".join(l.replace(b" " + ref.encode(), b"") if l.startswith(b"References:")
                              else l for l in original.split(b"\n"))
        self.assertNotEqual(tampered, original)
        self.s3("put", self.bucket, name, stdin=tampered)
        refused, _ = self.nix_copy_from_cache(self.sys1)
        self.assertNotEqual(refused.returncode, 0, refused.stderr)
        self.assertIn("signature", refused.stderr)

        # A NAR replaced by another one's is refused for its hash.
        self.s3("put", self.bucket, name, stdin=original)
        other = narinfo_fields(self.get(ref[:32] + ".narinfo").decode())
        self.s3("put", self.bucket, ours["URL"], stdin=self.get(other["URL"]))
        refused, _ = self.nix_copy_from_cache(self.sys1)
        self.assertNotEqual(refused.returncode, 0, refused.stderr)
        self.assertRegex(refused.stderr, "hash mismatch|mismatch")

    def test_a_large_nar_goes_up_in_parts_and_nix_reads_it(self):
        self.write(compression="none")
        big = lib.nix_build(lib.system_expr("cache-big", payloadFiles=1,
                                            payloadSize=20 * 1000 * 1000 + 17))
        payload = next(p for p in lib.closure(big) if "fedi-test-payload" in p)
        self.fedi("push", big)
        fields = narinfo_fields(self.get(os.path.basename(payload)[:32] + ".narinfo"))
        self.assertEqual(fields["Compression"], "none")
        head = json.loads(self.s3("head", self.bucket, fields["URL"]))
        self.assertEqual(head["size"], int(fields["NarSize"]))
        self.assertRegex(head["etag"], r"-2$")  # a multipart upload of two parts
        copied, store = self.nix_copy_from_cache(big)
        self.assertEqual(copied.returncode, 0, copied.stderr)
        self.assertTrue(os.path.exists(store + payload))

    def test_gc_keeps_the_kept_generations_and_removes_the_rest(self):
        self.write()
        self.fedi("push", self.sys1)
        self.fedi("push", self.sys2)
        state_file = os.path.join(self.dir, ".fedi", "state.json")
        with open(state_file) as f:
            state = json.load(f)
        state["machines"] = {"web": {"generations": [
            {"system": self.sys1, "time": "2026-01-01T00:00:00Z", "goal": "switch", "number": 1},
            {"system": self.sys2, "time": "2026-01-02T00:00:00Z", "goal": "switch", "number": 2},
        ]}}
        lib.write_file(state_file, json.dumps(state), 0o600)
        only1 = sorted(set(lib.closure(self.sys1)) - set(lib.closure(self.sys2)))
        self.assertTrue(only1)
        before = self.fedi("info")

        dry = self.fedi("gc", "--keep-generations", "1", "--dry-run")
        self.assertEqual(len(dry["removed"]["narinfos"]), len(only1))
        self.assertEqual(self.fedi("info")["narinfos"], before["narinfos"])

        kept_both = self.fedi("gc", "--keep-generations", "2")
        self.assertEqual(kept_both["removed"]["narinfos"], [])

        r = self.fedi("gc", "--keep-generations", "1")
        self.assertEqual(sorted(r["removed"]["narinfos"]),
                         sorted(os.path.basename(p)[:32] + ".narinfo" for p in only1))
        for p in only1:
            self.assertFalse(self.exists(os.path.basename(p)[:32] + ".narinfo"), p)
        for p in lib.closure(self.sys2):
            fields = narinfo_fields(self.get(os.path.basename(p)[:32] + ".narinfo").decode())
            self.assertTrue(self.exists(fields["URL"]), p)
        after = self.fedi("info")
        self.assertEqual(after["narinfos"], before["narinfos"] - len(only1))
        self.assertEqual(after["nars"], before["nars"] - len(r["removed"]["nars"]))
        copied, _ = self.nix_copy_from_cache(self.sys2)
        self.assertEqual(copied.returncode, 0, copied.stderr)
        gone, _ = self.nix_copy_from_cache(self.sys1)
        self.assertNotEqual(gone.returncode, 0)


    def test_a_public_key_that_is_not_the_secret_keys_half_is_refused(self):
        other = os.path.join(self.dir, "other")
        subprocess.run(["nix-store", "--generate-binary-cache-key", "fedi-test-cache-1",
                        other + ".sec", other + ".pub"], check=True)
        with open(other + ".pub") as f:
            self.write(public_key=f.read().strip())
        r = lib.run_fedi(["cache", "push", self.sys1], cwd=self.dir, env=self.env)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("cache.publicKey: ", r.stderr)
        self.assertIn("is not the public half of the key cache.secretKeyFile gives", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, ".fedi", "state.json")))


if __name__ == "__main__":
    unittest.main()
