"""Worker tasks as Proxmox runs them (PVE::RESTEnvironment::fork_worker): each
gets a UPID, writes a log, and ends with 'TASK OK', 'TASK WARNINGS: n' or
'TASK ERROR: <message>'; the task status reads its exit status from that last
line, as PVE::UPID::read_status does.
"""

import random
import threading
import time
import traceback

from pvestate import PveError


def encode_upid(node, pid, pstart, starttime, type_, id_, user):
    return "UPID:%s:%08X:%08X:%08X:%s:%s:%s:" % (node, pid, pstart, starttime, type_, id_, user)


class Task:
    def __init__(self, upid, node, pid, pstart, starttime, type_, id_, user):
        self.upid = upid
        self.node = node
        self.pid = pid
        self.pstart = pstart
        self.starttime = starttime
        self.type = type_
        self.id = id_
        self.user = user
        self.lines = []
        self.warnings = 0
        self.status = "running"
        self.exitstatus = None
        self._lock = threading.Lock()

    def log(self, line):
        with self._lock:
            self.lines.extend(str(line).rstrip("\n").split("\n"))

    def warn(self, message):
        """PVE's log_warn: counted, so the task ends with 'TASK WARNINGS: n'."""
        self.log("WARN: " + message.rstrip("\n"))
        self.warnings += 1

    def status_dict(self):
        res = {"upid": self.upid, "node": self.node, "pid": self.pid, "pstart": self.pstart,
               "starttime": self.starttime, "type": self.type, "id": self.id,
               "user": self.user, "status": self.status}
        if "!" in self.user:  # token tasks: user and token name apart, as pve-manager does
            res["user"], res["tokenid"] = self.user.split("!", 1)
        if self.status == "stopped":
            res["exitstatus"] = self.exitstatus
        return res

    def log_slice(self, start, limit):
        """GET .../tasks/{upid}/log: pve-manager PVE/API2/Tasks.pm read_task_log (9.2.11)
        calls pve-common src/PVE/Tools.pm dump_logfile (9.2.1), whose
        dump_logfile_by_filehandle counts every line of the file; when the file has no line
        at all ("HACK: ExtJS store.guaranteeRange() does not like empty array") it answers
        one placeholder line {n: 1, t: "no content"} and total 1, whatever `start` is."""
        with self._lock:
            lines = list(self.lines)
        if not lines:
            return 1, [{"n": 1, "t": "no content"}]
        picked = lines[start:] if limit == 0 else lines[start:start + limit]
        return len(lines), [{"n": start + i + 1, "t": t} for i, t in enumerate(picked)]


class TaskManager:
    def __init__(self, quiet_start=0.0):
        # Seconds a worker writes nothing at its start, as a qmclone waiting for its config
        # locks does (qemu-server src/PVE/API2/Qemu.pm clone_vm, lock_config_full, 9.2.6):
        # its log stays empty, and reading it gives dump_logfile's placeholder.
        self.quiet_start = quiet_start
        self._lock = threading.Lock()
        self._tasks = {}
        self._next_pid = random.randrange(10000, 900000)
        self._boot = time.time() - random.randrange(3600, 86400)

    def start(self, node, type_, id_, user, work):
        """Run work(task) in a thread; returns the UPID at once."""
        with self._lock:
            self._next_pid += random.randrange(1, 50)
            pid = self._next_pid
        now = time.time()
        pstart = int((now - self._boot) * 100)  # clock ticks since "boot"
        upid = encode_upid(node, pid, pstart, int(now), type_, id_, user)
        task = Task(upid, node, pid, pstart, int(now), type_, str(id_), user)
        with self._lock:
            self._tasks[upid] = task
        threading.Thread(target=self._run, args=(task, work, self.quiet_start), daemon=True,
                         name=f"task-{type_}-{id_}").start()
        return upid

    @staticmethod
    def _run(task, work, quiet_start):
        time.sleep(quiet_start)
        try:
            work(task)
            final = f"TASK WARNINGS: {task.warnings}" if task.warnings else "TASK OK"
            status = final[len("TASK "):]
        except PveError as e:
            status = " ".join(e.message.strip().split("\n"))  # fork_worker folds newlines
            final = f"TASK ERROR: {status}"
        except Exception as e:  # a bug in the test server: say so in the task
            traceback.print_exc()
            status = f"internal error in test server: {e}"
            final = f"TASK ERROR: {status}"
        task.log(final)
        task.exitstatus = status
        task.status = "stopped"

    def get(self, upid):
        with self._lock:
            return self._tasks.get(upid)

    def all(self):
        with self._lock:
            return list(self._tasks.values())
