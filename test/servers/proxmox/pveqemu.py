"""/nodes/{node}/qemu/{vmid}/... handlers, following qemu-server's PVE::API2::Qemu:
the same early checks in the request (errors answer 500/400 at once), the same
work in the worker task (errors end the task), and the same messages.

Simplification: configuration changes apply at once, also to a running VM
(real Proxmox keeps non-hotpluggable ones pending until the next start).
"""

import contextlib
import random
import re
import subprocess
import tempfile
import time
import urllib.parse
import uuid

import pveformats
from pvestate import (NEW_DISK_RE, VM, PveError, config_digest, die, lock_timeout_message,
                      param_error, random_mac)

# Real lock timeouts: lock_config 10 s, the clone's source/target locks 1 s.
CONFIG_LOCK_TIMEOUT = 10
CLONE_LOCK_TIMEOUT = 1

SNAPSHOT_KEYS = ("snapshots", "parent", "snaptime", "vmstate", "snapstate", "runningcpu",
                 "runningmachine", "running-nets-host-mtu")


def validate_ssh_public_keys(text):
    """PVE::Tools::validate_ssh_public_keys: every line must pass 'ssh-keygen -l'."""
    for line in text.split("\n"):
        if re.search(r"^\s*$", line):
            continue
        with tempfile.NamedTemporaryFile("w", suffix=".pub") as f:
            f.write(line + "\n")
            f.flush()
            try:
                ok = subprocess.run(["ssh-keygen", "-l", "-f", f.name], capture_output=True).returncode == 0
            except OSError:  # no ssh-keygen: a looser check of the key line
                ok = re.search(r"^\S*(ssh|ecdsa|sk)-\S+ [A-Za-z0-9+/]+=* ?", line) is not None
        if not ok:
            die("SSH public key validation error")


class Qemu:
    def __init__(self, api):
        self.api = api
        self.cluster = api.cluster

    # -- helpers --------------------------------------------------------------

    @contextlib.contextmanager
    def vm_lock(self, op, vmid, timeout=CONFIG_LOCK_TIMEOUT, shared=False, lock=None):
        if self.api.faults.take("lock-timeout", op, vmid, lock):
            raise PveError(lock_timeout_message(vmid))
        with self.cluster.file_locks.hold(vmid, timeout, shared):
            yield

    def injected_failure(self, op, vmid, default):
        spec = self.api.faults.take("task-fail", op, vmid)
        if spec:
            return spec.get("message") or default
        return None

    def sleep(self):
        time.sleep(self.api.options.task_delay)

    def typed_config(self, vm):
        """Config values typed as qemu-server's parse_vm_config returns them:
        integers and booleans as numbers, everything else as strings."""
        res = {}
        for key, value in vm.config.items():
            schema = self.cluster.option_schema(key) or {}
            if schema.get("type") in ("integer", "boolean") and re.search(r"^\d+$", value):
                res[key] = int(value)
            else:
                res[key] = value
        if "cipassword" in res:
            res["cipassword"] = "**********"
        res["digest"] = config_digest(vm.config)
        return res

    def hook_config(self, vm):
        cfg = self.typed_config(vm)
        cfg.pop("digest")
        if "sshkeys" in vm.config:
            cfg["sshkeys"] = urllib.parse.unquote(vm.config["sshkeys"])
        return cfg

    def vm_status(self, vm):
        maxdisk = 0
        for key, drive in self.cluster.drives(vm.config):
            if key.startswith(("scsi0", "virtio0", "sata0", "ide0")) and not self.cluster.is_cdrom(drive):
                maxdisk = pveformats.parse_size(drive.get("size", "0")) or 0
        memory = re.search(r"(?:^|current=)(\d+)", vm.config.get("memory", "512"))
        res = {"vmid": vm.vmid, "status": "running" if vm.running else "stopped",
               "name": vm.config.get("name", f"VM {vm.vmid}"),
               "cpus": int(vm.config.get("cores", "1")) * int(vm.config.get("sockets", "1")),
               "maxmem": int(memory.group(1) if memory else 512) << 20, "maxdisk": maxdisk,
               "mem": 0, "cpu": 0, "disk": 0, "netin": 0, "netout": 0, "diskread": 0,
               "diskwrite": 0, "uptime": int(time.time() - vm.started) if vm.running else 0}
        if vm.running:
            res["pid"] = vm.pid
        if vm.is_template():
            res["template"] = 1
        if vm.config.get("lock"):
            res["lock"] = vm.config["lock"]
        if vm.config.get("tags"):
            res["tags"] = vm.config["tags"]
        return res

    # -- GET status/current, GET /nodes/{node}/qemu ------------------------------

    def status_current(self, req):
        with self.cluster.lock:
            vm = self.cluster.load_config(req.params["vmid"], req.node)
            res = self.vm_status(vm)
            res["ha"] = {"managed": 0}
            res["qmpstatus"] = res["status"]
            if self.agent_enabled(vm):
                res["agent"] = 1
            if vm.running:
                res["running-machine"] = "pc-i440fx-9.2+pve1"
                res["running-qemu"] = "9.2.0"
            return res

    def list_vms(self, req):
        with self.cluster.lock:
            return [self.vm_status(vm) for vm in self.cluster.vms.values() if vm.node == req.node]

    # -- GET/POST/PUT config ----------------------------------------------------

    def get_config(self, req):
        with self.cluster.lock:
            vm = self.cluster.load_config(req.params["vmid"], req.node)
            if req.params.get("snapshot"):
                die(f"snapshot '{req.params['snapshot']}' does not exist")
            return self.typed_config(vm)

    def update_config(self, req, sync):
        p = dict(req.params)
        node, vmid = p.pop("node"), int(p.pop("vmid"))
        digest = p.pop("digest", None)
        background_delay = p.pop("background_delay", None)
        for key in ("skip_cloud_init", "import-working-storage"):
            p.pop(key, None)
        paramarr = []  # for the log line, as qemu-server writes it
        for key in sorted(p):
            paramarr += [f"-{key}", "<hidden>" if key == "cipassword" else p[key]]
        skiplock = p.pop("skiplock", None) == "1"
        if skiplock and req.authuser != "root@pam":
            param_error({"skiplock": "Only root may use this option."})
        delete_str, revert_str = p.pop("delete", None), p.pop("revert", None)
        force = p.pop("force", None)
        if "sshkeys" in p:
            validate_ssh_public_keys(urllib.parse.unquote(p["sshkeys"]))
        if not delete_str and not revert_str and not p:
            die("no options specified")
        if "cdrom" in p:
            value = p.pop("cdrom")
            p["ide2"] = value if "media=" in value else value + ",media=cdrom"

        revert = []
        for opt in pveformats.split_list(revert_str):
            if not self.cluster.option_exists(opt):
                param_error({"revert": f"unknown option '{opt}'"})
            if opt in p:
                param_error({"delete": f"you can't use '-{opt}' and -revert {opt}' at the same time"})
            revert.append(opt)
        delete = []
        for opt in pveformats.split_list(delete_str):
            opt = "ide2" if opt == "cdrom" else opt
            if opt in p:
                param_error({"delete": f"you can't use '-{opt}' and -delete {opt}' at the same time"})
            if opt in revert:
                param_error({"revert": f"you can't use '-delete {opt}' and -revert {opt}' at the same time"})
            if not self.cluster.option_exists(opt):
                param_error({"delete": f"unknown option '{opt}'"})
            delete.append(opt)

        with self.cluster.lock:
            self.normalize_drives_and_nets(p)

        def load_and_check():
            vm = self.cluster.load_config(vmid, node)
            if digest and digest != config_digest(vm.config):
                die("checksum mismatch (file change by other user?)")
            if not skiplock:
                self.cluster.check_lock(vm)
            return vm

        def updatefn(task):
            with self.cluster.lock:
                vm = load_and_check()
                line = f"update VM {vmid}: " + " ".join(paramarr)
                if task:
                    task.log(line)
                self.apply_update(vm, p, delete, force, task)

        with self.cluster.lock:
            load_and_check()  # early checks before forking/locking
        if sync:
            with self.vm_lock("config", vmid):
                updatefn(None)
            return None

        def worker(task):
            with self.vm_lock("config", vmid):
                updatefn(task)
                failure = self.injected_failure("config", vmid, "injected failure")
                if failure:
                    die(failure)

        upid = self.api.tasks.start(node, "qmconfig", vmid, req.authuser, worker)
        if background_delay:
            task = self.api.tasks.get(upid)
            end = time.time() + int(background_delay)
            while time.time() < end and task.status == "running":
                time.sleep(0.05)
            if task.status == "stopped":
                if task.exitstatus == "OK" or task.exitstatus.startswith("WARNINGS: "):
                    return None
                die(f"failed to update VM {vmid}: {task.exitstatus}")
        return upid

    def normalize_drives_and_nets(self, p):
        """qemu-server's $check_drive_param, MAC assignment and storage access checks."""
        for opt in sorted(p):
            if re.search(r"^((ide|sata|scsi|virtio)\d+|efidisk0|tpmstate0)$", opt):
                try:
                    drive = self.cluster.parse_drive(opt, p[opt])
                except Exception:
                    param_error({opt: "unable to parse drive options"})
                volid = drive.get("file", "")
                new = re.search(NEW_DISK_RE, volid)
                if new and not self.cluster.is_cdrom(drive):
                    storage = new.group(2)
                    if not storage:
                        die("no storage ID specified (and no default storage)")
                    scfg = self.cluster.storage_config(storage)
                    if "images" not in scfg["content"]:
                        param_error({"storage": f"storage '{storage}' does not support vm images"})
                elif re.search(pveformats.VOLUME_ID_RE, volid) and not volid.startswith("/"):
                    self.cluster.storage_config(volid.split(":", 1)[0])
                p[opt] = self.cluster.print_drive(opt, drive)
            elif re.search(r"^net\d+$", opt):
                net = self.cluster.parse_drive(opt, p[opt])
                if not net.get("macaddr"):
                    net["macaddr"] = random_mac()
                p[opt] = self.cluster.print_drive(opt, net)

    def add_unused(self, vm, volid):
        n = 0
        while f"unused{n}" in vm.config:
            n += 1
        vm.config[f"unused{n}"] = volid

    def apply_update(self, vm, p, delete, force, task):
        """Write the changes (vmconfig_apply_pending for a stopped VM). Runs with
        the cluster lock held."""
        c = self.cluster
        for opt in delete:
            if opt not in vm.config:
                if task:
                    task.log(f"cannot delete '{opt}' - not set in current configuration!")
                continue
            value = vm.config.pop(opt)
            if re.search(r"^unused\d+$", opt):
                c.free_volume(c.parse_drive(opt, value)["file"], vm.node)
            elif c.drive_format(opt) and re.search(r"^((ide|sata|scsi|virtio)\d+|efidisk0|tpmstate0)$", opt):
                drive = c.parse_drive(opt, value)
                if c.is_cloudinit(drive) or (force == "1" and not c.is_cdrom(drive)):
                    c.free_volume(drive["file"], vm.node)
                elif not c.is_cdrom(drive):
                    self.add_unused(vm, drive["file"])
        for opt in sorted(p):
            value = p[opt]
            if re.search(r"^((ide|sata|scsi|virtio)\d+|efidisk0|tpmstate0)$", opt):
                drive = c.parse_drive(opt, value)
                volid = drive.get("file", "")
                new = re.search(NEW_DISK_RE, volid)
                ci = re.search(r"^([^:\s]+):cloudinit$", volid)
                if new and not c.is_cdrom(drive):
                    size = int(float(new.group(3)) * (1 << 30))
                    drive["file"] = c.alloc_volume(new.group(2), vm.node, vm.vmid, size)
                    drive["size"] = pveformats.format_size(size)
                    if task:
                        task.log(f"allocated volume '{drive['file']}' ({drive['size']})")
                elif ci:
                    drive["file"] = c.alloc_volume(ci.group(1), vm.node, vm.vmid, 4 << 20, cloudinit=True)
                    drive["media"] = "cdrom"
                old = vm.config.get(opt)
                if old:
                    old_drive = c.parse_drive(opt, old)
                    if old_drive.get("file") != drive.get("file") and not c.is_cdrom(old_drive, True):
                        self.add_unused(vm, old_drive["file"])
                value = c.print_drive(opt, drive)
            vm.config[opt] = value

    # -- clone ----------------------------------------------------------------

    def clone(self, req):
        p = req.params
        c = self.cluster
        node, vmid, newid = req.node, int(p["vmid"]), int(p["newid"])
        storage, fmt, target = p.get("storage"), p.get("format"), p.get("target")
        if target in (node, "localhost"):
            target = None

        def load_and_check():
            if p.get("pool"):
                die(f"pool '{p['pool']}' does not exist")
            if target and target not in c.nodes:
                die(f"no such cluster node '{target}'")
            if storage:
                scfg = c.storage_check_enabled(storage, node)
                if "images" not in scfg["content"]:
                    param_error({"storage": f"storage '{storage}' does not support vm images"})
                if target:
                    c.storage_check_enabled(storage, target)
                    if not scfg["shared"]:
                        die(f"can't clone to non-shared storage '{storage}'")
            vm = c.load_config(vmid, node)
            c.check_lock(vm)
            if p.get("snapname"):
                die(f"snapshot '{p['snapname']}' does not exist")
            full = p["full"] == "1" if "full" in p else not vm.is_template()
            if storage and not full:
                die("parameter 'storage' not allowed for linked clones")
            if fmt and not full:
                die("parameter 'format' not allowed for linked clones")
            shared = all(c.storages.get(d["file"].split(":")[0], {}).get("shared")
                         for _, d in c.drives(vm.config)
                         if ":" in d.get("file", "") and not d["file"].startswith("/"))
            if target and not shared:
                die(f"can't clone VM to node '{target}' (VM uses local storage)")
            other = c.vms.get(newid)
            if other and other.node == node:
                die(f"unable to create VM {newid}: config file already exists")
            newconf, drives = {}, {}
            for opt in sorted(vm.config):
                value = vm.config[opt]
                if opt in SNAPSHOT_KEYS or re.search(r"^unused\d+$", opt):
                    continue
                if re.search(r"^net\d+$", opt):
                    net = c.parse_drive(opt, value)
                    net["macaddr"] = random_mac()
                    newconf[opt] = c.print_drive(opt, net)
                elif re.search(r"^((ide|sata|scsi|virtio)\d+|efidisk0|tpmstate0)$", opt):
                    drive = c.parse_drive(opt, value)
                    if c.is_cdrom(drive, exclude_cloudinit=True):
                        newconf[opt] = value
                        continue
                    name = drive["file"].split(":", 1)[-1]
                    if not (full or c.is_cloudinit(drive)) and not name.startswith("base-"):
                        die(f"Linked clone feature is not supported for '{drive['file']}' ({opt})")
                    drives[opt] = drive
                else:
                    newconf[opt] = value
            return vm, newconf, drives, full

        with c.lock:
            load_and_check()  # early checks before forking/locking
            self.api.claim_raced_id(newid, node)

        def worker(task):
            with c.lock:
                running = c.vms[vmid].running if vmid in c.vms else False
            # a running source is locked exclusively, else shared (qemu-server)
            with self.vm_lock("clone", vmid, CLONE_LOCK_TIMEOUT, shared=not running, lock="source"):
                with self.vm_lock("clone", newid, CLONE_LOCK_TIMEOUT, lock="target"):
                    self.clone_locked(task, p, node, vmid, newid, storage, target, load_and_check)

        return self.api.tasks.start(node, "qmclone", vmid, req.authuser, worker)

    def clone_locked(self, task, p, node, vmid, newid, storage, target, load_and_check):
        c = self.cluster
        with c.lock:
            src, newconf, drives, full = load_and_check()
            # qemu-server src/PVE/API2/Qemu.pm clone_vm (9.2.6) writes the temporary config
            # with PVE::Tools::file_set_contents ("this fails if VM already exists on other
            # node"), outside the eval that prefixes "clone failed: "; pmxcfs refuses the
            # rename and pve-common src/PVE/File.pm (9.2.1) dies with this text.
            if newid in c.vms:
                die(f"close (rename) atomic file '/etc/pve/{c.conf_path(newid, node)}' failed: File exists")
            newconf["smbios1"] = c.new_smbios_uuid(newconf.get("smbios1"))
            if newconf.get("vmgenid"):
                newconf["vmgenid"] = str(uuid.uuid4())
            newconf.pop("template", None)
            newconf["name"] = p.get("name") or f"Copy-of-VM-{src.config.get('name', vmid)}"
            if p.get("description"):
                newconf["description"] = p["description"]
            clone = VM(newid, node, {"lock": "clone"})  # qmclone's temporary config
            c.vms[newid] = clone
        created = []
        try:
            for opt in sorted(drives):
                drive = dict(drives[opt])
                volid = drive["file"]
                src_storage, src_name = volid.split(":", 1)
                size = (c.volume(volid, node) or {}).get("size") or \
                    pveformats.parse_size(drive.get("size", "0")) or 0
                cloudinit = c.is_cloudinit(drive)
                kind = "full" if full or cloudinit else "linked"
                task.log(f"create {kind} clone of drive {opt} ({volid})")
                with c.lock:
                    if kind == "full":
                        drive["file"] = c.alloc_volume(storage or src_storage, node, newid, size, cloudinit)
                    else:
                        n = 0
                        while c.volume(f"{src_storage}:{src_name}/vm-{newid}-disk-{n}", node):
                            n += 1
                        drive["file"] = f"{src_storage}:{src_name}/vm-{newid}-disk-{n}"
                        c.register_volume(drive["file"], node, size, newid)
                    created.append(drive["file"])
                    if not cloudinit:
                        drive["size"] = pveformats.format_size(size)
                    newconf[opt] = c.print_drive(opt, drive)
                    clone.config = dict(newconf, lock="clone")
                if kind == "full" and not cloudinit:
                    human = f"{size / (1 << 30):.1f} GiB"
                    task.log(f"transferred 0.0 B of {human} (0.00%)")
                    task.log(f"transferred {human} of {human} (100.00%)")
            self.sleep()
            failure = self.injected_failure("clone", vmid, "injected failure")
            if failure:
                die(failure)
            with c.lock:
                clone.config = newconf
                if target:
                    clone.node = target
        except PveError as e:
            with c.lock:
                for volid in created:
                    c.free_volume(volid, node)
                if c.vms.get(newid) is clone:
                    del c.vms[newid]
            die(f"clone failed: {e.message}")

    # -- resize ---------------------------------------------------------------

    def resize(self, req):
        p = req.params
        c = self.cluster
        node, vmid, disk, sizestr = req.node, int(p["vmid"]), p["disk"], p["size"]
        digest, skiplock = p.get("digest"), p.get("skiplock") == "1"
        m = re.search(r"^(\+)?(\d+(\.\d+)?)([KMGT])?$", sizestr)
        if not m:
            die("invalid size string")
        with c.lock:
            c.load_config(vmid, node)

        def worker(task):
            with self.vm_lock("resize", vmid):
                with c.lock:
                    vm = c.load_config(vmid, node)
                    if digest and digest != config_digest(vm.config):
                        die("checksum mismatch (file change by other user?)")
                    if not skiplock:
                        c.check_lock(vm)
                    if disk not in vm.config:
                        die(f"disk '{disk}' does not exist")
                    drive = c.parse_drive(disk, vm.config[disk])
                    if c.is_cdrom(drive):
                        die("you can't resize a cdrom")
                    volid = drive.get("file")
                    if not volid or volid == "none":
                        die(f"disk '{disk}' has no associated volume")
                    vol = c.volume(volid, node)
                    size = vol["size"] if vol else pveformats.parse_size(drive.get("size", "0")) or 0
                    newsize = pveformats.parse_size(sizestr.lstrip("+"))
                    if m.group(1):
                        newsize += size
                    if newsize < size:
                        die("shrinking disks is not supported")
                    failure = self.injected_failure("resize", vmid, "injected failure")
                    if failure:
                        die(failure)
                    if newsize == size:
                        return
                    if vol:
                        vol["size"] = newsize
                    drive["size"] = pveformats.format_size(newsize)
                    vm.config[disk] = c.print_drive(disk, drive)
                self.sleep()

        return self.api.tasks.start(node, "resize", vmid, req.authuser, worker)

    # -- power ----------------------------------------------------------------

    def start(self, req):
        c = self.cluster
        node, vmid = req.node, int(req.params["vmid"])
        skiplock = req.params.get("skiplock") == "1"
        if skiplock and req.authuser != "root@pam":
            param_error({"skiplock": "Only root may use this option."})
        with c.lock:
            c.load_config(vmid, node)

        def worker(task):
            with self.vm_lock("start", vmid):
                with c.lock:
                    vm = c.load_config(vmid, node)
                    if vm.is_template():
                        die("you can't start a vm if it's a template")
                    if not skiplock:
                        c.check_lock(vm)
                    if vm.running:
                        die(f"VM {vmid} already running")
                    if any(c.is_cloudinit(d) for _, d in c.drives(vm.config)):
                        task.log("generating cloud-init ISO")
                    name, config = vm.config.get("name", ""), self.hook_config(vm)
                failure = self.injected_failure("start", vmid, "start failed: QEMU exited with code 1")
                if failure:
                    die(failure)
                guest = self.api.guest.start(vmid, name, config)
                with c.lock:
                    vm.running, vm.started, vm.pid = True, time.time(), task.pid + 7
                    vm.guest, vm.agent_forced = guest, None
                    vm.agent_up_at = time.time() + self.api.options.task_delay + self.api.options.boot_delay
                self.sleep()

        return self.api.tasks.start(node, "qmstart", vmid, req.authuser, worker)

    def stop(self, req, op):
        c = self.cluster
        node, vmid = req.node, int(req.params["vmid"])
        skiplock = req.params.get("skiplock") == "1"
        if skiplock and req.authuser != "root@pam":
            param_error({"skiplock": "Only root may use this option."})
        with c.lock:
            c.load_config(vmid, node)

        def worker(task):
            with self.vm_lock(op, vmid):
                with c.lock:
                    vm = c.load_config(vmid, node)
                    if not skiplock:
                        c.check_lock(vm)
                    running = vm.running
                failure = self.injected_failure(op, vmid, "injected failure")
                if failure:
                    die(failure)
                if running:
                    self.sleep()
                    self.api.guest.stop(vmid)
                    with c.lock:
                        vm.running, vm.pid, vm.started, vm.agent_up_at = False, None, None, None

        task_type = "qmstop" if op == "stop" else "qmshutdown"
        return self.api.tasks.start(node, task_type, vmid, req.authuser, worker)

    # -- destroy --------------------------------------------------------------

    def destroy(self, req):
        c = self.cluster
        p = req.params
        node, vmid = req.node, int(p["vmid"])
        skiplock = p.get("skiplock") == "1"
        if skiplock and req.authuser != "root@pam":
            param_error({"skiplock": "Only root may use this option."})

        def early_checks():
            vm = c.load_config(vmid, node)
            if vm.config.get("protection") == "1":
                die(f"can't remove VM {vmid} - protection mode enabled")
            if vm.running:
                die(f"VM {vmid} is running - destroy failed")
            return vm

        with c.lock:
            early_checks()

        def worker(task):
            with self.vm_lock("delete", vmid):
                with c.lock:
                    vm = early_checks()
                    if not skiplock:
                        c.check_lock(vm)
                failure = self.injected_failure("delete", vmid, "injected failure")
                if failure:
                    die(failure)
                self.sleep()
                with c.lock:
                    for key, drive in c.drives(vm.config):
                        if drive.get("file") and (not c.is_cdrom(drive) or c.is_cloudinit(drive)):
                            c.free_volume(drive["file"], node)
                    if p.get("destroy-unreferenced-disks") == "1":
                        for (s, n, name), v in list(c.volumes.items()):
                            if v["vmid"] == vmid and (n is None or n == node) and not c.storages[s]["disable"]:
                                task.log(f"Removing unreferenced volume '{s}:{name}'")
                                c.free_volume(f"{s}:{name}", node)
                    if p.get("purge") == "1":
                        task.log(f"purging VM {vmid} from related configurations..")
                    del c.vms[vmid]
                self.api.guest.stop(vmid)

        return self.api.tasks.start(node, "qmdestroy", vmid, req.authuser, worker)

    # -- guest agent ----------------------------------------------------------

    def agent_enabled(self, vm):
        value = vm.config.get("agent")
        if not value:
            return False
        try:
            return self.cluster.parse_drive("agent", value).get("enabled") == "1"
        except Exception:
            return False

    def assert_agent(self, req):
        vm = self.cluster.load_config(req.params["vmid"], req.node)
        if not self.agent_enabled(vm):
            die("No QEMU guest agent configured")
        if not vm.running:
            die(f"VM {vm.vmid} is not running")
        if not vm.agent_running():
            die("QEMU guest agent is not running")
        return vm

    def agent_ping(self, req):
        with self.cluster.lock:
            self.assert_agent(req)
            return {"result": {}}

    def agent_interfaces(self, req):
        with self.cluster.lock:
            vm = self.assert_agent(req)
            guest = vm.guest or {}
            ip = guest.get("ip")
            mac = "00:00:00:00:00:00"
            if "net0" in vm.config:
                mac = (self.cluster.parse_drive("net0", vm.config["net0"]).get("macaddr") or mac).lower()
            v6 = ":" in (ip or "")
            lo = {"name": "lo", "hardware-address": "00:00:00:00:00:00",
                  "ip-addresses": [{"ip-address": "127.0.0.1", "ip-address-type": "ipv4", "prefix": 8},
                                   {"ip-address": "::1", "ip-address-type": "ipv6", "prefix": 128}],
                  "statistics": {"rx-bytes": 0, "rx-packets": 0, "tx-bytes": 0, "tx-packets": 0,
                                 "rx-errs": 0, "tx-errs": 0, "rx-dropped": 0, "tx-dropped": 0}}
            eth = {"name": "eth0", "hardware-address": mac, "ip-addresses": [],
                   "statistics": dict(lo["statistics"])}
            if ip:
                eth["ip-addresses"].append({"ip-address": ip, "ip-address-type": "ipv6" if v6 else "ipv4",
                                            "prefix": int(guest.get("prefix", 64 if v6 else 24))})
            return {"result": [lo, eth]}

    def agent_file_read(self, req):
        with self.cluster.lock:
            vm = self.assert_agent(req)
            path = req.params["file"]
            files = {}
            for key in (vm.guest or {}).get("hostKeys", []):
                algo = key.split()[0] if key.split() else ""
                short = {"ssh-ed25519": "ed25519", "ssh-rsa": "rsa"}.get(algo)
                if algo.startswith("ecdsa-"):
                    short = "ecdsa"
                if short:
                    files[f"/etc/ssh/ssh_host_{short}_key.pub"] = key + "\n"
            if path not in files:
                die(f"Agent error: Failed to open file '{path}': No such file or directory")
            content = files[path]
            offset = int(req.params.get("offset", 0))
            count = int(req.params.get("count", 16 << 20))
            content = content[offset:offset + count]
            return {"content": content, "bytes-read": len(content.encode())}

    # -- used by the control API ---------------------------------------------

    def create_vm(self, vmid, node, config, running=False):
        c = self.cluster
        with c.lock:
            if node not in c.nodes:
                raise PveError(f"no such node '{node}'\n", 400)
            vm = VM(vmid, node, {k: str(v) for k, v in config.items()})
            c.register_drives(vm)
            if running:
                vm.running, vm.started, vm.pid = True, time.time(), random.randrange(2000, 60000)
            c.vms[vmid] = vm
            return vm
