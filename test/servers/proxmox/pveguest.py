"""What stands behind a started VM: an optional hook program that brings up a
real test host, or else a made-up guest (a loopback address and a fake key).

Hook protocol:
  PROGRAM start VMID NAME   stdin: the VM config as JSON (sshkeys decoded);
                            stdout: {"ip": "...", "port": N, "hostKeys": ["ssh-ed25519 ..."]}
  PROGRAM stop VMID         on stop, shutdown and destroy
"""

import base64
import hashlib
import ipaddress
import json
import os
import subprocess
import threading
import time

from pvestate import PveError


def fake_host_key(vmid, name):
    """A well-formed ssh-ed25519 public key that no private key belongs to."""
    blob = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20"
    blob += hashlib.sha256(f"pve-test-server:{vmid}".encode()).digest()
    return f"ssh-ed25519 {base64.b64encode(blob).decode()} root@{name or vmid}"


def fake_address(vmid):
    """127.x.y.z from the VMID: unique per VM and always on the loopback device."""
    n = vmid % (1 << 24)
    return f"127.{(n >> 16) & 255}.{(n >> 8) & 255}.{max(n & 255, 1)}"


class GuestBacking:
    def __init__(self, hook=None, state_dir=None, timeout=120):
        self.hook = hook
        self.timeout = timeout
        self.log_path = os.path.join(state_dir, "vm-hook.log") if state_dir else None
        self._log_lock = threading.Lock()

    def _log(self, text):
        if not self.log_path:
            return
        with self._log_lock, open(self.log_path, "a", encoding="utf-8") as f:
            f.write(f"[{time.strftime('%H:%M:%S')}] {text}\n")

    def start(self, vmid, name, config):
        if not self.hook:
            return {"ip": fake_address(vmid), "port": 22, "hostKeys": [fake_host_key(vmid, name)],
                    "fake": True}
        args = [self.hook, "start", str(vmid), name or ""]
        out = self._run(args, json.dumps(config))
        try:
            info = json.loads(out)
            ipaddress.ip_address(info["ip"])
            info["port"] = int(info.get("port", 22))
            info["hostKeys"] = [str(k).strip() for k in info.get("hostKeys", [])]
        except (ValueError, KeyError, TypeError) as e:
            raise PveError(f"VM hook gave no usable answer for VM {vmid} ({e}): {out[:200]!r}\n")
        return info

    def stop(self, vmid):
        if self.hook:
            self._run([self.hook, "stop", str(vmid)], "")

    def _run(self, args, stdin):
        self._log("run " + " ".join(args))
        try:
            proc = subprocess.run(args, input=stdin, capture_output=True, text=True,
                                  timeout=self.timeout)
        except (OSError, subprocess.TimeoutExpired) as e:
            self._log(f"failed: {e}")
            raise PveError(f"VM hook '{' '.join(args)}' failed: {e}\n")
        if proc.stderr:
            self._log(proc.stderr.rstrip())
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["no error output"])[-1]
            raise PveError(f"VM hook '{' '.join(args)}' failed with exit code "
                           f"{proc.returncode}: {tail}\n")
        return proc.stdout
