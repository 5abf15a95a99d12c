"""Local work is bounded however many machines a deploy has: 100 machines with 100
distinct systems, pushed to two test hosts by a fedi limited to 64 open files (one local
closure query per system used to start at once and fail with "Too many open files")."""

import json
import os
import resource
import subprocess
import shutil
import tempfile
import time
import unittest

import fedi_testlib as lib

MACHINES = 100
OPEN_FILES = 64


class LocalJobLimit(unittest.TestCase):
    def test_many_systems_with_few_file_descriptors(self):
        d = tempfile.mkdtemp(prefix="fedi-jobs-")
        self.addCleanup(shutil.rmtree, d, True)
        hosts = lib.TestHosts(2, prefix="j")
        self.addCleanup(hosts.stop)
        env = lib.nix_env()
        env["HOME"] = d
        env.pop("SSH_AUTH_SOCK", None)
        nonce = time.time_ns()
        machines = {
            f"m{i}": lib.machine(hosts.hosts[i % 2], identity_file=hosts.identity_file(),
                                 system=lib.system_expr(f"m{i}", message=f"m{i} {nonce}"))
            for i in range(MACHINES)}
        lib.write_file(os.path.join(d, "deployment.nix"), lib.render_deployment(machines))
        # Build first (unlimited): the limit is for the deploy's own local work.
        r = lib.run_fedi(["--json", "deploy", "--goal", "build"], cwd=d, env=env)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])

        def low_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, OPEN_FILES))

        start = time.time()
        r = subprocess.run([os.environ["FEDI_BIN"], "--json", "deploy", "--goal", "push"], cwd=d, env=env,
                               capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
                               preexec_fn=low_limit)
        elapsed = time.time() - start
        self.assertFalse("Too many open files" in r.stderr, r.stderr[-2000:])
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        results = {m["name"]: m["result"] for m in json.loads(r.stdout)["machines"]}
        self.assertEqual(len(results), MACHINES)
        self.assertEqual(set(results.values()), {"pushed"}, results)
        print(f"\n{MACHINES} systems pushed with {OPEN_FILES} open files in {elapsed:.1f}s", flush=True)


if __name__ == "__main__":
    unittest.main()
