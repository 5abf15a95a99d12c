"""The test hosts (test/hosts/testhosts) and the minimal test system behave like the
separate machines the other integration tests take them for."""

import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

from fedi_testlib import (
    MINIMAL_SYSTEM,
    TESTHOSTS,
    TestHosts,
    machine,
    nix_build,
    nix_env,
    nix_path,
    render_deployment,
    system_expr,
    to_nix,
)


def processes_mentioning(text):
    """Pids of processes whose command line contains text."""
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found


def alive(pid):
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def accepts(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return True
    except OSError:
        return False


def wait_until(predicate, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


class TestHostsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hosts = TestHosts(3)

    @classmethod
    def tearDownClass(cls):
        cls.hosts.stop()

    def exec_ok(self, name, *cmd):
        proc = self.hosts.exec(name, *cmd)
        self.assertEqual(proc.returncode, 0, f"{cmd} on {name}: {proc.stderr}")
        return proc.stdout

    def test_hosts_json_matches_stdout_and_the_hosts(self):
        recorded = json.loads((self.hosts.dir / "hosts.json").read_text())
        self.assertEqual(recorded, self.hosts.hosts)
        self.assertEqual([h["name"] for h in recorded], ["host1", "host2", "host3"])
        self.assertEqual(len({h["port"] for h in recorded}), 3)
        for h in recorded:
            self.assertEqual((h["host"], h["user"]), ("127.0.0.1", "root"))
            self.assertTrue(h["hostKey"].startswith("ssh-ed25519 AAAA"), h["hostKey"])
            self.assertTrue(h["hostKeyRsa"].startswith("ssh-rsa AAAA"), h["hostKeyRsa"])
            self.assertEqual(pathlib.Path(f"/proc/{h['pid']}/comm").read_text().strip(), "unshare")
            self.assertEqual(h["root"], str(self.hosts.dir / h["name"]))
            self.assertTrue(accepts(h["port"]))

    def test_hostnames_are_distinct(self):
        names = [self.exec_ok(n, "hostname").strip() for n in self.hosts.names]
        self.assertEqual(names, self.hosts.names)
        self.assertNotIn(socket.gethostname(), names)

    def test_each_host_has_its_own_nix_store_and_var_lib(self):
        marker = f"fedi-testhosts-marker-{uuid.uuid4().hex}"
        for place in ("/nix/store", "/var/lib", "/root"):
            path = f"{place}/{marker}"
            self.exec_ok("host1", "touch", path)
            self.assertEqual(self.hosts.exec("host1", "test", "-e", path).returncode, 0)
            self.assertEqual(self.hosts.exec("host2", "test", "-e", path).returncode, 1, path)
            self.assertFalse(os.path.exists(path), f"{path} leaked onto this machine")
        host_dir = self.hosts.dir / "host1"
        self.assertTrue((host_dir / "nix" / "store" / marker).exists())
        self.assertTrue((host_dir / "var-lib" / marker).exists())
        # Each store has its own database, and the Nix tools use it.
        out = self.exec_ok("host2", "nix-store", "--verify")
        self.assertEqual(self.hosts.exec("host2", "test", "-d", "/nix/var/nix/db").returncode, 0, out)

    def test_exec_passes_the_exit_status_through(self):
        self.assertEqual(self.hosts.exec("host3", "sh", "-c", "exit 7").returncode, 7)
        proc = self.hosts.exec("host3", "cat", input="to the host\n")
        self.assertEqual(proc.stdout, "to the host\n")

    def test_openssh_login_with_either_client_key_runs_nix(self):
        for kind in ("ed25519", "rsa"):
            proc = self.hosts.ssh("host2", "hostname; nix-store --version", kind=kind)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertRegex(proc.stdout, r"\Ahost2\nnix-store \(Nix\) \d")

    def test_ssh_checks_the_recorded_host_keys(self):
        h1, h2 = self.hosts["host1"], self.hosts["host2"]
        with tempfile.TemporaryDirectory() as tmp:
            known = pathlib.Path(tmp) / "known_hosts"

            def login(entry, *extra):
                known.write_text(f"[127.0.0.1]:{h1['port']} {entry}\n")
                opts = self.hosts.ssh_options("host1")
                opts[opts.index(f"UserKnownHostsFile={self.hosts.known_hosts}")] = f"UserKnownHostsFile={known}"
                return subprocess.run(["ssh", *opts, *extra, "root@127.0.0.1", "true"],
                                      stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)

            self.assertEqual(login(h1["hostKey"]).returncode, 0)
            rsa = login(h1["hostKeyRsa"], "-o", "HostKeyAlgorithms=rsa-sha2-512")
            self.assertEqual(rsa.returncode, 0, rsa.stderr)
            wrong = login(h2["hostKey"])
            self.assertEqual(wrong.returncode, 255)
            self.assertIn("REMOTE HOST IDENTIFICATION HAS CHANGED", wrong.stderr)

    def test_copy_closure_and_activate_a_minimal_system(self):
        system = nix_build(f"{system_expr('web', payloadFiles=2)}")
        failing = nix_build(f"{system_expr('web', version='2', payloadFiles=2, fail=True)}")
        env = nix_env()
        env["NIX_SSHOPTS"] = self.hosts.nix_sshopts("host1")
        for path in (system, failing):
            copy = subprocess.run(["nix-copy-closure", "--to", "root@127.0.0.1", path], env=env,
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
            self.assertEqual(copy.returncode, 0, copy.stderr)
        closure = subprocess.run(["nix-store", "-qR", system], capture_output=True, text=True, check=True).stdout.split()
        self.assertGreaterEqual(len(closure), 6)  # system, 2 packages, base, 2 payloads
        on_host = self.exec_ok("host1", "nix-store", "-qR", system).split()
        self.assertEqual(sorted(on_host), sorted(closure))
        self.assertEqual(self.hosts.exec("host2", "test", "-e", system).returncode, 1)

        switch = self.hosts.ssh("host1", f"{system}/bin/switch-to-configuration switch")
        self.assertEqual(switch.returncode, 0, switch.stderr)
        self.assertIn(f"done: switch {system}", switch.stdout)
        self.assertIn("fedi test system web", switch.stderr)
        log = self.exec_ok("host1", "cat", "/var/lib/fedi-test/activations.log").splitlines()
        self.assertRegex(log[-1], r"^\d{4}-\d\d-\d\dT[0-9:.]+Z switch " + system + "$")
        self.assertEqual(self.exec_ok("host1", "readlink", "/run/current-system").strip(), system)
        self.assertEqual(self.exec_ok("host1", "cat", "/var/lib/fedi-test/current-system").strip(), system)
        self.assertEqual(self.hosts.exec("host2", "test", "-e", "/var/lib/fedi-test/activations.log").returncode, 1)
        machine_log = pathlib.Path("/var/lib/fedi-test/activations.log")
        self.assertFalse(machine_log.exists() and system in machine_log.read_text())

        # Failure injected on the target, without rebuilding; it is used up once.
        self.exec_ok("host1", "sh", "-c", "echo disk full > /var/lib/fedi-test/fail-next-activation")
        failed = self.hosts.ssh("host1", f"{system}/bin/switch-to-configuration test")
        self.assertEqual(failed.returncode, 1)
        self.assertIn("fail-next-activation was set: disk full", failed.stderr)
        log = self.exec_ok("host1", "cat", "/var/lib/fedi-test/activations.log").splitlines()
        self.assertTrue(log[-1].endswith(f" test {system} FAILED"), log[-1])
        again = self.hosts.ssh("host1", f"{system}/bin/switch-to-configuration test")
        self.assertEqual(again.returncode, 0, again.stderr)

        # A system built with fail = true fails and leaves the current system alone.
        bad = self.hosts.ssh("host1", f"{failing}/bin/switch-to-configuration switch")
        self.assertEqual(bad.returncode, 1)
        self.assertIn("built with fail = true", bad.stderr)
        self.assertEqual(self.exec_ok("host1", "readlink", "/run/current-system").strip(), system)

    def test_sessions_can_be_dropped_and_sshd_restarted(self):
        long = subprocess.Popen(["ssh", *self.hosts.ssh_options("host3"), "root@127.0.0.1", "echo started; sleep 60"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            self.assertEqual(long.stdout.readline(), "started\n")
            self.hosts.kill_sessions("host3")
            self.assertEqual(long.wait(timeout=10), 255)
        finally:
            long.kill()
            long.communicate()
        self.assertEqual(self.hosts.ssh("host3", "true").returncode, 0)

        port = self.hosts["host3"]["port"]
        self.hosts.stop_sshd("host3")
        self.assertFalse(accepts(port))
        self.assertEqual(self.exec_ok("host3", "hostname").strip(), "host3")  # the host lives on
        self.hosts.start_sshd("host3")
        self.hosts.start_sshd("host3")  # already running: nothing to do
        proc = self.hosts.ssh("host3", "hostname")  # same port, same host key
        self.assertEqual((proc.returncode, proc.stdout), (0, "host3\n"), proc.stderr)


class LifecycleTest(unittest.TestCase):
    def test_start_adds_hosts_and_stop_stops_only_its_own(self):
        with TestHosts(1) as other, TestHosts(1) as mine:
            first = dict(mine["host1"])
            added = mine.start(2)
            self.assertEqual([h["name"] for h in added], ["host2", "host3"])
            self.assertEqual(mine["host1"], first)
            self.assertEqual(json.loads((mine.dir / "hosts.json").read_text()), mine.hosts)
            web = mine.start(1, prefix="web")
            self.assertEqual(web[0]["name"], "web1")
            pids = [p for h in mine.hosts for p in (h["pid"], h["initPid"])]
            self.assertTrue(all(alive(p) for p in pids))
            self.assertTrue(processes_mentioning(str(mine.dir)))

            subprocess.run([str(TESTHOSTS), "stop", "--dir", str(mine.dir)], check=True, timeout=60)
            self.assertFalse([p for p in pids if alive(p)])
            self.assertEqual(processes_mentioning(str(mine.dir) + "/"), [])
            self.assertFalse(any(accepts(h["port"]) for h in mine.hosts))
            # Stopping again is harmless.
            subprocess.run([str(TESTHOSTS), "stop", "--dir", str(mine.dir)], check=True, timeout=60)
            # The other directory's host runs on.
            proc = other.ssh("host1", "hostname")
            self.assertEqual((proc.returncode, proc.stdout), (0, "host1\n"), proc.stderr)
        # The directories (private stores included) could be removed.
        self.assertFalse(mine.dir.exists())
        self.assertFalse(other.dir.exists())

    def test_hosts_die_with_the_test_process(self):
        with tempfile.TemporaryDirectory() as tmp:
            child = subprocess.run(
                [sys.executable, "-c",
                 "import json, os, sys; from fedi_testlib import TestHosts\n"
                 "h = TestHosts(2, dir=sys.argv[1]); print(json.dumps(h.hosts), flush=True)\n"
                 "os.kill(os.getpid(), 9)", tmp],
                cwd=pathlib.Path(__file__).parent, capture_output=True, text=True, timeout=120)
            self.assertEqual(child.returncode, -9, child.stderr)
            hosts = json.loads(child.stdout)
            self.assertEqual(len(hosts), 2)
            pids = [p for h in hosts for p in (h["pid"], h["initPid"])]
            self.assertTrue(wait_until(lambda: not any(alive(p) for p in pids)), "hosts outlived their test")
            self.assertEqual(processes_mentioning(tmp + "/"), [])

    def test_a_failed_start_cleans_up(self):
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ, TESTHOSTS_SSHD="/bin/false")
            proc = subprocess.run([str(TESTHOSTS), "start", "--dir", tmp, "--count", "2"], env=env,
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
            self.assertEqual(proc.returncode, 1)
            self.assertIn("sshd refused to start", proc.stderr)
            self.assertEqual(proc.stdout, "")
            self.assertEqual(processes_mentioning(tmp + "/"), [])
            self.assertFalse(pathlib.Path(tmp, "host1").exists())
            self.assertEqual(json.loads(pathlib.Path(tmp, "hosts.json").read_text()), [])

    def test_a_port_taken_meanwhile_is_replaced(self):
        with tempfile.TemporaryDirectory() as tmp, socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            env = dict(os.environ, TESTHOSTS_TRY_PORT=str(port))
            proc = subprocess.run([str(TESTHOSTS), "start", "--dir", tmp, "--count", "1"], env=env,
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
            try:
                self.assertEqual(proc.returncode, 0, proc.stderr)
                self.assertIn(f"Bind to port {port} on 127.0.0.1 failed", proc.stderr)
                host = json.loads(proc.stdout)[0]
                self.assertNotEqual(host["port"], port)
                self.assertTrue(accepts(host["port"]))
            finally:
                subprocess.run([str(TESTHOSTS), "stop", "--dir", tmp], check=True, timeout=60)

    def test_usage_errors(self):
        for args in (["start"], ["start", "--dir", "/tmp/x", "--count", "0"],
                     ["start", "--dir", "/tmp/x", "--count", "1", "--prefix", "Bad_Name"], ["frobnicate"]):
            proc = subprocess.run([str(TESTHOSTS), *args], capture_output=True, text=True, timeout=30)
            self.assertEqual(proc.returncode, 2, args)
            self.assertIn("usage:", proc.stderr)


class RenderingTest(unittest.TestCase):
    def test_to_nix_escapes_and_parenthesizes(self):
        self.assertEqual(to_nix('a "b" ${c} \\ \n'), '"a \\"b\\" \\${c} \\\\ \\n"')
        self.assertEqual(to_nix([1, -2, True, None, "x"]), '[ 1 (-2) true null "x" ]')
        self.assertEqual(to_nix({"a.b": 1, "ok-name": [], "in": {}}),
                         '{\n  "a.b" = 1;\n  ok-name = [ ];\n  "in" = { };\n}')

    def test_rendered_deployment_evaluates_with_nix(self):
        hosts = [{"name": "web", "host": "127.0.0.1", "port": 2222, "user": "root",
                  "hostKey": "ssh-ed25519 AAAAexample"},
                 {"name": "db", "host": "127.0.0.1", "port": 2223, "user": "root",
                  "hostKey": "ssh-ed25519 AAAAother"}]
        machines = {h["name"]: machine(h, "/keys/id", tags=[h["name"]]) for h in hosts}
        machines["db"]["system"] = system_expr("db", message='say "hi" ${x}', payloadFiles=1)
        machines["web"]["after"] = ["db"]
        text = render_deployment(machines, extra={"providers": {"local": {"type": "container"}}}, function=True)
        expr = (f"let d = ({text}) {{ resources = {{ }}; }}; in "
                "builtins.mapAttrs (n: m: m // { system = m.system.drvPath; }) d.machines")
        proc = subprocess.run(["nix-instantiate", "--eval", "--strict", "--json", "-E", expr], env=nix_env(),
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        got = json.loads(proc.stdout)
        self.assertEqual(got["web"]["ssh"], {"host": "127.0.0.1", "port": 2222, "user": "root",
                                             "hostKey": "ssh-ed25519 AAAAexample", "identityFile": "/keys/id"})
        self.assertEqual((got["web"]["tags"], got["web"]["after"]), (["web"], ["db"]))
        self.assertRegex(got["db"]["system"], r"^/nix/store/[a-z0-9]{32}-nixos-system-db-1\.drv$")
        self.assertRegex(got["web"]["system"], r"-nixos-system-web-1\.drv$")
        self.assertTrue(str(nix_path(MINIMAL_SYSTEM)).endswith("resources/minimal-system.nix"))


class MinimalSystemTest(unittest.TestCase):
    def closure(self, **args):
        path = nix_build(str(system_expr("web", **args)))
        refs = subprocess.run(["nix-store", "-qR", path], capture_output=True, text=True, check=True)
        return path, set(refs.stdout.split())

    def test_systems_share_paths_and_add_new_ones(self):
        small, small_closure = self.closure(payloadFiles=2)
        big, big_closure = self.closure(payloadFiles=4, version="2")
        again, _ = self.closure(payloadFiles=2)
        self.assertEqual(again, small)  # deterministic
        self.assertNotEqual(small, big)
        shared = small_closure & big_closure
        self.assertEqual(len(shared), len(small_closure) - 1)  # all but the system itself
        self.assertEqual(len(big_closure - small_closure), 3)  # new system and payloads 2, 3
        self.assertEqual(pathlib.Path(big, "nixos-version").read_text(), "2\n")
        self.assertEqual(pathlib.Path(big, "etc/hostname").read_text(), "web\n")
        payload = pathlib.Path(big, "payload/3").resolve().read_text()
        self.assertEqual(len(payload), 4096)
        self.assertTrue(payload.startswith("fedi test payload 3\n"))
        hello = subprocess.run([f"{small}/sw/bin/hello"], capture_output=True, text=True, check=True)
        self.assertEqual(hello.stdout, "fedi test base library 1.0\nhello 1.0\n")

    def test_unknown_goal_is_refused(self):
        path, _ = self.closure()
        proc = subprocess.run([f"{path}/bin/switch-to-configuration", "reboot"], capture_output=True, text=True)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("usage:", proc.stderr)


if __name__ == "__main__":
    unittest.main()
