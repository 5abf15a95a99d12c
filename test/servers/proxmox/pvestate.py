"""State of the simulated cluster: nodes, storages with their volumes, VMs with
their configuration, and the per-VM config locks of qemu-server
(/var/lock/qemu-server/lock-<vmid>.conf).

A VM configuration is kept as Proxmox keeps its config file: option -> string.
Its digest is the SHA-1 of the file text, as qemu-server computes it.
"""

import contextlib
import hashlib
import random
import re
import threading
import time
import uuid

import pveformats
from pveapischema import indexed_resolver
from pvejsonschema import parse_property_string, print_property_string


class PveError(Exception):
    """An API error: HTTP status, message (Perl die text) and per-parameter errors."""

    def __init__(self, message, status=500, errors=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.errors = errors


def die(message):
    raise PveError(message if message.endswith("\n") else message + "\n")


def param_error(errors):
    raise PveError("Parameter verification failed.\n", 400, errors)


def lock_timeout_message(vmid):
    return f"can't lock file '/var/lock/qemu-server/lock-{vmid}.conf' - got timeout\n"


class FileLocks:
    """flock(2) on the qemu-server lock files: shared or exclusive, with a timeout."""

    def __init__(self):
        self._cond = threading.Condition()
        self._shared = {}
        self._exclusive = set()

    @contextlib.contextmanager
    def hold(self, vmid, timeout, shared=False):
        deadline = time.monotonic() + timeout
        with self._cond:
            while vmid in self._exclusive or (not shared and self._shared.get(vmid)):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise PveError(lock_timeout_message(vmid))
                self._cond.wait(left)
            if shared:
                self._shared[vmid] = self._shared.get(vmid, 0) + 1
            else:
                self._exclusive.add(vmid)
        try:
            yield
        finally:
            with self._cond:
                if shared:
                    self._shared[vmid] -= 1
                else:
                    self._exclusive.discard(vmid)
                self._cond.notify_all()

    def held(self):
        with self._cond:
            return {"exclusive": sorted(self._exclusive),
                    "shared": sorted(v for v, n in self._shared.items() if n)}


DRIVE_KEY_RE = r"^((ide|sata|scsi|virtio)\d+|efidisk0|tpmstate0)$"
NEW_DISK_RE = r"^(([^/:\s]+):)?(\d+(\.\d+)?)$"


def random_mac():
    # Proxmox's default MAC prefix (its own OUI) since PVE 8.
    return "BC:24:11:" + ":".join("%02X" % random.randrange(256) for _ in range(3))


class VM:
    def __init__(self, vmid, node, config):
        self.vmid = vmid
        self.node = node
        self.config = dict(config)
        self.running = False
        self.started = None
        self.pid = None
        self.guest = None  # what the VM hook reported: ip, port, hostKeys
        self.agent_up_at = None
        self.agent_forced = None  # True/False when set through the control API

    def is_template(self):
        return self.config.get("template") == "1"

    def agent_running(self, now=None):
        if not self.running:
            return False
        if self.agent_forced is not None:
            return self.agent_forced
        return self.agent_up_at is not None and (now or time.time()) >= self.agent_up_at


def config_text(config):
    lines = []
    for line in (config.get("description") or "").split("\n") if "description" in config else []:
        lines.append("#" + line)
    for key in sorted(config):
        if key != "description":
            lines.append(f"{key}: {config[key]}")
    return "\n".join(lines) + "\n"


def config_digest(config):
    return hashlib.sha1(config_text(config).encode()).hexdigest()


class Cluster:
    """All state, guarded by `lock` (an RLock). `file_locks` are separate so a
    waiter does not block the whole cluster."""

    def __init__(self, fixture, config_props):
        self.lock = threading.RLock()
        self.file_locks = FileLocks()
        self.config_props = config_props
        self._resolve = indexed_resolver(config_props)
        self.nodes = {}
        for n in fixture.get("nodes", []):
            self.nodes[n["node"]] = {
                "node": n["node"], "status": n.get("status", "online"),
                "maxcpu": n.get("maxcpu", 16), "maxmem": n.get("maxmem", 64 << 30),
                "maxdisk": n.get("maxdisk", 100 << 30), "started": time.time(),
            }
        self.storages = {}
        for s in fixture.get("storages", []):
            self.storages[s["storage"]] = {
                "storage": s["storage"], "type": s.get("type", "dir"),
                "content": sorted(pveformats.split_list(s.get("content", "images"))),
                "shared": int(s.get("shared", 0)), "disable": int(s.get("disable", 0)),
                "active": int(s.get("active", 1)),
                "nodes": pveformats.split_list(s["nodes"]) if isinstance(s.get("nodes"), str)
                else s.get("nodes"),
                "total": int(s.get("total", 1 << 40)),
            }
        self.volumes = {}  # (storage, node or None, name) -> {"size", "vmid"}
        self.vms = {}
        for v in fixture.get("vms", []):
            vm = VM(int(v["vmid"]), v["node"], {k: str(x) for k, x in v["config"].items()})
            self.vms[vm.vmid] = vm
            self.register_drives(vm)
            if v.get("running"):
                vm.running, vm.started, vm.pid = True, time.time(), random.randrange(2000, 60000)

    # -- options and drives --------------------------------------------------

    def option_schema(self, key):
        if key in self.config_props and "[n]" not in key:
            return self.config_props[key]
        return self._resolve(key)

    def option_exists(self, key):
        return self.option_schema(key) is not None

    def drive_format(self, key):
        schema = self.option_schema(key)
        return schema.get("format") if schema and isinstance(schema.get("format"), dict) else None

    def parse_drive(self, key, value):
        return parse_property_string(self.drive_format(key), value, key)

    def print_drive(self, key, drive):
        return print_property_string(drive, self.drive_format(key))

    def drives(self, config):
        for key in sorted(config):
            if re.search(DRIVE_KEY_RE, key) or re.search(r"^unused\d+$", key):
                yield key, self.parse_drive(key, config[key])

    @staticmethod
    def is_cloudinit(drive):
        return re.search(r"[:/]vm-\d+-cloudinit(\.\w+)?$", drive.get("file", "")) is not None

    def is_cdrom(self, drive, exclude_cloudinit=False):
        if exclude_cloudinit and self.is_cloudinit(drive):
            return False
        return drive.get("media") == "cdrom"

    def register_drives(self, vm):
        """Volumes a VM's config refers to (its disks and cloud-init drive)."""
        for _, drive in self.drives(vm.config):
            volid = drive.get("file", "")
            if re.search(r"^[^/:\s]+:.", volid) and (not self.is_cdrom(drive) or self.is_cloudinit(drive)):
                default = "4M" if self.is_cloudinit(drive) else "0"
                size = pveformats.parse_size(drive.get("size", default)) or 0
                self.register_volume(volid, vm.node, size, vm.vmid)

    # -- storages and volumes --------------------------------------------------

    def storage_config(self, storage):
        if not storage:
            die("no storage ID specified")
        scfg = self.storages.get(storage)
        if scfg is None:
            die(f"storage '{storage}' does not exist")
        return scfg

    def storage_available(self, storage, node):
        nodes = self.storages[storage]["nodes"]
        return not nodes or node in nodes

    def storage_check_enabled(self, storage, node):
        scfg = self.storage_config(storage)
        if scfg["disable"]:
            die(f"storage '{storage}' is disabled")
        if not self.storage_available(storage, node):
            die(f"storage '{storage}' is not available on node '{node}'")
        return scfg

    def _volume_key(self, volid, node):
        storage, name = volid.split(":", 1)
        shared = self.storages.get(storage, {}).get("shared")
        return storage, None if shared else node, name

    def register_volume(self, volid, node, size, vmid):
        self.volumes[self._volume_key(volid, node)] = {"size": size, "vmid": vmid}

    def volume(self, volid, node):
        return self.volumes.get(self._volume_key(volid, node))

    def free_volume(self, volid, node):
        self.volumes.pop(self._volume_key(volid, node), None)

    def alloc_volume(self, storage, node, vmid, size, cloudinit=False):
        """A new volume named as Proxmox names them (vm-<vmid>-disk-<n>)."""
        scfg = self.storage_check_enabled(storage, node)
        if "images" not in scfg["content"]:
            die(f"storage '{storage}' does not support vm images")
        if cloudinit:
            name = f"vm-{vmid}-cloudinit"
        else:
            n = 0
            while self.volume(f"{storage}:vm-{vmid}-disk-{n}", node) is not None:
                n += 1
            name = f"vm-{vmid}-disk-{n}"
        volid = f"{storage}:{name}"
        self.register_volume(volid, node, size, vmid)
        return volid

    def storage_used(self, storage, node):
        shared = self.storages[storage]["shared"]
        return sum(v["size"] for (s, n, _), v in self.volumes.items()
                   if s == storage and (shared or n == node))

    # -- VMs ----------------------------------------------------------------------

    def conf_path(self, vmid, node):
        return f"nodes/{node}/qemu-server/{vmid}.conf"

    def load_config(self, vmid, node):
        """PVE::QemuConfig->load_config: the VM must live on this node."""
        vm = self.vms.get(int(vmid))
        if vm is None or vm.node != node:
            die(f"Configuration file '{self.conf_path(vmid, node)}' does not exist")
        return vm

    @staticmethod
    def check_lock(vm):
        if vm.config.get("lock"):
            die(f"VM is locked ({vm.config['lock']})")

    def next_free_vmid(self, lower=100, upper=1000000):
        for i in range(lower, upper):
            if i not in self.vms:
                return i
        die(f"unable to get any free VMID in range [{lower}, {upper}]")

    def new_smbios_uuid(self, smbios1):
        fields = [p for p in (smbios1 or "").split(",") if p and not p.startswith("uuid=")]
        return ",".join([f"uuid={uuid.uuid4()}"] + fields)

    def dump(self):
        with self.lock:
            return {
                "nodes": list(self.nodes.values()),
                "storages": [dict(s, used=self.storage_used(s["storage"], None) if s["shared"] else None)
                             for s in self.storages.values()],
                "volumes": [{"volid": f"{s}:{name}", "node": n, **v}
                            for (s, n, name), v in sorted(self.volumes.items(), key=str)],
                "vms": [{"vmid": vm.vmid, "node": vm.node, "running": vm.running,
                         "config": dict(vm.config), "digest": config_digest(vm.config),
                         "guest": vm.guest, "agentRunning": vm.agent_running()}
                        for vm in sorted(self.vms.values(), key=lambda v: v.vmid)],
                "fileLocks": self.file_locks.held(),
            }
