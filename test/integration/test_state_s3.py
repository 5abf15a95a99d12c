"""Remote state in S3 (statestore::s3_backend): `fedi --state s3://...` against the real
Ceph RGW the suite runs (test/servers/rgw/rgw), and the conditional-write probe against
test/servers/s3-conditional (a server that can ignore If-None-Match, as some do).

Backend steps no fedi command takes alone (unlock, a stale compare-and-swap, narrow
locks) are driven through the test tool fedi-state-check.
"""
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

import fedi_testlib as lib

S3_CHECK = os.environ.get("FEDI_S3_CHECK", "")
STATE_CHECK = os.environ.get("FEDI_STATE_CHECK", "")
CONDITIONAL_SERVER = lib.SOURCE_DIR / "test" / "servers" / "s3-conditional" / "s3_conditional_server.py"
BUCKET = "fedi-state"


def need_tools():
    for name, path in [("FEDI_S3_CHECK", S3_CHECK), ("FEDI_STATE_CHECK", STATE_CHECK)]:
        if not path or not os.access(path, os.X_OK):
            raise RuntimeError(f"{name} must name the test tool (CTest sets it)")


class S3StateCase(unittest.TestCase):
    """What both servers' tests share: an endpoint, keys in the environment, a bucket."""
    endpoint = ""
    keys = ("", "")

    @classmethod
    def make_bucket(cls, directory):
        cls.s3_config = os.path.join(directory, "s3.json")
        lib.write_file(cls.s3_config, json.dumps(
            {"endpoint": cls.endpoint, "region": "us-east-1", "accessKey": cls.keys[0],
             "secretKey": cls.keys[1]}), 0o600)
        subprocess.run([S3_CHECK, "--config", cls.s3_config, "create-bucket", BUCKET],
                       check=True, capture_output=True, timeout=60)

    @classmethod
    def start_server(cls, *args):
        """test/servers/s3-conditional for the class, with a bucket."""
        need_tools()
        cls.server = ConditionalServer(*args)
        cls.addClassCleanup(cls.server.stop)
        cls.endpoint = cls.server.endpoint
        cls.keys = ("AKIATESTSERVER000000", "test-server-secret")
        cls.tmp = tempfile.mkdtemp(prefix="fedi-s3state-server-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.make_bucket(cls.tmp)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fedi-s3state-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.home = os.path.join(self.dir, "home")
        os.makedirs(self.home)
        self.env = lib.isolated_env(self.home)
        self.env["AWS_ACCESS_KEY_ID"], self.env["AWS_SECRET_ACCESS_KEY"] = self.keys
        self.key = f"{self._testMethodName}-{time.time_ns()}/state.json"
        self.location = f"s3://{BUCKET}/{self.key}?endpoint={self.endpoint}"

    def state_check(self, *args, input="", code=0):
        r = subprocess.run([STATE_CHECK, self.location, *args], input=input, env=self.env,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, code, f"{args}: {r.stdout}{r.stderr}")
        return r

    def objects(self, prefix=""):
        r = subprocess.run([S3_CHECK, "--config", self.s3_config, "list", BUCKET, prefix],
                           check=True, capture_output=True, timeout=60)
        return [o["key"] for o in json.loads(r.stdout)]

    @staticmethod
    def end(p):
        p.kill()
        p.wait()
        for stream in (p.stdin, p.stdout, p.stderr):
            if stream:
                stream.close()

    def holder(self, *scopes, timeout=0):
        """A fedi-state-check process holding `scopes` until its stdin closes."""
        p = subprocess.Popen([STATE_CHECK, self.location, "lock", "--timeout", str(timeout), *scopes],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=self.env, text=True)
        self.addCleanup(self.end, p)
        ready, _, _ = select.select([p.stdout], [], [], 60)
        self.assertTrue(ready and p.stdout.readline() == "locked\n", p.stderr.read() if not ready else "")
        return p


class StateOnRGW(S3StateCase):
    @classmethod
    def setUpClass(cls):
        need_tools()
        cls.rgw_dir, info = lib.start_rgw(cls, prefix="fedi-s3state-rgw-", timeout=90)
        cls.endpoint = info["endpoint"]
        cls.keys = (info["accessKey"], info["secretKey"])
        cls.make_bucket(cls.rgw_dir)
        cls.hosts = lib.TestHosts(1, prefix="s3state")
        cls.addClassCleanup(cls.hosts.stop)

    def write_deployment(self, message, host=None, state=None):
        h = host or self.hosts.hosts[0]
        system = lib.system_expr("a", message=f"{message} {self.key}")
        machines = {"a": lib.machine(h, self.hosts.identity_file(), system)}
        # Plain text on purpose unless `state` says otherwise: most tests here are about the
        # backend.
        meta = {"meta": {"state": state or {"allowPlaintext": True}}}
        lib.write_file(os.path.join(self.dir, "deployment.nix"),
                       lib.render_deployment(machines, extra=meta))

    def test_encrypted_state_object_holds_nothing_readable(self):
        key_file = os.path.join(self.dir, "age.key")
        _, public = lib.age_keygen(key_file)
        self.write_deployment("sealed", state={"encryption": {"recipients": [public],
                                                              "identityFile": key_file}})
        r = self.fedi("deploy")
        self.assertEqual(r.returncode, 0, r.stderr)
        raw = json.loads(self.state_check("read").stdout)["bytes"]
        self.assertTrue(raw.startswith("age-encryption.org/v1\n"), raw[:40])
        for clear in ["generations", self.hosts.hosts[0]["hostKey"].split()[1], self.key]:
            self.assertNotIn(clear, raw)
        r = self.fedi("status")
        self.assertEqual(r.returncode, 0, r.stderr)

    def fedi(self, *args, env=None):
        return lib.run_fedi(["--state", self.location, *args], cwd=self.dir, env=env or self.env)

    def silent_machine(self):
        """A host that accepts TCP and never speaks SSH: a deploy to it holds its lock."""
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        self.addCleanup(listener.close)
        return dict(self.hosts.hosts[0], host="127.0.0.1", port=listener.getsockname()[1])

    def wait_for_locks(self, count):
        deadline = time.time() + 120
        while time.time() < deadline:
            held = json.loads(self.state_check("locks").stdout)
            if len(held) >= count:
                return held
            time.sleep(0.2)
        self.fail("no lock object appeared")

    def test_deploy_keeps_its_state_and_history_in_the_bucket(self):
        lib.reset_hosts(self.hosts)
        self.write_deployment("v1")
        r = self.fedi("deploy")
        self.assertEqual(r.returncode, 0, r.stderr)
        stored = json.loads(self.state_check("read").stdout)
        self.assertIn('"a"', stored["bytes"])  # the machine's record is in the object
        first = json.loads(self.state_check("history").stdout)
        self.assertGreaterEqual(len(first), 1)
        self.assertEqual(first[0]["version"], stored["version"])

        self.write_deployment("v2")
        r = self.fedi("deploy")
        self.assertEqual(r.returncode, 0, r.stderr)
        second = json.loads(self.state_check("history").stdout)
        self.assertGreater(len(second), len(first))
        self.assertEqual(second[-len(first):], first)  # newest first; the old ones kept
        old = json.loads(self.state_check("read-version", first[0]["version"]).stdout)["bytes"]
        self.assertEqual(old, stored["bytes"])
        # The run's lock object is gone, and so is the conditional-write probe's.
        self.assertEqual(json.loads(self.state_check("locks").stdout), [])
        self.assertEqual([k for k in self.objects(self.key) if ".lock/" in k or ".probe/" in k],
                         [])

    def test_lock_held_names_its_holder_and_a_killed_holder_leaves_it(self):
        self.write_deployment("held", host=self.silent_machine())
        first = subprocess.Popen([os.environ["FEDI_BIN"], "--state", self.location, "deploy"],
                                 cwd=self.dir, env=self.env, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: (first.poll() is None and first.kill(), first.communicate()))
        held = self.wait_for_locks(1)
        self.assertEqual([h["pid"] for h in held], [first.pid])

        start = time.time()
        r = self.fedi("deploy")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertLess(time.time() - start, 30)
        self.assertIn("locked by another fedi", r.stderr)
        self.assertIn(f"pid {first.pid}", r.stderr)
        self.assertIn(f"fedi state unlock {held[0]['id']}", r.stderr)
        self.assertNotIn(self.keys[1], r.stderr)

        # SIGKILL: nothing deletes the lock object; the next run still finds it.
        first.send_signal(signal.SIGKILL)
        first.communicate()
        r = self.fedi("deploy")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"pid {first.pid}", r.stderr)
        self.assertIn("S3 cannot tell whether a lock's holder is still running", r.stderr)

        # Breaking it (what `fedi state unlock ID` does) frees the state.
        self.state_check("unlock", held[0]["id"])
        self.assertEqual(json.loads(self.state_check("locks").stdout), [])
        self.state_check("unlock", held[0]["id"], code=2)
        self.holder("deployment").stdin.close()

    def test_compare_and_swap_refuses_a_stale_version(self):
        v1 = self.state_check("write", "none", input="one").stdout.strip()
        v2 = self.state_check("write", v1, input="two").stdout.strip()
        self.assertNotEqual(v1, v2)
        r = self.state_check("write", v1, input="lost update", code=3)
        self.assertIn("changed since fedi read it", r.stderr)
        self.state_check("write", "none", input="second first write", code=3)
        self.assertEqual(json.loads(self.state_check("read").stdout),
                         {"version": v2, "bytes": "two"})
        self.assertEqual([e["version"] for e in json.loads(self.state_check("history").stdout)],
                         [v2, v1])
        self.assertEqual(json.loads(self.state_check("read-version", v1).stdout)["bytes"], "one")

    def test_scopes_are_taken_all_or_none_and_waited_for(self):
        web = self.holder("machine web")
        r = self.state_check("lock", "--timeout", "0", "machine db", "machine web", code=4)
        self.assertIn(f"pid {web.pid}", r.stderr)
        self.assertIn("machine web", r.stderr)
        # "machine db" was taken first and given back when "machine web" was refused.
        self.assertEqual([h["scope"] for h in json.loads(self.state_check("locks").stdout)],
                         ["machine web"])
        # Disjoint scopes run at once.
        self.holder("machine db").stdin.close()
        # A timeout waits for the holder to go.
        waiter = subprocess.Popen([STATE_CHECK, self.location, "lock", "--timeout", "60", "machine web"],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=self.env, text=True)
        time.sleep(2)
        self.assertIsNone(waiter.poll())
        web.stdin.close()
        out, err = waiter.communicate(timeout=60)
        self.assertEqual((waiter.returncode, out), (0, "locked\n"), err)

    def test_of_many_runs_taking_one_lock_at_once_exactly_one_gets_it(self):
        racers = [subprocess.Popen([STATE_CHECK, self.location, "lock", "--timeout", "0", "deployment"],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, env=self.env, text=True)
                  for _ in range(6)]
        for p in racers:
            self.addCleanup(self.end, p)
        # A loser exits 4 at once; the winner prints "locked" and holds until stdin closes.
        winners = []
        for p in racers:
            ready, _, _ = select.select([p.stdout], [], [], 60)
            self.assertTrue(ready)
            if p.stdout.readline() == "locked\n":
                winners.append(p)
            else:
                self.assertEqual(p.wait(timeout=30), 4, p.stderr.read())
        self.assertEqual(len(winners), 1)
        self.assertEqual([h["pid"] for h in json.loads(self.state_check("locks").stdout)],
                         [winners[0].pid])

    def test_no_keys_in_the_environment_is_a_clear_usage_error(self):
        env = dict(self.env)
        del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
        self.write_deployment("nokeys")
        r = self.fedi("deploy", env=env)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("AWS_ACCESS_KEY_ID", r.stderr)


class ConditionalServer:
    def __init__(self, *args):
        self.process = subprocess.Popen([sys.executable, str(CONDITIONAL_SERVER), *args],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.process.stdout], [], [], 30)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            self.stop()
            raise RuntimeError("s3-conditional test server did not start")
        self.endpoint = json.loads(line)["endpoint"]

    def stop(self):
        self.process.kill()
        self.process.communicate()

    def objects(self):
        with urllib.request.urlopen(self.endpoint + "/_test/objects", timeout=10) as r:
            return json.loads(r.read())


class ServerIgnoringConditionalWrites(S3StateCase):
    @classmethod
    def setUpClass(cls):
        cls.start_server("--ignore-conditional-writes")

    def test_fedi_refuses_the_server_and_says_why(self):
        lib.write_file(os.path.join(self.dir, "deployment.nix"), "{ machines = { }; meta.state.allowPlaintext = true; }\n")
        r = lib.run_fedi(["--state", self.location, "deploy"], cwd=self.dir, env=self.env)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("the server ignores conditional writes", r.stderr)
        self.assertIn("If-None-Match: *", r.stderr)
        self.assertIn(self.endpoint, r.stderr)
        self.assertNotIn(self.keys[1], r.stderr)
        r = self.state_check("write", "none", input="x", code=1)
        self.assertIn("ignores conditional writes", r.stderr)
        self.state_check("lock", "--timeout", "0", "deployment", code=1)
        # Nothing written, the probe object removed.
        self.assertEqual(self.server.objects(), [])


class ServerHonouringConditionalWrites(S3StateCase):
    """The same server honouring If-Match as RFC 7232 writes it (a quoted entity tag),
    where RGW compares the bare ETag: the backend speaks both."""

    @classmethod
    def setUpClass(cls):
        cls.start_server()

    def test_compare_and_swap_and_locks(self):
        v1 = self.state_check("write", "none", input="one").stdout.strip()
        v2 = self.state_check("write", v1, input="two").stdout.strip()
        self.state_check("write", v1, input="lost", code=3)
        self.assertEqual(json.loads(self.state_check("read").stdout)["version"], v2)
        held = self.holder("deployment")
        r = self.state_check("lock", "--timeout", "0", "deployment", code=4)
        self.assertIn(f"pid {held.pid}", r.stderr)
        held.stdin.close()
        held.wait(timeout=30)
        self.assertEqual([o for o in self.server.objects() if ".lock/" in o or ".probe/" in o], [])


class ServerIgnoringIfMatch(S3StateCase):
    """A server that honours If-None-Match but ignores If-Match: the lock holds, and the
    backend compares the version itself before each write."""

    @classmethod
    def setUpClass(cls):
        cls.start_server("--ignore-if-match")

    def test_a_stale_version_is_still_refused_and_every_version_kept(self):
        v1 = self.state_check("write", "none", input="one").stdout.strip()
        v2 = self.state_check("write", v1, input="two").stdout.strip()
        r = self.state_check("write", v1, input="lost", code=3)
        self.assertIn("changed since fedi read it", r.stderr)
        self.assertEqual(json.loads(self.state_check("read").stdout)["bytes"], "two")
        self.assertEqual([e["version"] for e in json.loads(self.state_check("history").stdout)],
                         [v2, v1])


if __name__ == "__main__":
    unittest.main()
