"""A deploy to 30 test hosts at once: every machine converges, and a re-run sends nothing."""
import json
import os
import shutil
import tempfile
import time
import unittest

import fedi_testlib as lib

COUNT = 30


class ThirtyHostsTest(unittest.TestCase):
    def test_thirty_hosts(self):
        d = tempfile.mkdtemp(prefix="fedi-fleet30-")
        self.addCleanup(shutil.rmtree, d, True)
        hosts = lib.TestHosts(COUNT, prefix="n")
        self.addCleanup(hosts.stop)
        env = lib.nix_env()
        env["HOME"] = d
        env.pop("SSH_AUTH_SOCK", None)
        nonce = time.time_ns()
        # One shared payload (the bulk of the bytes) and a small system per machine.
        machines = {
            h["name"]: lib.machine(h, identity_file=hosts.identity_file(),
                                   system=lib.system_expr(h["name"], message=f"{h['name']} {nonce}",
                                                          payloadFiles=20),
                                   tags=["fleet"])
            for h in hosts.hosts}
        lib.write_file(os.path.join(d, "deployment.nix"), lib.render_deployment(machines))
        start = time.time()
        r = lib.run_fedi(["--json", "deploy", "--on", "@fleet"], cwd=d, env=env)
        elapsed = time.time() - start
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        res = {m["name"]: m for m in json.loads(r.stdout)["machines"]}
        self.assertEqual(len(res), COUNT)
        self.assertEqual({m["result"] for m in res.values()}, {"deployed"})
        for h in hosts.hosts:
            got = hosts.exec(h["name"], "readlink", "-e", "/nix/var/nix/profiles/system").stdout.strip()
            self.assertEqual(got, res[h["name"]]["system"])
        print(f"\n30 hosts deployed in {elapsed:.1f}s", flush=True)
        r = lib.run_fedi(["--json", "deploy"], cwd=d, env=env)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        again = json.loads(r.stdout)["machines"]
        self.assertEqual(sum(m["pathsSent"] for m in again), 0)
        self.assertEqual({m["result"] for m in again}, {"unchanged"})


if __name__ == "__main__":
    unittest.main()
