"""Tests of the Proxmox VE API test server (test/servers/proxmox).

Proxmox VE cannot run here, so fedi's Proxmox client is tested against a test
double built from the official API schema (test/data/proxmox, from
pve-docs). These tests check the double itself: it rejects what the schema
rejects, accepts valid calls, and answers as real Proxmox does for clones,
worker tasks, lock timeouts, VMID races, authentication and TLS.
"""

import base64
import hashlib
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("FEDI_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
SERVER = os.path.join(SOURCE, "test", "servers", "proxmox", "pve_test_server.py")
TOKEN = f"root@pam!fedi={uuid.uuid4()}"
UPID_RE = r"^UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8,9}:[0-9A-F]{8}:(\w+):(\d+):root@pam!fedi:$"

HOOK = r'''#!/usr/bin/env python3
import json, os, sys
here = os.path.dirname(os.path.abspath(__file__))
if sys.argv[1] == "start":
    with open(os.path.join(here, "start-%s.json" % sys.argv[2]), "w") as f:
        json.dump({"name": sys.argv[3], "config": json.load(sys.stdin)}, f)
    print(json.dumps({"ip": "127.0.0.1", "port": 2222, "hostKeys": [%HOSTKEY%]}))
else:
    with open(os.path.join(here, "stop-%s" % sys.argv[2]), "a") as f:
        f.write("stop\n")
'''


def host_key():
    blob = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + hashlib.sha256(b"hook").digest()
    return "ssh-ed25519 " + base64.b64encode(blob).decode() + " root@hooked"


class PveServer:
    """One server process with its own state directory."""

    def __init__(self, *extra):
        self.dir = tempfile.mkdtemp(prefix="pve-test-")
        self.stderr = open(os.path.join(self.dir, "server.err"), "w+")
        self.proc = subprocess.Popen(
            [sys.executable, SERVER, "--port", "0", "--state-dir", self.dir, "--token", TOKEN,
             "--task-delay", "0.1", *extra],
            stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(10)
            self.stderr.seek(0)
            raise RuntimeError("server did not start: " + self.stderr.read())
        self.info = json.loads(line)
        self.ctx = ssl.create_default_context(cafile=self.info["caFile"])  # checks the IP SAN too

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()
        self.stderr.seek(0)
        errors = self.stderr.read()
        self.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        if errors:  # the server only writes to stderr when something went wrong
            raise AssertionError("server stderr:\n" + errors)

    def call(self, method, path, params=None, token=TOKEN, body=None, ctype=None):
        """-> (status, reason, decoded JSON body or None)"""
        url = self.info["apiUrl"] + path
        data = None
        if params and method in ("GET", "DELETE"):
            url += "?" + urllib.parse.urlencode(params)
        elif params:
            data = urllib.parse.urlencode(params).encode()
        if body is not None:
            data = body
        req = urllib.request.Request(url, data=data, method=method)
        if token:
            req.add_header("Authorization", "PVEAPIToken=" + token)
        if ctype:
            req.add_header("Content-Type", ctype)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=30) as resp:
                return resp.status, resp.reason, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, e.reason, json.loads(raw) if raw else None

    def ok(self, method, path, params=None):
        status, reason, doc = self.call(method, path, params)
        if status != 200:
            raise AssertionError(f"{method} {path}: {status} {reason} {doc}")
        return doc["data"]

    def control(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.info["controlUrl"] + path, data=data, method=method)
        with urllib.request.urlopen(req, context=self.ctx, timeout=30) as resp:
            return json.loads(resp.read())

    def wait_task(self, upid, node="pve1", timeout=15):
        quoted = urllib.parse.quote(upid, safe="")
        end = time.time() + timeout
        while time.time() < end:
            st = self.ok("GET", f"/nodes/{node}/tasks/{quoted}/status")
            if st["status"] == "stopped":
                return st
            time.sleep(0.05)
        raise AssertionError(f"task {upid} still running")

    def task_log(self, upid, node="pve1"):
        quoted = urllib.parse.quote(upid, safe="")
        return [line["t"] for line in self.ok("GET", f"/nodes/{node}/tasks/{quoted}/log", {"limit": 0})]

    def clone(self, newid, **extra):
        params = {"newid": newid, "name": f"vm{newid}", "full": 1, "storage": "linstor", **extra}
        return self.ok("POST", "/nodes/pve1/qemu/9000/clone", params)

    def next_id(self):
        return int(self.ok("GET", "/cluster/nextid"))


class SchemaValidation(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pve = PveServer()

    @classmethod
    def tearDownClass(cls):
        cls.pve.close()

    def assert_param_error(self, method, path, params, key, message, body=None, ctype=None):
        status, reason, doc = self.pve.call(method, path, params, body=body, ctype=ctype)
        self.assertEqual((status, reason), (400, "Parameter verification failed."), doc)
        self.assertIsNone(doc["data"])
        self.assertIn(key, doc["errors"], doc)
        self.assertRegex(doc["errors"][key], message)

    def test_unknown_parameter_is_rejected(self):
        self.assert_param_error("GET", "/version", {"verbose": 1}, "verbose",
                                "^property is not defined in schema and the schema does not "
                                "allow additional properties$")

    def test_wrong_type_is_rejected(self):
        self.assert_param_error("POST", "/nodes/pve1/qemu/9000/clone", {"newid": "abc"}, "newid",
                                r"^type check \('integer'\) failed - got 'abc'$")
        # Booleans are 0 or 1, not 'true'.
        self.assert_param_error("POST", "/nodes/pve1/qemu/9000/clone", {"newid": 150, "full": "true"},
                                "full", r"^type check \('boolean'\) failed - got 'true'$")

    def test_missing_required_parameter_is_rejected(self):
        self.assert_param_error("POST", "/nodes/pve1/qemu/9000/clone", {"name": "x"}, "newid",
                                "^property is missing and it is not optional$")

    def test_bad_pattern_enum_and_bounds_are_rejected(self):
        self.assert_param_error("PUT", "/nodes/pve1/qemu/9000/resize", {"disk": "scsi0", "size": "ten"},
                                "size", "^value does not match the regex pattern$")
        self.assert_param_error("PUT", "/nodes/pve1/qemu/9000/resize", {"disk": "scsi99", "size": "1G"},
                                "disk", "^value 'scsi99' does not have a value in the enumeration 'ide0, ")
        self.assert_param_error("GET", "/cluster/resources", {"type": "vms"}, "type",
                                "^value 'vms' does not have a value in the enumeration 'vm, storage, node, sdn'$")
        self.assert_param_error("POST", "/nodes/pve1/qemu/9000/config", {"cores": 0}, "cores",
                                "^value must have a minimum value of 1$")
        self.assert_param_error("GET", "/nodes/pve1/qemu/9000/agent/file-read",
                                {"file": "/x", "count": 16777217}, "count",
                                "^value must have a maximum value of 16777216$")

    def test_formats_are_checked(self):
        self.assert_param_error("GET", "/nodes/pve1/qemu/099/config", None, "vmid",
                                "^invalid format - value does not look like a valid VM ID\n$")
        self.assert_param_error("POST", "/nodes/pve1/qemu/9000/clone", {"newid": 150, "name": "bad_name"},
                                "name", "^invalid format - value does not look like a valid DNS name\n$")
        # sshkeys must arrive percent-encoded (format 'urlencoded').
        self.assert_param_error("POST", "/nodes/pve1/qemu/9000/config", {"sshkeys": "ssh-ed25519 AAAA x"},
                                "sshkeys", "^invalid format - invalid urlencoded string: ssh-ed25519 AAAA x\n$")
        # Property strings are parsed key by key.
        self.assert_param_error("POST", "/nodes/pve1/qemu/9000/config", {"net0": "virtio,bridge=vmbr0,tag=5000"},
                                "net0", "^invalid format - format error\nnet0.tag: value must have a "
                                "maximum value of 4094\n$")
        self.assert_param_error("POST", "/nodes/pve1/qemu/9000/config", {"ipconfig0": "ip=10.0.0.5"},
                                "ipconfig0", "^invalid format - format error\nipconfig0.ip: invalid format - "
                                "value does not look like a valid ipv4 network configuration\n")

    def test_numbered_options_follow_their_range(self):
        self.assert_param_error("POST", "/nodes/pve1/qemu/9000/config", {"scsi31": "linstor:1"},
                                "scsi31", "^property is not defined in schema")
        self.assert_param_error("POST", "/nodes/pve1/qemu/9000/config", {"net32": "virtio"},
                                "net32", "^property is not defined in schema")

    def test_form_value_ends_at_a_raw_equals_sign(self):
        # pveproxy cuts 'ipconfig0=ip=dhcp' at the second '=': the value is 'ip'.
        self.assert_param_error("POST", "/nodes/pve1/qemu/9000/config", None, "ipconfig0",
                                "value without key, but schema does not define a default key",
                                body=b"ipconfig0=ip=dhcp", ctype="application/x-www-form-urlencoded")

    def test_uri_and_parameter_must_agree(self):
        self.assert_param_error("GET", "/nodes/pve1/qemu/9000/config", {"vmid": 9001}, "vmid",
                                "^duplicate parameter")

    def test_valid_calls_are_accepted(self):
        self.assertEqual(self.pve.ok("GET", "/version")["release"], "9.1")
        self.assertEqual([n["node"] for n in self.pve.ok("GET", "/nodes")], ["pve1", "pve2"])
        storages = {s["storage"]: s for s in self.pve.ok("GET", "/nodes/pve1/storage", {"content": "images"})}
        self.assertEqual(sorted(storages), ["linstor", "local-lvm"])
        self.assertEqual((storages["linstor"]["shared"], storages["local-lvm"]["shared"]), (1, 0))
        status = self.pve.ok("GET", "/nodes/pve1/storage/linstor/status")
        self.assertEqual((status["type"], status["enabled"], status["active"]), ("drbd", 1, 1))
        vms = self.pve.ok("GET", "/cluster/resources", {"type": "vm"})
        self.assertIn({"vmid": 9000, "template": 1, "node": "pve1"},
                      [{k: v[k] for k in ("vmid", "template", "node")} for v in vms])
        # nextid answers a string, as Perl does.
        self.assertRegex(self.pve.ok("GET", "/cluster/nextid"), r"^\d+$")

    def test_unknown_path_and_method(self):
        status, reason, doc = self.pve.call("GET", "/nodes/pve1/frobnicate")
        self.assertEqual((status, reason), (501, "Method 'GET /nodes/pve1/frobnicate' not implemented"))
        self.assertEqual(doc["data"], None)
        status, reason, _ = self.pve.call("POST", "/version")
        self.assertEqual((status, reason), (501, "Method 'POST /version' not implemented"))

    def test_authentication(self):
        status, reason, doc = self.pve.call("GET", "/version", token=None)
        self.assertEqual((status, reason, doc), (401, "No ticket", None))
        secret = TOKEN.rsplit("=", 1)[0] + "=wrong"
        self.assertEqual(self.pve.call("GET", "/version", token=secret)[:2], (401, "invalid token value!"))
        other = "root@pam!other=" + TOKEN.rsplit("=", 1)[1]
        self.assertEqual(self.pve.call("GET", "/version", token=other)[:2],
                         (401, "no such token 'other' for user 'root@pam'"))
        self.assertEqual(self.pve.call("GET", "/version", token="rootpam=x")[:2],
                         (401, "'rootpam' is not a valid token ID - not able to split into user and token parts"))

    def test_tls_certificate_matches_the_printed_fingerprint(self):
        host, port = "127.0.0.1", self.pve.info["port"]
        with socket.create_connection((host, port)) as raw:
            with self.pve.ctx.wrap_socket(raw, server_hostname=host) as tls:  # verifies against caFile
                der = tls.getpeercert(binary_form=True)
        digest = hashlib.sha256(der).hexdigest().upper()
        self.assertEqual(":".join(digest[i:i + 2] for i in range(0, 64, 2)), self.pve.info["fingerprint"])
        with open(self.pve.info["certFile"]) as f:
            self.assertEqual(ssl.PEM_cert_to_DER_cert(f.read()), der)
        self.assertRegex(self.pve.info["publicKeyPin"], r"^sha256//[A-Za-z0-9+/]{43}=$")
        with socket.create_connection((host, port)) as raw:
            with self.assertRaises(ssl.SSLCertVerificationError):
                ssl.create_default_context().wrap_socket(raw, server_hostname="localhost")


class VmLifecycle(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        hook_dir = tempfile.mkdtemp(prefix="pve-hook-")
        cls.hook_dir = hook_dir
        cls.hook = os.path.join(hook_dir, "hook")
        with open(cls.hook, "w") as f:
            f.write(HOOK.replace("%HOSTKEY%", json.dumps(host_key())))
        os.chmod(cls.hook, 0o755)
        cls.pve = PveServer("--vm-hook", cls.hook, "--boot-delay", "1000")

    @classmethod
    def tearDownClass(cls):
        cls.pve.close()
        shutil.rmtree(cls.hook_dir, ignore_errors=True)

    def test_clone_configure_start_and_destroy(self):
        pve = self.pve
        newid = pve.next_id()
        upid = pve.clone(newid)
        self.assertRegex(upid, UPID_RE)
        self.assertEqual(re.match(UPID_RE, upid).groups(), ("qmclone", "9000"))
        st = pve.wait_task(upid)
        self.assertEqual((st["exitstatus"], st["user"], st["tokenid"]), ("OK", "root@pam", "fedi"))
        self.assertEqual(pve.task_log(upid)[-1], "TASK OK")

        base = f"/nodes/pve1/qemu/{newid}"
        conf = pve.ok("GET", base + "/config")
        template = pve.ok("GET", "/nodes/pve1/qemu/9000/config")
        self.assertEqual(conf["name"], f"vm{newid}")
        self.assertNotIn("template", conf)
        self.assertEqual(conf["scsi0"], f"linstor:vm-{newid}-disk-0,iothread=1,size=8G")
        self.assertNotEqual(conf["net0"], template["net0"])  # a clone gets a new MAC
        self.assertRegex(conf["net0"], r"^virtio=BC:24:11(:[0-9A-F]{2}){3},bridge=vmbr0$")
        self.assertEqual(conf["cores"], 2)  # integers come back as numbers

        keys = host_key() + "\nssh-ed25519 " + host_key().split()[1] + " second\n"
        encoded = urllib.parse.quote(keys, safe="")
        upid = pve.ok("POST", base + "/config", {
            "cores": 4, "memory": 4096, "ciuser": "fedi", "sshkeys": encoded,
            "ipconfig0": "ip=10.0.0.5/24,gw=10.0.0.1", "scsi1": "linstor:200"})
        self.assertEqual(pve.wait_task(upid)["exitstatus"], "OK")
        conf = pve.ok("GET", base + "/config")
        self.assertEqual(conf["sshkeys"], encoded)  # stored and returned still encoded
        self.assertEqual((conf["cores"], conf["memory"]), (4, "4096"))
        self.assertEqual(conf["scsi1"], f"linstor:vm-{newid}-disk-1,size=200G")

        status, reason, _ = pve.call("PUT", base + "/config", {"cores": 8, "digest": "0" * 40})
        self.assertEqual((status, reason), (500, "checksum mismatch (file change by other user?)"))
        self.assertIsNone(pve.ok("PUT", base + "/config", {"cores": 8, "digest": conf["digest"]}))

        st = pve.wait_task(pve.ok("PUT", base + "/resize", {"disk": "scsi1", "size": "+10G"}))
        self.assertEqual(st["exitstatus"], "OK")
        self.assertIn("size=210G", pve.ok("GET", base + "/config")["scsi1"])
        st = pve.wait_task(pve.ok("PUT", base + "/resize", {"disk": "scsi1", "size": "100G"}))
        self.assertEqual(st["exitstatus"], "shrinking disks is not supported")

        st = pve.wait_task(pve.ok("POST", base + "/status/start"))
        self.assertEqual(st["exitstatus"], "OK")
        self.assertEqual(pve.ok("GET", base + "/status/current")["status"], "running")
        with open(os.path.join(self.hook_dir, f"start-{newid}.json")) as f:
            started = json.load(f)
        self.assertEqual(started["name"], f"vm{newid}")
        self.assertEqual(started["config"]["sshkeys"], keys)  # the hook sees them decoded

        status, reason, _ = pve.call("GET", base + "/agent/network-get-interfaces")
        self.assertEqual((status, reason), (500, "QEMU guest agent is not running"))
        pve.control("POST", "/guest", {"vmid": newid, "agent": "up"})  # the guest has booted
        ifaces = pve.ok("GET", base + "/agent/network-get-interfaces")["result"]
        eth0 = [i for i in ifaces if i["name"] == "eth0"][0]
        self.assertEqual(eth0["ip-addresses"], [{"ip-address": "127.0.0.1", "ip-address-type": "ipv4",
                                                 "prefix": 24}])
        self.assertEqual(eth0["hardware-address"], conf["net0"].split(",")[0].split("=")[1].lower())
        read = pve.ok("GET", base + "/agent/file-read", {"file": "/etc/ssh/ssh_host_ed25519_key.pub"})
        self.assertEqual(read["content"], host_key() + "\n")
        status, reason, _ = pve.call("GET", base + "/agent/file-read", {"file": "/etc/shadow"})
        self.assertEqual(status, 500)

        status, reason, _ = pve.call("DELETE", base)
        self.assertEqual((status, reason), (500, f"VM {newid} is running - destroy failed"))
        self.assertEqual(pve.wait_task(pve.ok("POST", base + "/status/stop"))["exitstatus"], "OK")
        self.assertTrue(os.path.exists(os.path.join(self.hook_dir, f"stop-{newid}")))
        status, reason, _ = pve.call("GET", base + "/agent/network-get-interfaces")
        self.assertEqual((status, reason), (500, f"VM {newid} is not running"))

        st = pve.wait_task(pve.ok("DELETE", base, {"purge": 1, "destroy-unreferenced-disks": 1}))
        self.assertEqual(st["exitstatus"], "OK")
        status, reason, _ = pve.call("GET", base + "/config")
        self.assertEqual((status, reason), (500, f"Configuration file 'nodes/pve1/qemu-server/{newid}.conf' "
                                                 "does not exist"))
        volumes = [v["volid"] for v in pve.control("GET", "/state")["volumes"]]
        self.assertFalse([v for v in volumes if f"vm-{newid}-" in v], volumes)

    def test_template_cannot_start_and_linked_clone_refuses_storage(self):
        st = self.pve.wait_task(self.pve.ok("POST", "/nodes/pve1/qemu/9000/status/start"))
        self.assertEqual(st["exitstatus"], "you can't start a vm if it's a template")
        status, reason, _ = self.pve.call("POST", "/nodes/pve1/qemu/9000/clone",
                                          {"newid": self.pve.next_id(), "storage": "linstor"})
        self.assertEqual((status, reason), (500, "parameter 'storage' not allowed for linked clones"))


class Faults(unittest.TestCase):
    def setUp(self):
        self.pve = PveServer()

    def tearDown(self):
        self.pve.close()

    def test_lock_timeouts_fail_the_next_clones_then_clear(self):
        self.pve.control("POST", "/inject", {"kind": "lock-timeout", "op": "clone", "count": 2})
        message = "can't lock file '/var/lock/qemu-server/lock-9000.conf' - got timeout"
        for _ in range(2):
            newid = self.pve.next_id()
            upid = self.pve.clone(newid)
            self.assertEqual(self.pve.wait_task(upid)["exitstatus"], message)
            self.assertEqual(self.pve.task_log(upid)[-1], "TASK ERROR: " + message)
            self.assertEqual(self.pve.call("GET", f"/nodes/pve1/qemu/{newid}/config")[0], 500)
        self.assertEqual(self.pve.wait_task(self.pve.clone(self.pve.next_id()))["exitstatus"], "OK")

    def test_lock_timeout_on_synchronous_config_is_a_500(self):
        self.pve.control("POST", "/inject", {"kind": "lock-timeout", "op": "config", "count": 2})
        status, reason, doc = self.pve.call("PUT", "/nodes/pve1/qemu/9000/config", {"description": "x"})
        self.assertEqual((status, reason), (500, "can't lock file '/var/lock/qemu-server/lock-9000.conf' "
                                                 "- got timeout"))
        self.assertEqual(doc["message"], reason + "\n")
        upid = self.pve.ok("POST", "/nodes/pve1/qemu/9000/config", {"description": "x"})
        self.assertEqual(self.pve.wait_task(upid)["exitstatus"], reason)

    def test_id_race_fails_the_clone_task(self):
        self.pve.control("POST", "/inject", {"kind": "id-race"})
        newid = self.pve.next_id()
        self.assertEqual(self.pve.next_id(), newid)  # nextid reserves nothing
        upid = self.pve.clone(newid)
        message = f"unable to create VM {newid}: config file already exists"
        self.assertEqual(self.pve.wait_task(upid)["exitstatus"], message)
        state = {vm["vmid"]: vm for vm in self.pve.control("GET", "/state")["vms"]}
        self.assertEqual(state[newid]["config"]["name"], f"other-creator-{newid}")
        self.assertEqual(self.pve.next_id(), newid + 1)

    def test_id_race_before_the_request_fails_the_call(self):
        self.pve.control("POST", "/inject", {"kind": "id-race", "stage": "request"})
        newid = self.pve.next_id()
        status, reason, _ = self.pve.call("POST", "/nodes/pve1/qemu/9000/clone", {"newid": newid, "full": 1})
        self.assertEqual((status, reason), (500, f"unable to create VM {newid}: config file already exists"))

    def test_two_clones_racing_for_one_id(self):
        newid = self.pve.next_id()
        answers = []

        def clone():
            answers.append(self.pve.call("POST", "/nodes/pve1/qemu/9000/clone", {"newid": newid, "full": 1}))

        threads = [threading.Thread(target=clone) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # The loser fails in the request or in its task, as on a real cluster.
        outcomes = []
        for status, reason, doc in answers:
            outcomes.append(self.pve.wait_task(doc["data"])["exitstatus"] if status == 200 else reason)
        outcomes.sort()
        self.assertEqual(outcomes[0], "OK")
        self.assertIn(outcomes[1], (f"unable to create VM {newid}: config file already exists",
                                    f"can't lock file '/var/lock/qemu-server/lock-{newid}.conf' - got timeout"))
        self.assertEqual(self.pve.ok("GET", f"/nodes/pve1/qemu/{newid}/config")["name"], f"Copy-of-VM-nixos-template")

    def test_failing_task_reports_its_error(self):
        self.pve.control("POST", "/inject", {"kind": "task-fail", "op": "start",
                                             "message": "start failed: QEMU exited with code 1"})
        newid = self.pve.next_id()
        self.pve.wait_task(self.pve.clone(newid))
        upid = self.pve.ok("POST", f"/nodes/pve1/qemu/{newid}/status/start")
        self.assertEqual(self.pve.wait_task(upid)["exitstatus"], "start failed: QEMU exited with code 1")
        self.assertEqual(self.pve.task_log(upid)[-1], "TASK ERROR: start failed: QEMU exited with code 1")
        self.assertEqual(self.pve.ok("GET", f"/nodes/pve1/qemu/{newid}/status/current")["status"], "stopped")

    def test_disabled_and_unshared_storage(self):
        self.pve.control("POST", "/storage", {"storage": "linstor", "disable": 1})
        linstor = [s for s in self.pve.ok("GET", "/nodes/pve1/storage") if s["storage"] == "linstor"][0]
        self.assertEqual((linstor["enabled"], linstor["active"]), (0, 0))
        status, reason, _ = self.pve.call("POST", "/nodes/pve1/qemu/9000/clone",
                                          {"newid": self.pve.next_id(), "full": 1, "storage": "linstor"})
        self.assertEqual((status, reason), (500, "storage 'linstor' is disabled"))
        self.pve.control("POST", "/storage", {"storage": "linstor", "disable": 0})

        status, reason, _ = self.pve.call("POST", "/nodes/pve1/qemu/9000/clone", {
            "newid": self.pve.next_id(), "full": 1, "storage": "local-lvm", "target": "pve2"})
        self.assertEqual((status, reason), (500, "can't clone to non-shared storage 'local-lvm'"))
        newid = self.pve.next_id()
        upid = self.pve.clone(newid, target="pve2")
        self.assertEqual(self.pve.wait_task(upid)["exitstatus"], "OK")
        self.assertEqual(self.pve.ok("GET", f"/nodes/pve2/qemu/{newid}/config")["name"], f"vm{newid}")
        self.assertEqual(self.pve.call("GET", f"/nodes/pve1/qemu/{newid}/config")[0], 500)

        self.pve.control("POST", "/storage", {"storage": "linstor", "shared": 0})
        status, reason, _ = self.pve.call("POST", "/nodes/pve1/qemu/9000/clone",
                                          {"newid": self.pve.next_id(), "target": "pve2"})
        self.assertEqual((status, reason), (500, "can't clone VM to node 'pve2' (VM uses local storage)"))


if __name__ == "__main__":
    unittest.main()
