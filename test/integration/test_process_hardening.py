"""fedi keeps secrets out of core dumps: it sets its core size limit to 0 (and makes itself
non-dumpable) before it does anything else. Resource limits are inherited across exec, so
the first program fedi starts (nix, for the evaluation) shows fedi's own limit; a stand-in
`nix` early on PATH records it. (The non-dumpable flag itself resets at exec; the unit
test test_secret_memory.cpp checks it.)
"""

import os
import resource
import shutil
import subprocess
import tempfile
import unittest

import fedi_testlib as lib


class CoreDumps(unittest.TestCase):
    def test_children_inherit_a_zero_core_limit(self):
        d = tempfile.mkdtemp(prefix="fedi-hardening-")
        self.addCleanup(shutil.rmtree, d, True)
        record = os.path.join(d, "core-limit")
        fake = os.path.join(d, "bin", "nix")
        os.makedirs(os.path.dirname(fake))
        lib.write_file(fake, f"#!/bin/sh\nulimit -c > {record}\nulimit -Hc >> {record}\nexit 1\n")
        os.chmod(fake, 0o755)
        lib.write_file(os.path.join(d, "deployment.nix"), "{ }\n")
        env = lib.nix_env()
        env["PATH"] = os.path.dirname(fake) + ":" + env["PATH"]

        def start_with_core_limit():
            resource.setrlimit(resource.RLIMIT_CORE,
                               (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

        r = subprocess.run([os.environ["FEDI_BIN"], "eval"], cwd=d, env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=60, preexec_fn=start_with_core_limit)
        self.assertNotEqual(r.returncode, 0)  # the stand-in nix fails the evaluation
        with open(record) as f:
            self.assertEqual(f.read().split(), ["0", "0"])


if __name__ == "__main__":
    unittest.main()
