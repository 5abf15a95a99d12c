"""resources/data-disks.nix: the NixOS module that mounts the data disks fedi attached.
Evaluated with Nix against a minimal stand-in for nixpkgs' lib (mkOption and types are
all it uses), so no nixpkgs is needed: the test checks the fileSystems it declares."""

import json
import subprocess
import unittest

from fedi_testlib import SOURCE_DIR, nix_env, nix_path

MODULE = SOURCE_DIR / "resources" / "data-disks.nix"


def file_systems(disks_nix):
    expr = f"""
      let
        lib = {{ mkOption = o: o; types = {{ listOf = t: t; attrsOf = t: t; anything = null; }}; }};
        module = import {nix_path(MODULE)} {{ inherit lib; config.fedi.dataDisks = {disks_nix}; }};
      in {{ inherit (module.config) fileSystems; hasOption = module.options ? fedi; }}
    """
    proc = subprocess.run(["nix-instantiate", "--eval", "--strict", "--json", "-E", expr],
                          capture_output=True, text=True, env=nix_env(), timeout=60)
    return proc


class DataDisksModule(unittest.TestCase):
    def test_disks_by_serial_label_and_device(self):
        proc = file_systems("""[
          { name = "data1"; serial = "fedi-data1"; mount = "/var/lib/garage"; fsType = "xfs"; }
          { label = "media"; mount = "/srv/media"; }
          { device = "/dev/vdc"; mount = "/srv/other"; }
          { serial = "fedi-spare"; }
        ]""")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        out = json.loads(proc.stdout)
        self.assertTrue(out["hasOption"])
        fs = out["fileSystems"]
        self.assertEqual(sorted(fs), ["/srv/media", "/srv/other", "/var/lib/garage"])
        self.assertEqual(fs["/var/lib/garage"]["device"], "/dev/disk/by-id/virtio-fedi-data1")
        self.assertEqual(fs["/var/lib/garage"]["fsType"], "xfs")
        self.assertTrue(fs["/var/lib/garage"]["autoFormat"])
        self.assertEqual(fs["/srv/media"]["device"], "/dev/disk/by-label/media")
        self.assertEqual(fs["/srv/media"]["fsType"], "ext4")
        self.assertEqual(fs["/srv/other"]["device"], "/dev/vdc")

    def test_a_disk_that_cannot_be_found_is_an_error(self):
        proc = file_systems('[ { mount = "/data"; } ]')
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("the disk for /data has no label, device or serial", proc.stderr)


if __name__ == "__main__":
    unittest.main()
