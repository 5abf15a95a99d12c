"""Faults a test can arm (control API POST /_test/inject or --inject at start):

  {"kind": "lock-timeout", "op": OP, "count": N, "lock": "source"|"target", "vmid": V}
      the next N config-lock acquisitions of OP fail with qemu-server's
      "can't lock file '/var/lock/qemu-server/lock-V.conf' - got timeout";
      where real Proxmox takes the lock decides how it shows: inside the worker
      (clone, POST config, resize, start, stop, shutdown, delete) the task fails,
      in the request (PUT config) the call answers 500.
  {"kind": "task-fail", "op": OP, "count": N, "message": TEXT}
      the next N tasks of OP end with "TASK ERROR: TEXT" (a clone's error is
      wrapped as "clone failed: TEXT", as qemu-server does).
  {"kind": "id-race", "count": N, "stage": "task"|"request", "node": NODE}
      the next N /cluster/nextid answers hand out an ID that another creator
      takes: with stage "task" when a clone for it has been accepted (the task
      fails), with stage "request" at once (the clone call itself fails). The
      other creator's VM is on NODE (default: the node cloned on); on another
      node the clone task fails as pmxcfs refuses the new config file,
      "close (rename) atomic file '/etc/pve/nodes/N/qemu-server/ID.conf'
      failed: File exists" (see pveqemu.clone_locked).

OP is clone, config, resize, start, stop, shutdown, delete or any.
"""

import threading

from pvestate import PveError

OPS = ("clone", "config", "resize", "start", "stop", "shutdown", "delete", "any")
KINDS = ("lock-timeout", "task-fail", "id-race")


class Faults:
    def __init__(self):
        self._lock = threading.Lock()
        self._pending = []

    def add(self, spec):
        if not isinstance(spec, dict) or spec.get("kind") not in KINDS:
            raise PveError(f"fault kind must be one of {', '.join(KINDS)}\n", 400)
        spec = dict(spec)
        spec["count"] = int(spec.get("count", 1))
        if spec["kind"] != "id-race":
            spec.setdefault("op", "any")
            if spec["op"] not in OPS:
                raise PveError(f"fault op must be one of {', '.join(OPS)}\n", 400)
        if spec["kind"] == "id-race" and spec.setdefault("stage", "task") not in ("task", "request"):
            raise PveError("id-race stage must be 'task' or 'request'\n", 400)
        if spec["kind"] == "lock-timeout" and spec.setdefault("lock", "source") not in ("source", "target"):
            raise PveError("lock-timeout lock must be 'source' or 'target'\n", 400)
        with self._lock:
            self._pending.append(spec)
        return spec

    def take(self, kind, op=None, vmid=None, lock=None):
        """Use up one matching armed fault; returns it or None."""
        with self._lock:
            for spec in self._pending:
                if spec["kind"] != kind or spec["count"] <= 0:
                    continue
                if op and spec.get("op") not in (op, "any"):
                    continue
                if spec.get("vmid") is not None and vmid is not None and int(spec["vmid"]) != int(vmid):
                    continue
                if lock and op == "clone" and spec.get("lock") != lock:
                    continue
                spec["count"] -= 1
                if spec["count"] == 0:
                    self._pending.remove(spec)
                return dict(spec)
        return None

    def clear(self):
        with self._lock:
            self._pending.clear()

    def pending(self):
        with self._lock:
            return [dict(s) for s in self._pending]
