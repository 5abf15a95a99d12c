"""The deploy side of the fleet fan-out, with real Nix on real sshd test hosts (each with
its own Nix store, Debian's Nix 2.8): machines fetch what they lack from a binary cache
the deployer uploaded each path to once, fall back to the push for what they could not
get, and refuse (through their own Nix) what the cache's key did not sign.

The cache is a directory written by real Nix (`nix copy --to file://…?secret-key=…`,
signed narinfos, uncompressed NARs) and served over HTTP by this test, as a public-read
bucket or a storage's website endpoint would serve it; fedi-cache-deploy (test/tools) is
`fedi deploy` with that cache in place of lib/cache's S3 writer."""
import http.server
import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
from collections import Counter

import fedi_testlib as lib

COUNT = 10
# Every system: its packages (shared by all machines), the base library, payload files
# (shared) and the system itself (one per machine).
PAYLOAD_FILES = 6
PAYLOAD_SIZE = 64 * 1024


class CacheServer:
    """A directory over HTTP on 127.0.0.1 (the test hosts share the network), counting
    the GETs of each file."""

    def __init__(self, directory):
        requests = self.requests = Counter()

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(directory), **kwargs)

            def do_GET(self):
                requests[self.path] += 1
                super().do_GET()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def nar_gets(self):
        return {p: n for p, n in self.requests.items() if p.startswith("/nar/")}


def read_narinfo(path):
    return dict(line.split(": ", 1) for line in pathlib.Path(path).read_text().splitlines())


class CacheFetchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tool = os.environ.get("FEDI_CACHE_DEPLOY")
        if not cls.tool:
            raise unittest.SkipTest("FEDI_CACHE_DEPLOY (test/tools/fedi-cache-deploy) not set")
        cls.hosts = lib.TestHosts(COUNT, prefix="cf")
        cls.addClassCleanup(cls.hosts.stop)

    def setUp(self):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="fedi-cache-fetch-"))
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.env = lib.isolated_env(self.dir)
        self.nonce = f"{self._testMethodName}-{time.time_ns()}"
        # Every host starts with none of the test systems' paths.
        lib.forget_closures(self.hosts)
        self.cache_dir = self.dir / "cache"
        self.cache_dir.mkdir()
        keys = self.dir / "keys"
        keys.mkdir()
        self.secret_key, self.public_key = lib.cache_keys(keys)
        self.server = CacheServer(self.cache_dir)
        self.addCleanup(self.server.stop)

    # ---- the deployment and its closures

    def names(self, count):
        return [h["name"] for h in self.hosts.hosts[:count]]

    def system(self, name):
        return lib.system_expr(name, message=f"{name} {self.nonce}", packages=[f"tool-{self.nonce}"],
                               payloadFiles=PAYLOAD_FILES, payloadSize=PAYLOAD_SIZE)

    def write(self, count, **attrs):
        machines = {h["name"]: lib.machine(h, identity_file=self.hosts.identity_file(),
                                           system=self.system(h["name"]), **attrs)
                    for h in self.hosts.hosts[:count]}
        lib.write_file(self.dir / "deployment.nix", lib.render_deployment(machines))

    def built(self, name):
        """The machine's system, built here, and its closure (sorted)."""
        path = lib.nix_build(str(self.system(name)), env=self.env)
        return path, lib.closure(path, env=self.env)

    def fill_cache(self, paths):
        """Puts `paths` (with their closure) in the cache as fedi would: signed."""
        subprocess.run(["nix", "--extra-experimental-features", "nix-command", "copy", "--to",
                        f"file://{self.cache_dir}?compression=none&secret-key={self.secret_key}",
                        *paths], check=True, capture_output=True, env=self.env)

    # ---- running the deploy

    def deploy(self, *args, url=None):
        r = subprocess.run([self.tool, str(self.cache_dir), url or self.server.url,
                            str(self.secret_key), self.public_key, *args],
                           cwd=self.dir, env=self.env, capture_output=True, text=True,
                           timeout=600)
        try:
            doc = json.loads(r.stdout)
        except ValueError:
            self.fail(f"no JSON from the deploy (exit {r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r, doc, {m["name"]: m for m in doc["machines"]}

    def cache_narinfos(self):
        return {p.name for p in self.cache_dir.glob("*.narinfo")}

    def cache_bytes(self):
        return sum(p.stat().st_size for p in self.cache_dir.rglob("*") if p.is_file())

    # ---- the tests

    def test_ten_machines_fetch_what_the_deployer_uploaded_once(self):
        self.write(COUNT)
        closures = {n: self.built(n) for n in self.names(COUNT)}
        union = set().union(*(set(c) for _, c in closures.values()))
        shared = set.intersection(*(set(c) for _, c in closures.values()))
        self.assertGreater(len(shared), PAYLOAD_FILES)  # the machines share most paths
        r, doc, res = self.deploy("--transfer", "auto")  # 10 machines: the cache
        self.assertEqual(r.returncode, 0, r.stderr)
        for n, (system, closure) in closures.items():
            m = res[n]
            self.assertEqual(m["result"], "deployed", m)
            # Everything came from the cache; nothing was pushed to the machine.
            self.assertEqual(m["pathsSent"], 0, n)
            self.assertEqual(m["fetched"]["cache"]["paths"], len(closure), n)
            self.assertGreater(m["fetched"]["cache"]["narBytes"], PAYLOAD_FILES * PAYLOAD_SIZE)
            self.assertEqual(self.hosts.valid_paths(n, closure), closure)
            self.assertEqual(self.hosts.exec(n, "readlink", "-e", "/run/current-system")
                             .stdout.strip(), system)
        # The deployer uploaded each path once: the union of the closures, not their sum.
        cache = doc["upload"]["cache"]
        self.assertEqual(cache["url"], self.server.url)
        self.assertEqual(cache["pathsUploaded"], len(union))
        self.assertEqual(self.cache_narinfos(), {lib.narinfo_name(p) for p in union})
        self.assertEqual(cache["bytesUploaded"], self.cache_bytes())
        fetched = sum(m["fetched"]["cache"]["narBytes"] for m in res.values())
        self.assertLess(cache["bytesUploaded"], fetched / 4)  # shared paths sent once
        self.assertEqual(doc["upload"]["bytes"],
                         cache["bytesUploaded"] + sum(m["bytesSent"] for m in res.values()))
        # …and every machine fetched each NAR of its closure from the cache itself.
        gets = self.server.nar_gets()
        for p in union:
            nar = "/" + read_narinfo(self.cache_dir / lib.narinfo_name(p))["URL"]
            wanted = sum(1 for _, c in closures.values() if p in c)
            self.assertEqual(gets.get(nar, 0), wanted, p)

    def test_a_machine_with_half_its_closure_fetches_only_the_other_half(self):
        name = self.names(1)[0]
        self.write(1)
        system, closure = self.built(name)
        # The payload files and the base library: closed under references.
        half = [p for p in closure if "payload" in p or "fedi-test-base" in p]
        self.assertGreaterEqual(len(half), PAYLOAD_FILES)
        self.hosts.import_paths(name, half, env=self.env)
        rest = sorted(set(closure) - set(half))
        r, doc, res = self.deploy("--transfer", "cache")
        self.assertEqual(r.returncode, 0, r.stderr)
        m = res[name]
        self.assertEqual(m["pathsSent"], 0)
        self.assertEqual(m["fetched"]["cache"]["paths"], len(rest))
        # The cache was asked for the other half only, and only it was downloaded. (This
        # test cache writes with `nix copy`, which adds the references a binary cache
        # needs; which paths fedi asked for is what its counts say.)
        cache = doc["upload"]["cache"]
        self.assertEqual(cache["pathsUploaded"] + cache["pathsPresent"], len(rest))
        self.assertEqual(sum(self.server.nar_gets().values()), len(rest))
        self.assertEqual(self.hosts.valid_paths(name, closure), closure)

    def tamper_first_deploy(self, tamper):
        """A cache that holds the machine's closure, one file of it changed by `tamper`
        after it was signed; returns (report entry, stderr, the tampered path)."""
        name = self.names(1)[0]
        self.write(1)
        system, closure = self.built(name)
        self.fill_cache([system])
        victim = next(p for p in closure if "payload" in p)
        tamper(self.cache_dir / lib.narinfo_name(victim))
        r, doc, res = self.deploy("--transfer", "cache")
        self.assertEqual(r.returncode, 1, r.stderr)
        m = res[name]
        self.assertEqual(m["result"], "failed")
        self.assertEqual(m["failedPhase"], "push")
        # Nothing was pushed in its place, and the machine does not have it.
        self.assertEqual(m["pathsSent"], 0)
        self.assertEqual(self.hosts.valid_paths(name, [victim]), [])
        self.assertEqual(self.hosts.exec(name, "sh", "-c", "cat /var/lib/fedi-test/activations.log "
                                         "2>/dev/null || true").stdout, "")
        self.assertEqual(doc["upload"]["cache"]["pathsUploaded"], 0)  # all there already
        return m, r.stderr, victim

    def test_a_tampered_nar_is_refused_and_fails_the_machine(self):
        def change_contents(narinfo):
            nar = self.cache_dir / read_narinfo(narinfo)["URL"]
            data = bytearray(nar.read_bytes())
            data[len(data) // 2] ^= 0x01  # inside the payload file's contents
            nar.write_bytes(bytes(data))

        m, stderr, victim = self.tamper_first_deploy(change_contents)
        self.assertIn(f"the machine's Nix refused what the binary cache {self.server.url} served "
                      f"for {victim}", m["error"])
        self.assertIn("hash mismatch", m["error"])
        self.assertIn("tampered with?", m["error"])

    def test_a_tampered_narinfo_is_refused_and_fails_the_machine(self):
        def claim_another_size(narinfo):
            text = narinfo.read_text()
            size = read_narinfo(narinfo)["NarSize"]
            narinfo.write_text(text.replace(f"NarSize: {size}", f"NarSize: {int(size) + 8}"))

        m, stderr, victim = self.tamper_first_deploy(claim_another_size)
        self.assertIn(f"the machine's Nix refused {victim} from the binary cache "
                      f"{self.server.url}: not signed by the deployment's key fedi-test-cache-1",
                      m["error"])

    def test_an_unreachable_cache_falls_back_to_the_push(self):
        name = self.names(1)[0]
        self.write(1)
        system, closure = self.built(name)
        url = f"http://127.0.0.1:{lib.closed_port()}"
        r, doc, res = self.deploy("--transfer", "cache", url=url)
        self.assertEqual(r.returncode, 0, r.stderr)
        m = res[name]
        self.assertEqual(m["result"], "deployed")
        self.assertNotIn("fetched", m)
        self.assertEqual(m["pathsSent"], len(closure))
        self.assertIn(f"the binary cache {url} did not provide {len(closure)} paths (cannot "
                      f"reach it: unable to download '{url}/nix-cache-info'", r.stderr)
        self.assertEqual(self.hosts.valid_paths(name, closure), closure)

    def test_transfer_push_never_touches_the_cache(self):
        self.write(5)
        closures = {n: self.built(n) for n in self.names(5)}
        r, doc, res = self.deploy("--transfer", "push")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIsNone(doc["upload"]["cache"])
        self.assertEqual(list(self.cache_dir.iterdir()), [])
        self.assertEqual(sum(self.server.requests.values()), 0)
        for n, (system, closure) in closures.items():
            self.assertEqual(res[n]["pathsSent"], len(closure))
            self.assertNotIn("fetched", res[n])
        self.assertEqual(doc["upload"]["bytes"], sum(m["bytesSent"] for m in res.values()))

    def test_auto_pushes_to_a_few_machines(self):
        self.write(3)
        r, doc, res = self.deploy("--transfer", "auto")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIsNone(doc["upload"]["cache"])
        self.assertEqual(list(self.cache_dir.iterdir()), [])

    def test_substitute_on_target_fetches_from_the_machines_own_substituters(self):
        name = self.names(1)[0]
        self.write(1, substituteOnTarget=True)
        system, closure = self.built(name)
        half = [p for p in closure if "payload" in p or "fedi-test-base" in p]
        self.fill_cache(half)
        # The machine's own configuration names the cache (as nix.settings would).
        conf = f"substituters = {self.server.url}\ntrusted-public-keys = {self.public_key}\n"
        self.hosts.exec(name, "sh", "-c", "mkdir -p /root/.config/nix && cat > "
                        "/root/.config/nix/nix.conf", input=conf)
        r, doc, res = self.deploy("--transfer", "push")
        self.assertEqual(r.returncode, 0, r.stderr)
        m = res[name]
        self.assertEqual(m["fetched"]["substituters"]["paths"], len(half))
        self.assertEqual(m["pathsSent"], len(closure) - len(half))
        self.assertIsNone(doc["upload"]["cache"])
        self.assertEqual(self.hosts.valid_paths(name, closure), closure)


class BinaryCacheModule(unittest.TestCase):
    """resources/nixos/binary-cache.nix, evaluated against a stand-in for nixpkgs' lib."""

    def evaluate(self, settings):
        module = lib.nix_path(lib.SOURCE_DIR / "resources" / "nixos" / "binary-cache.nix")
        expr = f"""
          let
            lib = {{ mkOption = o: o; mkIf = c: v: if c then v else {{ }};
                     types = {{ nullOr = t: t; str = null; }}; }};
            m = import {module} {{ inherit lib; config.fedi.binaryCache = {settings}; }};
          in {{ config = m.config; hasOption = m.options.fedi ? binaryCache; }}
        """
        r = subprocess.run(["nix-instantiate", "--eval", "--strict", "--json", "-E", expr],
                           capture_output=True, text=True, env=lib.nix_env(), timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def test_the_cache_becomes_a_substituter_with_its_key(self):
        out = self.evaluate('{ url = "https://cache.example.org"; publicKey = "fleet-1:AAAA+b/="; }')
        self.assertTrue(out["hasOption"])
        self.assertEqual(out["config"]["nix"]["settings"],
                         {"extra-substituters": ["https://cache.example.org"],
                          "extra-trusted-public-keys": ["fleet-1:AAAA+b/="]})
        self.assertTrue(out["config"]["assertions"][0]["assertion"])
        bad = self.evaluate('{ url = "https://cache.example.org"; publicKey = "AAAA"; }')
        self.assertFalse(bad["config"]["assertions"][0]["assertion"])

    def test_no_url_changes_nothing(self):
        self.assertEqual(self.evaluate('{ url = null; publicKey = ""; }')["config"], {})


if __name__ == "__main__":
    unittest.main()
