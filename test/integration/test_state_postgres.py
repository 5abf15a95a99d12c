"""Remote state in PostgreSQL: a real PostgreSQL 15 cluster in a temporary directory
(test/servers/postgres/postgres), reached over loopback with password auth (the password
from a libpq password file, PGPASSFILE). The backend is driven directly through
fedi-state-check (stale versions, locks held by a process the test kills) and end to end
through `fedi --state postgresql://… deploy` against an sshd test host.

With meta.state.encryption, `pg_dump` of the database shows no secret and no name from
the state, only age's header.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import fedi_testlib as lib

POSTGRES = lib.SOURCE_DIR / "test" / "servers" / "postgres" / "postgres"
PSQL = "/usr/lib/postgresql/15/bin/psql"
PG_DUMP = "/usr/lib/postgresql/15/bin/pg_dump"


def reap(process):
    """Kills process unless it has ended, waits for it and closes its pipes."""
    if process.poll() is None:
        process.kill()
    process.wait()
    for pipe in (process.stdin, process.stdout, process.stderr):
        if pipe:
            pipe.close()


def start_postgres(test_class):
    """Starts a throwaway cluster for a test class; its stop and the removal of its
    directory are class cleanups. Returns what the start printed (url, passFile, ...)."""
    directory = tempfile.mkdtemp(prefix="fedi-pg-")
    test_class.addClassCleanup(shutil.rmtree, directory, True)
    out = subprocess.run([str(POSTGRES), "start", "--dir", directory], capture_output=True,
                         text=True, timeout=120)
    test_class.addClassCleanup(subprocess.run, [str(POSTGRES), "stop", "--dir", directory],
                               check=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError(f"postgres start failed: {out.stderr}")
    return json.loads(out.stdout)


class PostgresCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = start_postgres(cls)
        cls.env = dict(os.environ, PGPASSFILE=cls.pg["passFile"])
        cls.env.pop("PGPASSWORD", None)

    def url(self, deployment=None):
        deployment = deployment or f"{self._testMethodName}-{time.time_ns()}"
        return f"{self.pg['url']}?deployment={deployment}"

    def check(self, url, *args, input=None, env=None):
        return subprocess.run([os.environ["FEDI_STATE_CHECK"], url, *args], input=input,
                              capture_output=True, env=env or self.env, timeout=120,
                              stdin=None if input is not None else subprocess.DEVNULL)

    def psql(self, sql, *params):
        """The superuser's view of the database (trust over the cluster's own socket)."""
        r = subprocess.run([PSQL, "-X", "-At", "-v", "ON_ERROR_STOP=1", self.pg["superuserUrl"],
                            *[a for i, p in enumerate(params) for a in ("-v", f"p{i}={p}")]],
                           input=sql, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.strip()

    def rows(self, deployment):
        return self.psql("SELECT version FROM fedi_state WHERE deployment = :'p0' "
                         "ORDER BY version", deployment).split()

    def hold(self, url, *scopes, command="fedi deploy (test)"):
        """A process holding the locks of scopes until its stdin is closed (or killed)."""
        p = subprocess.Popen([os.environ["FEDI_STATE_CHECK"], url, "lock", "--command", command,
                              *scopes], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=self.env, text=True)
        self.addCleanup(reap, p)
        line = p.stdout.readline()
        self.assertEqual(line.strip(), "locked", p.stderr.read() if not line else line)
        return p


class BackendTest(PostgresCase):
    def test_writes_are_compare_and_swap_and_every_write_is_a_version(self):
        deployment = "cas"
        url = self.url(deployment)
        self.assertEqual(self.check(url, "write", "none", input=b'{"n": 1}').stdout, b"1\n")
        stale = self.check(url, "write", "none", input=b'{"n": "lost"}')
        self.assertEqual(stale.returncode, 3, stale.stderr)
        self.assertIn(b"it holds version 1, fedi read no state", stale.stderr)
        self.assertEqual(self.check(url, "write", "1", input=b'{"n": 2}').stdout, b"2\n")
        stale = self.check(url, "write", "1", input=b'{"n": "lost"}')
        self.assertEqual(stale.returncode, 3, stale.stderr)
        self.assertIn(b"it holds version 2, fedi read version 1", stale.stderr)
        self.assertEqual(self.rows(deployment), ["1", "2"])
        latest = json.loads(self.check(url, "read").stdout)
        self.assertEqual(latest, {"version": "2", "bytes": '{"n": 2}'})
        first = json.loads(self.check(url, "read-version", "1").stdout)
        self.assertEqual(first["bytes"], '{"n": 1}')
        history = json.loads(self.check(url, "history").stdout)
        self.assertEqual([h["version"] for h in history], ["2", "1"])
        self.assertRegex(history[0]["writtenAt"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertIn("fedi-state-check write", history[0]["writtenBy"])
        # Another deployment in the same table is apart.
        other = self.url("cas-other")
        self.assertEqual(json.loads(self.check(other, "read").stdout)["version"], None)

    def test_bytes_are_kept_exactly(self):
        data = bytes(range(256)) * 3  # as an age file would be: NULs, high bytes
        url = self.url("binary")
        r = self.check(url, "write", "none", input=data)
        self.assertEqual(r.returncode, 0, r.stderr)
        stored = self.psql("SELECT encode(data, 'hex') FROM fedi_state WHERE deployment = 'binary'")
        self.assertEqual(stored, data.hex())

    def test_a_held_lock_names_its_holder_and_sigkill_frees_it(self):
        url = self.url()
        holder = self.hold(url, "deployment", "machine a")
        refused = self.check(url, "lock", "deployment")
        self.assertEqual(refused.returncode, 4, refused.stderr)
        named = json.loads(refused.stdout)
        self.assertEqual(named["pid"], holder.pid)
        self.assertEqual(named["command"], "fedi deploy (test)")
        self.assertIn(f"pid {holder.pid} on ".encode(), refused.stderr)
        self.assertIn(b"`fedi deploy (test)`", refused.stderr)
        listed = json.loads(self.check(url, "locks").stdout)
        self.assertEqual(sorted(h["scope"] for h in listed), ["deployment", "machine a"])
        self.assertEqual({h["pid"] for h in listed}, {holder.pid})
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        # PostgreSQL ends the session when its socket closes; no one has to unlock.
        start = time.monotonic()
        again = self.check(url, "lock", "--timeout", "10", "deployment", "machine a")
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertLess(time.monotonic() - start, 5)
        self.assertEqual(json.loads(self.check(url, "locks").stdout), [])

    def test_several_scopes_are_taken_all_or_none(self):
        url = self.url()
        self.hold(url, "machine b")
        refused = self.check(url, "lock", "machine a", "machine b")
        self.assertEqual(refused.returncode, 4, refused.stderr)
        self.assertEqual(json.loads(refused.stdout)["scope"], "machine b")
        # machine a was given back: another process takes it at once.
        self.assertEqual(self.check(url, "lock", "machine a").returncode, 0)
        self.assertEqual([h["scope"] for h in json.loads(self.check(url, "locks").stdout)],
                         ["machine b"])

    def test_a_timeout_waits_for_the_holder(self):
        url = self.url()
        holder = self.hold(url, "deployment")
        waiter = subprocess.Popen([os.environ["FEDI_STATE_CHECK"], url, "lock", "--timeout", "30",
                                   "deployment"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=self.env)
        time.sleep(1.5)
        self.assertIsNone(waiter.poll(), "the waiter did not wait")
        holder.stdin.close()
        holder.wait(timeout=30)
        out, err = waiter.communicate(timeout=30)
        self.assertEqual(waiter.returncode, 0, err)
        self.assertEqual(out, b"locked\n")

    def test_unlock_ends_the_holders_session(self):
        url = self.url()
        holder = self.hold(url, "deployment")
        (lock,) = json.loads(self.check(url, "locks").stdout)
        r = self.check(url, "unlock", lock["id"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.check(url, "lock", "deployment").returncode, 0)
        self.assertIsNone(holder.poll(), "unlock ends the session, not the process")
        self.assertEqual(self.psql("SELECT count(*) FROM pg_stat_activity WHERE "
                                   "application_name = 'fedi' AND pid IN (SELECT backend_pid "
                                   "FROM fedi_state_locks)"), "0")
        gone = self.check(url, "unlock", lock["id"])
        self.assertEqual(gone.returncode, 1)
        self.assertIn(f"has no lock {lock['id']}".encode(), gone.stderr)

    def test_a_holder_row_without_its_session_is_stale(self):
        deployment = f"stale-{time.time_ns()}"
        url = self.url(deployment)
        self.check(url, "locks")  # creates the tables
        self.psql("INSERT INTO fedi_state_locks VALUES (:'p0', 'deployment', 'ghost', 'gone', "
                  "'nobody', 1, 'fedi deploy', '2026-01-01T00:00:00Z', 42, 2147483000)", deployment)
        self.assertEqual(json.loads(self.check(url, "locks").stdout), [])
        self.assertEqual(self.psql("SELECT count(*) FROM fedi_state_locks WHERE id = 'ghost'"), "0")
        self.assertEqual(self.check(url, "lock", "deployment").returncode, 0)

    def test_the_password_comes_from_a_file_or_the_environment_never_the_url(self):
        url = self.url()
        no_password = {k: v for k, v in self.env.items() if k not in ("PGPASSFILE", "PGPASSWORD")}
        no_password["HOME"] = tempfile.mkdtemp(prefix="fedi-pg-home-")  # no ~/.pgpass
        self.addCleanup(shutil.rmtree, no_password["HOME"], True)
        r = self.check(url, "read", env=no_password)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"cannot connect to PostgreSQL", r.stderr)
        self.assertIn(b"password", r.stderr)
        with open(self.pg["passFile"]) as f:
            password = f.read().strip().rsplit(":", 1)[1]
        r = self.check(url, "read", env=dict(no_password, PGPASSWORD=password))
        self.assertEqual(r.returncode, 0, r.stderr)
        with_password = url.replace("fedi@", f"fedi:{password}@")
        r = self.check(with_password, "read")
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"carries a password", r.stderr)
        self.assertNotIn(password.encode(), r.stdout + r.stderr)
        r = self.check(url + f"&password={password}", "read")
        self.assertEqual(r.returncode, 2)
        self.assertNotIn(password.encode(), r.stdout + r.stderr)

    def test_tls_is_libpqs_own(self):
        verified = f"{self.url()}&sslmode=verify-full&sslrootcert={self.pg['caFile']}"
        r = self.check(verified, "read")
        self.assertEqual(r.returncode, 0, r.stderr)
        # Another CA: libpq checks the server's certificate and refuses it.
        other_ca = os.path.join(self.pg["dir"], "other-ca.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
                        "/CN=another CA", "-keyout", other_ca + ".key", "-out", other_ca],
                       check=True, capture_output=True)
        r = self.check(f"{self.url()}&sslmode=verify-full&sslrootcert={other_ca}", "read")
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"cannot connect to PostgreSQL", r.stderr)
        self.assertIn(b"certificate verify failed", r.stderr)


class DeployTest(PostgresCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.hosts = lib.TestHosts(1)
        cls.addClassCleanup(cls.hosts.stop)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fedi-pg-deploy-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        home = os.path.join(self.dir, "home")
        os.makedirs(home)
        self.fedi_env = dict(lib.isolated_env(home), PGPASSFILE=self.pg["passFile"])
        self.nonce = f"{self._testMethodName}-{time.time_ns()}"
        lib.reset_hosts(self.hosts)

    def write_deployment(self, message, delay=0, state=None):
        (host,) = self.hosts.hosts
        system = lib.system_expr("web", message=f"{message} {self.nonce}", delay=delay)
        machines = {"web": lib.machine(host, self.hosts.identity_file(), system)}
        # Plain text on purpose unless `state` says otherwise: most tests here are about the
        # backend.
        meta = {"meta": {"state": state or {"allowPlaintext": True}}}
        lib.write_file(os.path.join(self.dir, "deployment.nix"),
                       lib.render_deployment(machines, extra=meta))

    def test_encrypted_state_shows_nothing_in_pg_dump(self):
        deployment = f"sealed-{time.time_ns()}"
        key_file = os.path.join(self.dir, "age.key")
        _, public = lib.age_keygen(key_file)
        self.write_deployment("sealed", state={"encryption": {"recipients": [public],
                                                              "identityFile": key_file}})
        r = self.fedi(self.url(deployment), "deploy")
        self.assertEqual(r.returncode, 0, r.stderr)
        dump = subprocess.run([PG_DUMP, "--data-only", "--inserts", self.pg["superuserUrl"]],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(dump.returncode, 0, dump.stderr)
        self.assertIn(deployment, dump.stdout)  # the row is there...
        (host,) = self.hosts.hosts
        for clear in ["generations", host["hostKey"].split()[1], self.nonce]:
            self.assertNotIn(clear, dump.stdout)  # ...and nothing of the state reads
        data = self.psql("SELECT encode(data, 'escape') FROM fedi_state WHERE deployment = :'p0' "
                         "ORDER BY version DESC LIMIT 1", deployment)
        self.assertTrue(data.startswith("age-encryption.org/v1"), data[:40])
        r = self.fedi(self.url(deployment), "status")
        self.assertEqual(r.returncode, 0, r.stderr)

    def fedi(self, url, *args):
        return lib.run_fedi(["--state", url, *args], cwd=self.dir, env=self.fedi_env)

    def latest(self, deployment):
        return json.loads(self.psql("SELECT convert_from(data, 'UTF8') FROM fedi_state WHERE "
                                    "deployment = :'p0' ORDER BY version DESC LIMIT 1", deployment))

    def test_deploy_keeps_its_state_in_postgres_one_version_per_write(self):
        deployment = f"deploy-{time.time_ns()}"
        url = self.url(deployment)
        self.write_deployment("v1")
        r = self.fedi(url, "deploy")
        self.assertEqual(r.returncode, 0, r.stderr)
        first = self.rows(deployment)
        self.assertGreaterEqual(len(first), 1)
        profile = self.hosts.exec(self.hosts.names[0], "readlink", "-f", "/nix/var/nix/profiles/system")
        generations = self.latest(deployment)["machines"]["web"]["generations"]
        self.assertEqual(generations[-1]["system"], profile.stdout.strip())
        self.assertFalse(os.path.exists(os.path.join(self.dir, ".fedi", "state.json")))
        self.write_deployment("v2")
        r = self.fedi(url, "deploy")
        self.assertEqual(r.returncode, 0, r.stderr)
        both = self.rows(deployment)
        self.assertGreater(len(both), len(first))
        # Every write a new row: versions 1..n, none rewritten.
        self.assertEqual(both, [str(v) for v in range(1, len(both) + 1)])
        self.assertEqual(len(self.latest(deployment)["machines"]["web"]["generations"]), 2)
        history = self.psql("SELECT written_by FROM fedi_state WHERE deployment = :'p0'",
                            deployment).splitlines()
        self.assertTrue(all(" deploy" in w and "@" in w for w in history), history)

    def test_a_second_fedi_finds_the_lock_held_and_sigkill_frees_it(self):
        deployment = f"held-{time.time_ns()}"
        url = self.url(deployment)
        self.write_deployment("slow", delay=60)
        self.check(url, "locks")  # creates the tables the loop below looks at
        first = subprocess.Popen([os.environ["FEDI_BIN"], "--state", url, "deploy"], cwd=self.dir,
                                 env=self.fedi_env, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(reap, first)
        deadline = time.monotonic() + 120
        while self.psql("SELECT count(*) FROM fedi_state_locks WHERE deployment = :'p0'",
                        deployment) == "0":
            self.assertIsNone(first.poll(), first.stderr.read() if first.poll() is not None else "")
            self.assertLess(time.monotonic(), deadline, "the first deploy never took its lock")
            time.sleep(0.2)
        second = self.fedi(url, "deploy")
        self.assertNotEqual(second.returncode, 0)
        self.assertIn("locked by another fedi", second.stderr)
        self.assertIn(f"pid {first.pid} on ", second.stderr)
        self.assertIn("deploy", second.stderr)
        first.send_signal(signal.SIGKILL)
        first.wait()
        taken = self.check(url, "lock", "--timeout", "10", "deployment")
        self.assertEqual(taken.returncode, 0, taken.stderr)
        self.assertEqual(json.loads(self.check(url, "locks").stdout), [])


class NarrowLocksTest(PostgresCase):
    """Against a remote state a deploy locks only its machines (and the shared resources
    they need): another deploy on other machines runs beside it, one on the same machine
    is refused, and both runs' records end up in the state."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.hosts = lib.TestHosts(2)
        cls.addClassCleanup(cls.hosts.stop)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fedi-pg-narrow-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        home = os.path.join(self.dir, "home")
        os.makedirs(home)
        self.fedi_env = dict(lib.isolated_env(home), PGPASSFILE=self.pg["passFile"])
        lib.reset_hosts(self.hosts)

    def test_deploys_on_other_machines_run_at_once_and_both_are_recorded(self):
        deployment = f"narrow-{time.time_ns()}"
        url = self.url(deployment)
        one, two = self.hosts.hosts
        nonce = time.time_ns()
        machines = {
            "slow": lib.machine(one, self.hosts.identity_file(),
                                lib.system_expr("slow", message=f"slow {nonce}", delay=15)),
            "quick": lib.machine(two, self.hosts.identity_file(),
                                 lib.system_expr("quick", message=f"quick {nonce}")),
        }
        lib.write_file(os.path.join(self.dir, "deployment.nix"), lib.render_deployment(
            machines, extra={"meta": {"state": {"allowPlaintext": True}}}))
        fedi = lambda *args: lib.run_fedi(["--state", url, *args], cwd=self.dir, env=self.fedi_env)
        self.check(url, "locks")  # creates the tables the loop below looks at
        first = subprocess.Popen([os.environ["FEDI_BIN"], "--state", url, "deploy", "--on", "slow"],
                                 cwd=self.dir, env=self.fedi_env, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(reap, first)
        deadline = time.monotonic() + 120
        while "machine slow" not in self.psql(
                "SELECT string_agg(scope, ',') FROM fedi_state_locks WHERE deployment = :'p0'",
                deployment):
            self.assertIsNone(first.poll(), first.stderr.read() if first.poll() is not None else "")
            self.assertLess(time.monotonic(), deadline, "the first deploy never took its lock")
            time.sleep(0.2)
        beside = fedi("deploy", "--on", "quick")
        self.assertEqual(beside.returncode, 0, beside.stderr)
        same = fedi("deploy", "--on", "slow")
        self.assertNotEqual(same.returncode, 0)
        self.assertIn("machine slow", same.stderr)
        self.assertIn(f"pid {first.pid} on ", same.stderr)
        _, err = first.communicate(timeout=180)
        self.assertEqual(first.returncode, 0, err)
        latest = json.loads(self.psql(
            "SELECT convert_from(data, 'UTF8') FROM fedi_state WHERE deployment = :'p0' "
            "ORDER BY version DESC LIMIT 1", deployment))
        for name in ("slow", "quick"):
            self.assertEqual(len(latest["machines"][name]["generations"]), 1, latest)


if __name__ == "__main__":
    unittest.main()
