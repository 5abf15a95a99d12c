"""`fedi plan`: the provisioning part, against the Proxmox API test server (whose started
VMs are real container test hosts). Each test reads machines[i].provision, destroyed and
observed from `fedi plan --json` and checks that planning changed nothing on the server.

The exit code is not asserted: until every part of the plan exists, the other parts may
add errors to the plan (tests of the plan as a whole are elsewhere).
"""

import ssl
import urllib.parse
import urllib.request

from test_plan_resources import changes, plan_of
from test_provision_pve import ProvisionTestBase


class ProvisioningPlan(ProvisionTestBase):
    """Two Proxmox machines: planned before they exist, changed, one made unchangeable in
    place, one removed. Numbered tests build on each other."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dir = cls.tmp / "fleet"

    def deployment(self, a=None, b=None, with_b=True):
        machines = {"pve-a": self.pve_machine("pve-a", **(a or {"cores": 2, "memory": 2048}))}
        if with_b:
            machines["pve-b"] = self.pve_machine("pve-b", **(b or {"memory": 1024}))
        self.write_deployment(self.dir, machines, function=True)

    def plan(self):
        """The plan, and that the Proxmox server saw no change while it was made."""
        before = len(self.pve.requests())
        vms = {vmid: vm["config"] for vmid, vm in self.pve.vms().items()}
        doc = plan_of(self, self.dir, self.env)
        self.assertEqual([r for r in self.pve.requests(before) if r["method"] != "GET"], [])
        self.assertEqual({vmid: vm["config"] for vmid, vm in self.pve.vms().items()}, vms)
        return doc, {m["name"]: m["provision"] for m in doc["machines"]}

    def test_01_machines_to_create(self):
        self.deployment()
        doc, prov = self.plan()
        self.assertEqual(self.pve.vms_named("pve-a"), [])
        for name in ("pve-a", "pve-b"):
            self.assertEqual(prov[name]["action"], "create", prov[name])
            self.assertEqual((prov[name]["provider"], prov[name]["type"]), ("pve", "proxmox"))
        self.assertEqual(changes(prov["pve-a"])["memory"], ("", "2048"))
        self.assertEqual(changes(prov["pve-a"])["cores"], ("", "2"))
        self.assertEqual(changes(prov["pve-b"])["memory"], ("", "1024"))
        self.assertEqual(doc["destroyed"], [])
        self.assertIn("vm.pve-a", doc["observed"])

    def test_02_memory_and_cores_change_in_place(self):
        self.deployment()
        r = self.fedi(self.dir, "--json", "provision")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        doc, prov = self.plan()
        self.assertEqual(prov["pve-a"]["action"], "none", prov["pve-a"])
        unchanged = doc["observed"]["vm.pve-a"]
        vmid = int(prov["pve-a"]["id"])
        self.assertEqual(str(self.pve.vms()[vmid]["config"]["memory"]), "2048")

        self.deployment(a={"cores": 4, "memory": 4096})
        doc, prov = self.plan()
        self.assertEqual(prov["pve-a"]["action"], "update", prov["pve-a"])
        self.assertEqual(changes(prov["pve-a"]), {"memory": ("2048 MiB", "4096 MiB"), "cores": ("2", "4")})
        self.assertEqual(prov["pve-a"]["id"], str(vmid))
        self.assertEqual(prov["pve-b"]["action"], "none", prov["pve-b"])
        self.assertNotEqual(doc["observed"]["vm.pve-a"], unchanged)

    def test_03_a_vm_changed_behind_the_plan_is_noticed(self):
        self.deployment()
        doc, prov = self.plan()
        vmid = int(prov["pve-a"]["id"])
        seen = doc["observed"]["vm.pve-a"]
        self.assertEqual(doc["observed"]["vm.pve-a"], self.plan()[0]["observed"]["vm.pve-a"])
        # Someone changes the VM's memory through the API.
        self.pve_put_config(vmid, {"memory": "3072"})
        doc, prov = self.plan()
        self.assertEqual(changes(prov["pve-a"]), {"memory": ("3072 MiB", "2048 MiB")})
        self.assertNotEqual(doc["observed"]["vm.pve-a"], seen)
        self.pve_put_config(vmid, {"memory": "2048"})

    def pve_put_config(self, vmid, values):
        body = urllib.parse.urlencode(values).encode()
        req = urllib.request.Request(f"{self.pve.url}/api2/json/nodes/pve1/qemu/{vmid}/config",
                                     data=body, method="PUT",
                                     headers={"Authorization": f"PVEAPIToken={self.pve.token}"})
        ctx = ssl.create_default_context(cafile=self.pve.ca_file)
        with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
            r.read()

    def test_04_fixed_field_needs_replace(self):
        self.deployment(b={"memory": 1024, "template": 9001, "full": False})
        doc, prov = self.plan()
        b = prov["pve-b"]
        self.assertEqual(b["action"], "replace", b)
        fixed = {c["what"]: (c["from"], c["to"]) for c in b["fixed"]}
        self.assertEqual(fixed["template"], ("9000", "9001"))
        self.assertEqual(fixed["clone"], ("full", "linked"))
        self.assertIn("template", b["why"])
        self.assertIn("cannot change in place", b["why"])
        self.assertIn("fedi provision --destroy pve-b", b["why"])

    def test_05_machine_left_the_deployment_is_destroyed(self):
        self.deployment(with_b=False)
        vms = sorted(self.pve.vms())
        doc, prov = self.plan()
        self.assertEqual(doc["destroyed"], ["pve-b"])
        self.assertEqual(sorted(prov), ["pve-a"])
        self.assertEqual(sorted(self.pve.vms()), vms)
