"""The fleet fan-out through `fedi deploy` itself: the deployment's binary cache in a
public-read bucket of a real Ceph RGW (test/servers/rgw/rgw), fetched from by the real Nix
of sshd test hosts (each with its own store): ten machines for uncompressed NARs, three for
zstd ones.

`fedi --json deploy --transfer cache` uploads each path of the machines' closures once
(their union, not their sum) and every machine fetches its whole closure from the bucket's
http URL, uncompressed NARs or zstd ones, which the machine's Nix decompresses and checks
against the signed narinfo; a second deploy to machines that lost their paths uploads
nothing. A machine that has half its closure fetches, and fedi uploads, only the other
half. A NAR or narinfo changed in the bucket after fedi signed it is refused by the
machine's Nix, and that machine fails, naming the path. A cache the machines cannot reach
is a warning, and the push takes over.
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

COUNT = 10
PAYLOAD_FILES = 4
PAYLOAD_SIZE = 64 * 1024


class CacheDeployRgw(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        slib.start_rgw_cache(cls)
        cls.hosts = lib.TestHosts(COUNT, prefix="cdr")
        cls.addClassCleanup(cls.hosts.stop)

    def setUp(self):
        slib.new_cache_bucket(self, "fedi-cache-deploy-rgw-")
        self.nonce = f"{self._testMethodName}-{time.time_ns()}"
        lib.forget_closures(self.hosts)

    def system(self, name):
        # Shared by every machine: the package and the payload files; one path per machine.
        return lib.system_expr(name, message=f"{name} {self.nonce}", packages=[f"tool-{self.nonce}"],
                               payloadFiles=PAYLOAD_FILES, payloadSize=PAYLOAD_SIZE)

    def write(self, count, url=None, compression="none"):
        machines = {h["name"]: lib.machine(h, identity_file=self.hosts.identity_file(),
                                           system=self.system(h["name"]))
                    for h in self.hosts.hosts[:count]}
        cache = slib.rgw_cache(self.dir, self.rgw, self.bucket, self.secret_key, self.public_key,
                               url=url, compression=compression)
        lib.write_file(os.path.join(self.dir, "deployment.nix"),
                       lib.render_deployment(machines, cache))
        return {n: self.built(n) for n in machines}

    def built(self, name):
        path = lib.nix_build(str(self.system(name)), env=self.env)
        return path, lib.closure(path, env=self.env)

    def fedi(self, *args):
        r = lib.run_fedi(["--json", *args], cwd=self.dir, env=self.env)
        try:
            doc = json.loads(r.stdout)
        except ValueError:
            self.fail(f"no JSON from fedi {args} (exit {r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r, doc

    def deploy(self):
        r, doc = self.fedi("deploy", "--transfer", "cache")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r, doc, {m["name"]: m for m in doc["machines"]}

    def get(self, key):
        with urllib.request.urlopen(f"{self.url}/{key}", timeout=30) as r:
            return r.read()

    def nar_sizes(self, paths):
        out = subprocess.run(["nix-store", "-q", "--size", *paths], check=True,
                                 capture_output=True, text=True, env=self.env).stdout.split()
        return sum(int(s) for s in out)

    def assert_fetched_everything(self, closures, res):
        for n, (system, closure) in closures.items():
            m = res[n]
            self.assertEqual(m["result"], "deployed", m)
            # Nothing pushed to the machine: what went over SSH is the transfer's own talk.
            self.assertEqual(m["pathsSent"], 0, n)
            self.assertLess(m["bytesSent"], PAYLOAD_SIZE, n)
            self.assertEqual(m["fetched"]["cache"]["paths"], len(closure), n)
            self.assertEqual(m["fetched"]["cache"]["narBytes"], self.nar_sizes(closure), n)
            self.assertEqual(self.hosts.valid_paths(n, closure), closure)
            self.assertEqual(self.hosts.exec(n, "readlink", "-e", "/run/current-system")
                             .stdout.strip(), system)

    def test_each_path_goes_up_once_and_a_second_deploy_uploads_nothing(self):
        for compression in ("none", "zstd"):
            with self.subTest(compression=compression):
                if compression != "none":
                    slib.new_cache_bucket(self, "fedi-cache-deploy-rgw-")  # a cache of its own
                    lib.forget_closures(self.hosts)
                self.each_path_once_then_nothing(compression, COUNT if compression == "none" else 3)

    def each_path_once_then_nothing(self, compression, count):
        closures = self.write(count, compression=compression)
        union = sorted(set().union(*(set(c) for _, c in closures.values())))
        asked = sum(len(c) for _, c in closures.values())  # each machine asks for its closure
        self.assertLess(len(union), asked / 2)
        r, doc, res = self.deploy()
        self.assert_fetched_everything(closures, res)
        cache = doc["upload"]["cache"]
        self.assertEqual(cache["url"], self.url)
        self.assertEqual((cache["pathsUploaded"], cache["pathsPresent"]),
                         (len(union), asked - len(union)))
        # What went up: each NAR of the union and its narinfo, once. Uncompressed, the NARs
        # are the closures' NAR sizes exactly; zstd makes the test payloads much smaller.
        texts = [self.get(lib.narinfo_name(p)).decode() for p in union]
        narinfos = [dict(line.split(": ", 1) for line in t.splitlines() if ": " in line)
                    for t in texts]
        nars = sum(len(self.get(n["URL"])) for n in narinfos)
        self.assertEqual(nars, sum(int(n["FileSize"]) for n in narinfos))
        for n in narinfos:
            self.assertEqual(n["Compression"], compression)
            self.assertTrue(n["URL"].endswith(".nar.zst" if compression == "zstd" else ".nar"))
        if compression == "none":
            self.assertEqual(nars, self.nar_sizes(union))
        else:
            self.assertLess(nars, self.nar_sizes(union) / 4)
        self.assertEqual(cache["bytesUploaded"], nars + sum(len(t) for t in texts))
        self.assertEqual(doc["upload"]["bytes"],
                         cache["bytesUploaded"] + sum(m["bytesSent"] for m in res.values()))
        _, info = self.fedi("cache", "info")
        self.assertEqual((info["narinfos"], info["nars"]), (len(union), len(union)))
        self.assertEqual(info["compression"], compression)
        self.assertEqual(info["bytes"], cache["bytesUploaded"] + len(self.get("nix-cache-info")))

        # The machines lose the paths; the deploy fetches them again, uploading nothing.
        lib.forget_closures(self.hosts)
        r, again, res = self.deploy()
        self.assert_fetched_everything(closures, res)
        cache = again["upload"]["cache"]
        self.assertEqual((cache["pathsUploaded"], cache["pathsPresent"]), (0, asked))
        self.assertEqual(cache["bytesUploaded"], 0)
        self.assertEqual(again["upload"]["bytes"], sum(m["bytesSent"] for m in res.values()))
        self.assertEqual(self.fedi("cache", "info")[1]["bytes"], info["bytes"])

    def test_a_cache_the_machines_cannot_reach_falls_back_to_the_push(self):
        url = f"http://127.0.0.1:{lib.closed_port()}/{self.bucket}"
        closures = self.write(2, url=url)
        r, doc, res = self.deploy()
        for n, (system, closure) in closures.items():
            m = res[n]
            self.assertEqual(m["result"], "deployed", m)
            self.assertNotIn("fetched", m)
            self.assertEqual(m["pathsSent"], len(closure), n)
            self.assertEqual(self.hosts.valid_paths(n, closure), closure)
            self.assertIn(f"the binary cache {url} did not provide {len(closure)} paths "
                          f"(cannot reach it", r.stderr)
        self.assertEqual(doc["upload"]["bytes"], doc["upload"]["cache"]["bytesUploaded"] +
                         sum(m["bytesSent"] for m in res.values()))

    def test_a_machine_with_half_its_closure_fetches_only_the_other_half(self):
        closures = self.write(1)
        ((name, (system, closure)),) = closures.items()
        # The payload files and the base library: closed under references.
        half = [p for p in closure if "payload" in p or "fedi-test-base" in p]
        self.assertGreaterEqual(len(half), PAYLOAD_FILES)
        self.hosts.import_paths(name, half, env=self.env)
        rest = sorted(set(closure) - set(half))
        r, doc, res = self.deploy()
        m = res[name]
        self.assertEqual((m["result"], m["pathsSent"]), ("deployed", 0), m)
        self.assertEqual(m["fetched"]["cache"]["paths"], len(rest))
        self.assertEqual(m["fetched"]["cache"]["narBytes"], self.nar_sizes(rest))
        cache = doc["upload"]["cache"]
        self.assertEqual((cache["pathsUploaded"], cache["pathsPresent"]), (len(rest), 0))
        # The bucket holds the other half only: nothing of what the machine had went up.
        nars = 0
        for p in closure:
            try:
                text = self.get(lib.narinfo_name(p)).decode()
            except urllib.error.HTTPError as e:
                # Missing: 403 to an anonymous reader, who may get objects but not list
                # the bucket (S3's rule, so a reader cannot probe for keys); 404 otherwise.
                self.assertTrue(p in half and e.code in (403, 404), (p, e.code))
                continue
            self.assertNotIn(p, half)
            nars += len(self.get(dict(line.split(": ", 1) for line in text.splitlines()
                                      if ": " in line)["URL"]))
        self.assertEqual(nars, self.nar_sizes(rest))
        self.assertEqual(self.hosts.valid_paths(name, closure), closure)

    def deploy_then_tamper(self, tamper):
        """One machine deployed through the cache; then a payload path's narinfo or NAR in
        the bucket changed by tamper(narinfo key, narinfo text) with fedi's upload key, the
        machine's store emptied, and the machine deployed again: (report entry, the path)."""
        closures = self.write(1)
        ((name, (system, closure)),) = closures.items()
        self.deploy()
        victim = next(p for p in closure if "payload" in p)
        tamper(lib.narinfo_name(victim), self.get(lib.narinfo_name(victim)).decode())
        lib.forget_closures(self.hosts)
        r, doc = self.fedi("deploy", "--transfer", "cache")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        (m,) = doc["machines"]
        self.assertEqual((m["result"], m["failedPhase"], m["pathsSent"]), ("failed", "push", 0), m)
        self.assertEqual(doc["upload"]["cache"]["pathsUploaded"], 0)  # all there already
        self.assertEqual(self.hosts.valid_paths(name, [victim]), [])
        return m, victim

    def put(self, key, data):
        r = slib.s3_as(self, slib.cache_key(self), "put", self.bucket, key, stdin=data)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_a_tampered_nar_is_refused_and_fails_the_machine(self):
        def change_contents(narinfo_key, text):
            nar_key = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)["URL"]
            data = bytearray(self.get(nar_key))
            data[len(data) // 2] ^= 0x01  # inside the payload file's contents
            self.put(nar_key, bytes(data))

        m, victim = self.deploy_then_tamper(change_contents)
        self.assertIn(f"the machine's Nix refused what the binary cache {self.url} served "
                      f"for {victim}", m["error"])
        self.assertIn("hash mismatch", m["error"])

    def test_a_tampered_narinfo_is_refused_and_fails_the_machine(self):
        def claim_another_size(narinfo_key, text):
            size = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)["NarSize"]
            self.put(narinfo_key, text.replace(f"NarSize: {size}", f"NarSize: {int(size) + 8}")
                     .encode())

        m, victim = self.deploy_then_tamper(claim_another_size)
        self.assertIn(f"the machine's Nix refused {victim} from the binary cache {self.url}: "
                      f"not signed by the deployment's key", m["error"])


if __name__ == "__main__":
    unittest.main()
