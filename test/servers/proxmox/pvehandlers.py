"""The behaviour behind each emulated API method. Parameters reach a handler
already checked against the schema (pvehttp does that for every method); a
handler only does what Proxmox does with them. Methods the schema has but no
handler here answer 501, after validation.
"""

import re
import time

from pveqemu import Qemu
from pvestate import VM, die, param_error


class Request:
    def __init__(self, method, template, params, authuser):
        self.method = method
        self.template = template
        self.params = params
        self.authuser = authuser
        self.node = params.get("node")
        self.total = None  # set by handlers that report a 'total'


class Options:
    def __init__(self, task_delay=0.2, boot_delay=1.0, fingerprint="", version="9.1.1"):
        self.task_delay = task_delay
        self.boot_delay = boot_delay
        self.fingerprint = fingerprint
        self.version = version


class Api:
    def __init__(self, schema, cluster, tasks, guest, faults, options):
        self.schema = schema
        self.cluster = cluster
        self.tasks = tasks
        self.guest = guest
        self.faults = faults
        self.options = options
        self.raced_ids = {}  # VMID handed out by an armed id-race -> stage
        q = self.qemu = Qemu(self)
        base = "/nodes/{node}/qemu/{vmid}"
        self.routes = {
            ("GET", "/version"): self.version,
            ("GET", "/nodes"): self.nodes,
            ("GET", "/cluster/nextid"): self.nextid,
            ("GET", "/cluster/resources"): self.resources,
            ("GET", "/nodes/{node}/storage"): self.storage_index,
            ("GET", "/nodes/{node}/storage/{storage}/status"): self.storage_status,
            ("GET", "/nodes/{node}/tasks/{upid}/status"): self.task_status,
            ("GET", "/nodes/{node}/tasks/{upid}/log"): self.task_log,
            ("GET", "/nodes/{node}/qemu"): q.list_vms,
            ("POST", base + "/clone"): q.clone,
            ("GET", base + "/config"): q.get_config,
            ("POST", base + "/config"): lambda r: q.update_config(r, sync=False),
            ("PUT", base + "/config"): lambda r: q.update_config(r, sync=True),
            ("PUT", base + "/resize"): q.resize,
            ("POST", base + "/status/start"): q.start,
            ("POST", base + "/status/stop"): lambda r: q.stop(r, "stop"),
            ("POST", base + "/status/shutdown"): lambda r: q.stop(r, "shutdown"),
            ("GET", base + "/status/current"): q.status_current,
            ("DELETE", base): q.destroy,
            ("GET", base + "/agent/network-get-interfaces"): q.agent_interfaces,
            ("GET", base + "/agent/file-read"): q.agent_file_read,
            ("POST", base + "/agent/ping"): q.agent_ping,
        }

    # -- cluster --------------------------------------------------------------

    def version(self, req):
        release = ".".join(self.options.version.split(".")[:2])
        return {"version": self.options.version, "release": release, "repoid": "5a0e3d11c9"}

    def nodes(self, req):
        with self.cluster.lock:
            return [{"node": n["node"], "status": n["status"], "id": f"node/{n['node']}",
                     "type": "node", "level": "", "cpu": 0.01, "maxcpu": n["maxcpu"],
                     "mem": n["maxmem"] // 8, "maxmem": n["maxmem"], "disk": n["maxdisk"] // 4,
                     "maxdisk": n["maxdisk"], "uptime": int(time.time() - n["started"]) + 86400,
                     "ssl_fingerprint": self.options.fingerprint}
                    for n in self.cluster.nodes.values()]

    def nextid(self, req):
        """The lowest free VMID; reserves nothing (two callers may get the same)."""
        c = self.cluster
        with c.lock:
            if req.params.get("vmid"):
                vmid = int(req.params["vmid"])
                if vmid in c.vms:
                    param_error({"vmid": f"VM {vmid} already exists"})
                return str(vmid)
            vmid = c.next_free_vmid()
            race = self.faults.take("id-race")
            if race:
                if race["stage"] == "request":
                    self.squat(vmid, race.get("node") or next(iter(c.nodes)))
                else:
                    self.raced_ids[vmid] = race
            # Perl hands the loop counter out as a string ("100"), not a number.
            return str(vmid)

    def squat(self, vmid, node):
        """Another creator takes the VMID (a plain stopped VM)."""
        self.cluster.vms[vmid] = VM(vmid, node, {"name": f"other-creator-{vmid}", "memory": "512",
                                                 "cores": "1", "ostype": "l26"})

    def claim_raced_id(self, vmid, node):
        """Called with the cluster lock held once a clone for `vmid` passed its
        early checks: an armed id-race gives the ID to someone else now."""
        race = self.raced_ids.pop(vmid, None)
        if race is not None and vmid not in self.cluster.vms:
            self.squat(vmid, race.get("node") or node)

    def resources(self, req):
        kind = req.params.get("type")
        c = self.cluster
        res = []
        with c.lock:
            if kind in (None, "node"):
                for n in self.nodes(req):
                    res.append({k: n[k] for k in ("id", "type", "node", "status", "cpu", "maxcpu",
                                                  "mem", "maxmem", "disk", "maxdisk", "uptime", "level")}
                               | {"cgroup-mode": 2})
            if kind in (None, "storage"):
                for node in c.nodes:
                    for s in c.storages.values():
                        if not c.storage_available(s["storage"], node):
                            continue
                        ok = not s["disable"] and s["active"]
                        res.append({"id": f"storage/{node}/{s['storage']}", "type": "storage",
                                    "storage": s["storage"], "node": node,
                                    "status": "available" if ok else "unknown",
                                    "plugintype": s["type"], "shared": s["shared"],
                                    "content": ",".join(s["content"]),
                                    "disk": c.storage_used(s["storage"], node), "maxdisk": s["total"]})
            if kind in (None, "vm"):
                for vm in sorted(c.vms.values(), key=lambda v: v.vmid):
                    st = self.qemu.vm_status(vm)
                    st.update({"id": f"qemu/{vm.vmid}", "type": "qemu", "node": vm.node,
                               "template": 1 if vm.is_template() else 0, "maxcpu": st.pop("cpus")})
                    st.pop("pid", None)
                    res.append(st)
        return res

    # -- storage --------------------------------------------------------------

    def storage_info(self, storage, node):
        c = self.cluster
        s = c.storages[storage]
        enabled = 0 if s["disable"] else 1
        info = {"storage": storage, "type": s["type"], "content": ",".join(s["content"]),
                "shared": s["shared"], "enabled": enabled, "active": s["active"] if enabled else 0}
        if info["active"]:
            used = c.storage_used(storage, node)
            info.update(total=s["total"], used=used, avail=s["total"] - used,
                        used_fraction=round(used / s["total"], 6) if s["total"] else 0)
        return info

    def storage_index(self, req):
        p = req.params
        c = self.cluster
        res = []
        with c.lock:
            for sid in sorted(c.storages):
                if not c.storage_available(sid, req.node):
                    continue
                if p.get("target") and not c.storage_available(sid, p["target"]):
                    continue
                if p.get("storage") and p["storage"] != sid:
                    continue
                info = self.storage_info(sid, req.node)
                if p.get("enabled") == "1" and not info["enabled"]:
                    continue
                wanted = [x for x in p.get("content", "").replace(";", ",").split(",") if x]
                if wanted and not any(w in c.storages[sid]["content"] for w in wanted):
                    continue
                if p.get("format") == "1":
                    info["formats"] = {"default": "raw", "supported": ["raw"]}
                res.append(info)
        return res

    def storage_status(self, req):
        c = self.cluster
        sid = req.params["storage"]
        with c.lock:
            if sid not in c.storages or not c.storage_available(sid, req.node):
                param_error({"storage": "No such storage."})
            info = self.storage_info(sid, req.node)
            info.pop("storage")
            return info

    # -- tasks ----------------------------------------------------------------

    def _task(self, req):
        upid = req.params["upid"]
        if not re.search(r"^UPID:([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):"
                         r"([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$", upid):
            param_error({"upid": "unable to parse worker upid"})
        task = self.tasks.get(upid)
        if task is None or task.node != req.node:
            param_error({"upid": "no such task"})
        return task

    def task_status(self, req):
        return self._task(req).status_dict()

    def task_log(self, req):
        task = self._task(req)
        start = int(req.params.get("start", 0))
        limit = int(req.params.get("limit", 50))
        total, lines = task.log_slice(start, limit)
        req.total = total
        return lines


def unknown_node(node):
    die(f"hostname lookup '{node}' failed - failed to get address info for: {node}: "
        "Name or service not known")
