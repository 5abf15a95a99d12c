"""Provisioning on Proxmox VE, end to end: fedi against the Proxmox API test server
(built from the official schema), whose started VMs are real container test hosts, so
that `fedi deploy` provisions VMs and then deploys to them over SSH.

The tests of one class share a server; those numbered test_NN run in order and build
on each other (a first deploy, a re-run, a change, destroy)."""

import json
import os
import pathlib
import pty
import shutil
import subprocess
import tempfile
import unittest

from fedi_testlib import (KEEP_DIRS, MINIMAL_SYSTEM, Nix, TestHosts, isolated_env, machine, nix_path,
                          render_deployment, run_fedi, system_expr, write_file)
from pve_fixture import VM_SSH_PORT, PveWithGuests


def mutating(requests):
    return [r for r in requests if r["method"] != "GET"]


class ProvisionTestBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = pathlib.Path(tempfile.mkdtemp(prefix="fedi-prov-test-"))
        cls.pve = PveWithGuests()
        cls.home = cls.tmp / "home"
        cls.home.mkdir()
        cls.env = isolated_env(cls.home)
        cls.key = cls.tmp / "id_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "fedi-test", "-f", str(cls.key)],
                       check=True)
        cls.pubkey = (cls.tmp / "id_ed25519.pub").read_text().strip()

    @classmethod
    def tearDownClass(cls):
        errors = cls.pve.close()
        if not KEEP_DIRS:
            shutil.rmtree(cls.tmp, ignore_errors=True)
        if errors:
            raise AssertionError("Proxmox test server stderr:\n" + errors)

    def pve_machine(self, name, system=None, **provision):
        value = {"provider": "pve", "template": 9000, "sshKeys": [self.pubkey]}
        value.update(provision)
        return {
            "provision": value,
            "ssh": {"port": VM_SSH_PORT, "identityFile": str(self.key)},
            "system": system if system is not None else system_expr(name),
        }

    def write_deployment(self, directory, machines, provider=None, function=False):
        directory = pathlib.Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        text = render_deployment(machines, {"providers": {"pve": provider or self.pve.provider()}},
                                 function=function)
        write_file(directory / "deployment.nix", text)
        return directory

    def fedi(self, directory, *args, input=None):
        return run_fedi(args, cwd=directory, env=self.env, input=input)

    def state(self, directory):
        return json.loads((pathlib.Path(directory) / ".fedi" / "state.json").read_text())


class DeployAndConverge(ProvisionTestBase):
    """Two Proxmox machines and one existing machine in one deployment."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.hosts = TestHosts(1, prefix="old")
        cls.dir = cls.tmp / "fleet"

    @classmethod
    def tearDownClass(cls):
        cls.hosts.stop()
        super().tearDownClass()

    def deployment(self, memory=2048, protect_a=False):
        # The existing machine's system shows pve-a's address, which it only learns from
        # resources after pve-a is provisioned.
        peer = Nix('(resources.machines."pve-a" or { host = "unknown"; }).host')
        old = machine(self.hosts["old1"], self.hosts.identity_file(),
                      system=Nix(f'import {nix_path(MINIMAL_SYSTEM)} '
                                 f'{{ name = "old"; message = "peer at ${{{peer}}}"; }}'))
        machines = {
            "pve-a": self.pve_machine("pve-a", cores=2, memory=memory, storage="linstor", shared=True,
                                      disks=[{"size": "10G", "mount": "/var/lib/data"}]),
            "pve-b": self.pve_machine("pve-b", full=False, memory=1024),
            "old": old,
        }
        if protect_a:
            machines["pve-a"]["protect"] = True
        return self.write_deployment(self.dir, machines, function=True)

    def test_01_deploy_provisions_and_deploys_all(self):
        self.deployment()
        r = self.fedi(self.dir, "--json", "deploy")
        self.assertEqual(r.returncode, 0, r.stderr)
        report = {m["name"]: m for m in json.loads(r.stdout)["machines"]}
        self.assertEqual({n: m["result"] for n, m in report.items()},
                         {"pve-a": "deployed", "pve-b": "deployed", "old": "deployed"})
        provisioned = self.state(self.dir)["provisioned"]
        self.assertEqual(sorted(provisioned), ["pve-a", "pve-b"])
        vms = self.pve.vms()
        for name in ("pve-a", "pve-b"):
            rec = provisioned[name]
            vmid = int(rec["id"])
            self.assertEqual(vms[vmid]["config"]["name"], name)
            self.assertEqual(len(self.pve.vms_named(name)), 1)
            # The system really runs inside the VM's guest, reached over SSH at the
            # address the guest agent reported.
            out = self.pve.guest_exec(vmid, "cat", "/run/current-system/etc/fedi-test/message")
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn(f"fedi test system {name}", out.stdout)
            self.assertTrue(rec["outputs"]["host"].startswith("127."))
            self.assertNotEqual(rec["outputs"]["host"], "127.0.0.1")
            self.assertEqual(rec["outputs"]["port"], VM_SSH_PORT)
            # The host key learnt through the guest agent is the guest's real key.
            guest = json.loads((self.pve.hook_dir / f"vm-{vmid}" / "hosts.json").read_text())[0]
            self.assertEqual(rec["outputs"]["hostKey"], guest["hostKey"])
        a = vms[int(provisioned["pve-a"]["id"])]["config"]
        self.assertEqual(str(a["memory"]), "2048")
        self.assertEqual(str(a["cores"]), "2")
        self.assertIn("serial=fedi-data1", a["virtio1"])
        self.assertIn("size=10G", a["virtio1"])
        self.assertTrue(a["virtio1"].startswith("linstor:"))
        self.assertEqual(provisioned["pve-a"]["outputs"]["disks"][0]["device"], "/dev/disk/by-id/virtio-fedi-data1")
        # The existing machine's system was evaluated with pve-a's address.
        msg = self.hosts.exec("old1", "cat", "/run/current-system/etc/fedi-test/message")
        self.assertEqual(msg.stdout.strip(), f"peer at {provisioned['pve-a']['outputs']['host']}")

    def test_02_rerun_changes_nothing(self):
        self.deployment()
        before = len(self.pve.requests())
        vms_before = sorted(self.pve.vms())
        r = self.fedi(self.dir, "--json", "deploy")
        self.assertEqual(r.returncode, 0, r.stderr)
        results = {m["name"]: m["result"] for m in json.loads(r.stdout)["machines"]}
        self.assertEqual(results, {"pve-a": "unchanged", "pve-b": "unchanged", "old": "unchanged"})
        self.assertEqual(mutating(self.pve.requests(before)), [])
        self.assertEqual(sorted(self.pve.vms()), vms_before)

    def test_03_memory_change_applied_in_place(self):
        self.deployment(memory=4096)
        vmid = int(self.state(self.dir)["provisioned"]["pve-a"]["id"])
        r = self.fedi(self.dir, "--json", "provision")
        self.assertEqual(r.returncode, 0, r.stderr)
        report = {m["name"]: m for m in json.loads(r.stdout)["machines"]}
        self.assertEqual(report["pve-a"]["result"], "changed")
        self.assertEqual([c["what"] for c in report["pve-a"]["changes"]], ["memory"])
        self.assertEqual(report["pve-b"]["result"], "unchanged")
        self.assertEqual(report["old"]["result"], "existing")
        self.assertEqual(int(report["pve-a"]["id"]), vmid)
        self.assertEqual(str(self.pve.vms()[vmid]["config"]["memory"]), "4096")
        self.assertEqual(len(self.pve.vms_named("pve-a")), 1)

    def test_04_destroy_asks_respects_protect_and_forgets(self):
        self.deployment(memory=4096, protect_a=True)
        state = self.state(self.dir)
        vmid_a = int(state["provisioned"]["pve-a"]["id"])
        vmid_b = int(state["provisioned"]["pve-b"]["id"])
        # Not a terminal and no --yes: refused, nothing removed.
        r = self.fedi(self.dir, "provision", "--destroy", "pve-b")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--yes", r.stderr)
        self.assertIn(vmid_b, self.pve.vms())
        # On a terminal, a wrong answer keeps it.
        self.assertNotEqual(self.fedi_tty(["provision", "--destroy", "pve-b"], "no\n")[0], 0)
        self.assertIn(vmid_b, self.pve.vms())
        # Protected: refused even with --yes.
        r = self.fedi(self.dir, "--yes", "provision", "--destroy", "pve-a")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("protect", r.stderr)
        self.assertIn(vmid_a, self.pve.vms())
        # Typing the name on the terminal destroys it and its state entry.
        rc, out = self.fedi_tty(["provision", "--destroy", "pve-b"], "pve-b\n")
        self.assertEqual(rc, 0, out)
        self.assertIn("Type the machine's name", out)
        self.assertNotIn(vmid_b, self.pve.vms())
        self.assertFalse((self.pve.hook_dir / f"vm-{vmid_b}").exists())
        state = self.state(self.dir)
        self.assertNotIn("pve-b", state["provisioned"])
        self.assertNotIn("pve-b", state["machines"])
        self.assertIn("pve-a", state["provisioned"])

    def fedi_tty(self, args, answer):
        """Run fedi with a terminal as stdin; returns (exit code, stderr+stdout)."""
        master, slave = pty.openpty()
        try:
            os.write(master, answer.encode())
            proc = subprocess.run([os.environ["FEDI_BIN"], *args], cwd=self.dir, env=self.env, stdin=slave,
                                  capture_output=True, text=True, timeout=300)
        finally:
            os.close(slave)
            os.close(master)
        return proc.returncode, proc.stderr + proc.stdout


class FaultsAndRefusals(ProvisionTestBase):
    def test_lock_timeouts_and_id_race_end_in_the_right_vms(self):
        d = self.write_deployment(self.tmp / "faults", {
            "race-c": self.pve_machine("race-c", memory=1024),
            "race-d": self.pve_machine("race-d", memory=1024),
        })
        self.pve.inject({"kind": "lock-timeout", "op": "clone", "count": 2})
        self.pve.inject({"kind": "lock-timeout", "op": "config", "count": 1})
        self.pve.inject({"kind": "lock-timeout", "op": "start", "count": 1})
        self.pve.inject({"kind": "id-race", "count": 1, "stage": "task"})
        self.pve.inject({"kind": "id-race", "count": 1, "stage": "request"})
        r = self.fedi(d, "--json", "provision")
        self.pve.clear_faults()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("got timeout", r.stderr)  # the retries were reported
        self.assertEqual(self.pve.state()["faults"], [])  # every fault was hit
        state = self.state(d)
        vms = self.pve.vms()
        for name in ("race-c", "race-d"):
            named = self.pve.vms_named(name)
            self.assertEqual(len(named), 1, f"{name}: {named}")
            self.assertEqual(int(state["provisioned"][name]["id"]), int(named[0]["vmid"]))
            self.assertTrue(vms[int(named[0]["vmid"])]["running"])
        self.assertTrue([vm for vm in vms.values() if vm["config"].get("name", "").startswith("other-creator")])

    def test_failed_task_reported_with_log_then_rerun_completes(self):
        d = self.write_deployment(self.tmp / "taskfail", {"tf-e": self.pve_machine("tf-e")})
        self.pve.inject({"kind": "task-fail", "op": "start", "count": 1,
                         "message": "kvm: cannot allocate memory for VM"})
        r = self.fedi(d, "provision")
        self.pve.clear_faults()
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("kvm: cannot allocate memory for VM", r.stderr)
        self.assertIn("task log", r.stderr)
        self.assertIn("TASK ERROR", r.stderr)
        # The clone was recorded before the start failed: a rerun finishes that VM.
        vmid = int(self.state(d)["provisioned"]["tf-e"]["id"])
        r = self.fedi(d, "--json", "provision")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(int(json.loads(r.stdout)["machines"][0]["id"]), vmid)
        self.assertEqual(len(self.pve.vms_named("tf-e")), 1)

    def test_unshared_storage_refused_before_anything_is_created(self):
        d = self.write_deployment(self.tmp / "unshared", {
            "us-f": self.pve_machine("us-f", storage="local-lvm", shared=True)})
        before = len(self.pve.requests())
        r = self.fedi(d, "provision")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("storage 'local-lvm' on node pve1 is not shared", r.stderr)
        self.assertEqual(mutating(self.pve.requests(before)), [])
        self.assertEqual(self.pve.vms_named("us-f"), [])

    def test_dry_run_creates_nothing(self):
        d = self.write_deployment(self.tmp / "dryrun", {"dry-h": self.pve_machine("dry-h")})
        before = len(self.pve.requests())
        r = self.fedi(d, "--json", "deploy", "--dry-run")
        self.assertEqual(r.returncode, 0, r.stderr)
        # The plan (`fedi plan`'s document): the machine would be created.
        self.assertEqual(json.loads(r.stdout)["machines"][0]["provision"]["action"], "create")
        self.assertEqual(mutating(self.pve.requests(before)), [])
        self.assertEqual(self.pve.vms_named("dry-h"), [])

    def test_wrong_token_is_a_clear_authentication_error(self):
        bad = write_file(self.tmp / "bad-token", "root@pam!fedi=00000000-0000-0000-0000-000000000000\n", 0o600)
        d = self.write_deployment(self.tmp / "badtoken", {"bt-g": self.pve_machine("bt-g")},
                                  provider=self.pve.provider(tokenFile=str(bad)))
        r = self.fedi(d, "provision")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("rejected the API token root@pam!fedi", r.stderr)
        self.assertIn("invalid token value", r.stderr)
        self.assertIn(str(bad), r.stderr)
        self.assertNotIn("00000000-0000", r.stderr)
        self.assertEqual(self.pve.vms_named("bt-g"), [])


if __name__ == "__main__":
    unittest.main()
