"""The fleet fan-out through `fedi deploy` itself: the deployment's binary cache in a
public-read bucket of a real Ceph RGW (test/servers/rgw/rgw), fetched from by the real Nix
of sshd test hosts (each with its own store).

`fedi --json deploy --transfer cache` uploads each path of the machines' closures once
(their union, not their sum) and every machine fetches its whole closure from the bucket's
http URL, uncompressed NARs or zstd ones, which the machine's Nix decompresses and checks
against the signed narinfo; a second deploy to machines that lost their paths uploads
nothing. A cache the
machines cannot reach is a warning, and the push takes over.
"""

import json
import os
import subprocess
import time
import unittest
import urllib.request

import fedi_testlib as lib
import storage_testlib as slib

COUNT = 5
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
                self.each_path_once_then_nothing(compression)

    def each_path_once_then_nothing(self, compression):
        closures = self.write(COUNT, compression=compression)
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


if __name__ == "__main__":
    unittest.main()
