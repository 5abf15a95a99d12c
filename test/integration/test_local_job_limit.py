"""Local work is bounded however many machines a deploy has: 100 machines with 100
distinct systems, pushed to two test hosts by a fedi limited to 64 open files (one local
closure query per system used to start at once and fail with "Too many open files"), and
1000 machines on four test hosts with `ulimit -n 1024`."""

import json
import os
import resource
import shutil
import subprocess
import tempfile
import time
import unittest

import fedi_testlib as lib


def low_limit(n):
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))


class LocalJobLimit(unittest.TestCase):
    def push(self, machines, systems, hosts_count, open_files):
        d = tempfile.mkdtemp(prefix="fedi-jobs-")
        self.addCleanup(shutil.rmtree, d, True)
        hosts = lib.TestHosts(hosts_count, prefix="j")
        self.addCleanup(hosts.stop)
        env = lib.nix_env()
        env["HOME"] = d
        env.pop("SSH_AUTH_SOCK", None)
        nonce = time.time_ns()
        spec = {
            f"m{i}": lib.machine(hosts.hosts[i % hosts_count], identity_file=hosts.identity_file(),
                                 system=lib.system_expr(f"s{i % systems}", message=f"s{i % systems} {nonce}"))
            for i in range(machines)}
        lib.write_file(os.path.join(d, "deployment.nix"), lib.render_deployment(spec))
        # Build first (unlimited): the limit is for the deploy's own local work.
        r = lib.run_fedi(["--json", "deploy", "--goal", "build"], cwd=d, env=env)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        start = time.time()
        r = subprocess.run([os.environ["FEDI_BIN"], "--json", "deploy", "--goal", "push"], cwd=d, env=env,
                           capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL,
                           preexec_fn=low_limit(open_files))
        elapsed = time.time() - start
        self.assertFalse("Too many open files" in r.stderr, r.stderr[-2000:])
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        results = {m["name"]: m["result"] for m in json.loads(r.stdout)["machines"]}
        self.assertEqual(len(results), machines)
        self.assertEqual(set(results.values()), {"pushed"}, results)
        print(f"\n{machines} machines ({systems} systems) pushed with {open_files} open files "
              f"in {elapsed:.1f}s", flush=True)

    def test_100_systems_with_64_open_files(self):
        self.push(machines=100, systems=100, hosts_count=2, open_files=64)

    def test_1000_machines_with_1024_open_files(self):
        self.push(machines=1000, systems=10, hosts_count=4, open_files=1024)


if __name__ == "__main__":
    unittest.main()
