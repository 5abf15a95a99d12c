"""A Proxmox VE API test server whose VMs are real container test hosts, for the
provisioning tests (Python standard library only).

The server (test/servers/proxmox) runs with --vm-hook vm-hook-testhosts: a started VM
becomes a test host listening on a loopback address of its own, port 2222, accepting the
keys of the VM's cloud-init sshkeys. The server shares no code with fedi's client."""

import json
import os
import pathlib
import shutil
import ssl
import subprocess
import sys
import tempfile
import urllib.request
import uuid

from fedi_testlib import SOURCE_DIR, TESTHOSTS, KEEP_DIRS

SERVER = SOURCE_DIR / "test" / "servers" / "proxmox" / "pve_test_server.py"
HOOK = SOURCE_DIR / "test" / "servers" / "proxmox" / "vm-hook-testhosts"
VM_SSH_PORT = 2222


class PveWithGuests:
    """The test server with guests backed by test hosts. close() stops it and every guest."""

    def __init__(self, boot_delay=0.3, task_delay=0.1):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="fedi-pve-"))
        self.hook_dir = self.dir / "guests"
        self.hook_dir.mkdir()
        self.token = f"root@pam!fedi={uuid.uuid4()}"
        self.token_file = self.dir / "token"
        self.token_file.write_text(self.token + "\n")
        self.token_file.chmod(0o600)
        env = dict(os.environ, PVE_VM_HOOK_DIR=str(self.hook_dir), PVE_VM_HOOK_PORT=str(VM_SSH_PORT))
        self.stderr = open(self.dir / "server.err", "w+")
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVER), "--port", "0", "--state-dir", str(self.dir / "server"),
             "--token", self.token, "--task-delay", str(task_delay), "--boot-delay", str(boot_delay),
             "--vm-hook", str(HOOK)],
            stdout=subprocess.PIPE, stderr=self.stderr, text=True, env=env, stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(10)
            self.stderr.seek(0)
            raise RuntimeError("the Proxmox test server did not start: " + self.stderr.read())
        self.info = json.loads(line)
        self.url = self.info["url"]
        self.ca_file = self.info["caFile"]
        self._ctx = ssl.create_default_context(cafile=self.ca_file)

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.proc.stdout.close()
        # Guests the server did not stop (it was killed, or a hook was half done).
        for d in self.hook_dir.glob("vm-*"):
            subprocess.run([str(TESTHOSTS), "stop", "--dir", str(d)], capture_output=True, timeout=60)
        self.stderr.seek(0)
        errors = self.stderr.read()
        self.stderr.close()
        if not KEEP_DIRS:
            shutil.rmtree(self.dir, ignore_errors=True)
        return errors

    # control API (no auth)

    def control(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + "/_test/" + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=self._ctx, timeout=30) as r:
            text = r.read().decode()
            return json.loads(text) if text else None

    def state(self):
        return self.control("GET", "state")

    def vms(self):
        """{vmid: vm} of the server's state."""
        return {int(vm["vmid"]): vm for vm in self.state()["vms"]}

    def vms_named(self, name):
        return [vm for vm in self.state()["vms"] if vm["config"].get("name") == name]

    def requests(self, since=0):
        return self.control("GET", f"requests?since={since}")

    def inject(self, fault):
        self.control("POST", "inject", fault)

    def clear_faults(self):
        self.control("DELETE", "inject")

    def guest_exec(self, vmid, *cmd):
        """Run cmd inside the test host behind VM vmid (not over SSH)."""
        return subprocess.run([str(TESTHOSTS), "exec", "--dir", str(self.hook_dir / f"vm-{vmid}"), "vm1", "--", *cmd],
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)

    def provider(self, **extra):
        """providers.<name> for this server."""
        value = {"type": "proxmox", "endpoint": self.url, "node": "pve1",
                 "tokenFile": str(self.token_file), "caFile": self.ca_file,
                 "retryBackoffMs": 100, "bootTimeout": 60}
        value.update(extra)
        return value
