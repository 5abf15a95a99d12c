#!/usr/bin/env python3
"""`fedi plan` against `fedi deploy` on a fleet where one machine changed (issue 16).

A fleet of N test hosts (default 30) is deployed once; then one machine's system changes
and, in turn: `fedi plan` (goal switch, and goal push: the machine part alone), the
`fedi deploy` of that change, and a `fedi deploy` with nothing left to change. Each run
is timed (wall and local CPU) and the SSH connections it opened on every host are counted
from the hosts' sshd logs ("Accepted publickey" lines). Prints times and ratios; asserts
nothing about speed. Needs root (test hosts), Nix, OpenSSH. Standard library only.
"""

import argparse
import json
import os
import pathlib
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
SOURCE = HERE.parent
sys.path.insert(0, str(SOURCE / "test" / "integration"))
import fedi_testlib as lib  # noqa: E402


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def loadavg():
    return pathlib.Path("/proc/loadavg").read_text().split()[0]


class Fleet:
    def __init__(self, args):
        self.args = args
        self.fedi = str(pathlib.Path(args.fedi).resolve())
        self.work = pathlib.Path(tempfile.mkdtemp(prefix="fedi-plan-bench-"))
        self.env = lib.nix_env()
        self.env["HOME"] = str(self.work)
        self.env.pop("SSH_AUTH_SOCK", None)
        self.nonce = time.time_ns()
        self.hosts = None

    def close(self):
        if self.hosts:
            self.hosts.stop()
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)

    def write(self, changed=None, tag="v2"):
        """The deployment; machine `changed` gets a new message (a new system)."""
        machines = {}
        for h in self.hosts.hosts:
            message = f"{h['name']} {self.nonce}" + (f" {tag}" if h["name"] == changed else "")
            machines[h["name"]] = lib.machine(
                h, identity_file=self.hosts.identity_file(),
                system=lib.system_expr(h["name"], message=message,
                                       payloadFiles=self.args.payload_files))
        lib.write_file(self.work / "deployment.nix", lib.render_deployment(machines))

    def connections(self):
        """Per host: SSH connections accepted so far (its sshd log)."""
        counts = {}
        for h in self.hosts.hosts:
            text = pathlib.Path(h["root"], "sshd.log").read_text(errors="replace")
            counts[h["name"]] = text.count("Accepted publickey")
        return counts

    def run(self, title, *args, check=True):
        before = self.connections()
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.monotonic()
        r = subprocess.run([self.fedi, *args], cwd=self.work, env=self.env, capture_output=True,
                           text=True, stdin=subprocess.DEVNULL, timeout=1800)
        seconds = time.monotonic() - start
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        after = self.connections()
        conns = [after[n] - before[n] for n in after]
        if check and r.returncode != 0:
            raise RuntimeError(f"{title}: fedi {' '.join(args)} exited {r.returncode}:\n"
                               f"{r.stderr[-3000:]}")
        row = {"title": title, "args": list(args), "exit": r.returncode,
               "seconds": round(seconds, 2), "cpuSeconds": round(cpu, 2),
               "connectionsPerMachine": [min(conns), max(conns)],
               "connections": sum(conns), "load": loadavg()}
        log(f"  {title:<38} {seconds:7.2f} s  cpu {cpu:6.2f} s  exit {r.returncode}  "
            f"connections/machine {min(conns)}..{max(conns)} (total {sum(conns)})  "
            f"load {row['load']}")
        return row, r

    def probe_round_trip(self, name, system, samples=5):
        """The probe's cost on an up-to-date machine over OpenSSH (medians): `ssh host
        true`, then the system status + plan-probe.sh fed the closure of `system` (what it
        runs), without and with $system set (the planner passing the system on)."""
        script = (SOURCE / "resources" / "host" / "plan-probe.sh").read_text()
        for key, value in (("CURRENT_SYSTEM", "/run/current-system"),
                           ("SECRETS_DIR", "/var/lib/fedi/secrets")):
            script = script.replace(f"@{key}@", value)
        status = ('echo "@@ status"; echo "profile=$(readlink -f /nix/var/nix/profiles/system)"; '
                  'echo "current=$(readlink -f /run/current-system)"\n')
        closure = subprocess.run(["nix-store", "-qR", system], capture_output=True, text=True,
                                 check=True).stdout
        ssh = ["ssh", *self.hosts.ssh_options(name), self.hosts.ssh_target(name)]

        def timed(command, stdin):
            start = time.monotonic()
            r = subprocess.run([*ssh, command], input=stdin, capture_output=True, text=True,
                               check=True, timeout=60)
            if command != "true" and "@@ secrets" not in r.stdout:
                raise RuntimeError(f"the probe on {name} printed:\n{r.stdout}\n{r.stderr}")
            return time.monotonic() - start
        row = {"sshTrue": statistics.median(timed("true", "") for _ in range(samples)),
               "probe": statistics.median(timed(status + script, closure) for _ in range(samples)),
               "probeSystemGiven": statistics.median(
                   timed(f"system={system}\n" + status + script, closure) for _ in range(samples))}
        log(f"  probe over OpenSSH on {name} (up to date, {len(closure.split())} closure paths "
            f"on stdin): `ssh true` {row['sshTrue']:.3f} s, probe {row['probe']:.3f} s, "
            f"probe told the system {row['probeSystemGiven']:.3f} s")
        return {k: round(v, 3) for k, v in row.items()}

    def plan_row(self, title, goal):
        row, r = self.run(title, "--json", "plan", "--goal", goal, check=False)
        try:
            doc = json.loads(r.stdout)
        except ValueError:
            raise RuntimeError(f"{title}: no JSON (exit {r.returncode}):\n{r.stderr[-3000:]}")
        changed = [m["name"] for m in doc["machines"] if m["system"]["pathsToSend"] > 0
                   or m["system"]["activation"] != "none"]
        system_errors = [e for m in doc["machines"] for e in m["errors"]]
        row["systemChanges"] = changed
        row["bytesToSend"] = sum(m["system"]["bytesToSend"] for m in doc["machines"])
        row["errors"] = sorted(set(doc.get("errors", []) + system_errors))
        return row


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--machines", type=int, default=30)
    p.add_argument("--rounds", type=int, default=3, help="changes planned and deployed (medians)")
    p.add_argument("--payload-files", type=int, default=20,
                   help="shared payload paths in every system (4 KiB each)")
    p.add_argument("--fedi", default=os.environ.get("FEDI_BIN", str(SOURCE / "build" / "cli" / "fedi")))
    p.add_argument("--json", help="write the results to this file")
    p.add_argument("--keep", action="store_true")
    args = p.parse_args()
    fleet = Fleet(args)
    results = {"machines": args.machines, "loadBefore": loadavg(), "runs": {}}
    try:
        log(f"starting {args.machines} test hosts")
        fleet.hosts = lib.TestHosts(args.machines, prefix="p")
        fleet.write()
        results["runs"]["first"], _ = fleet.run("first deploy (all machines)", "--json", "deploy")
        changed = fleet.hosts.names[0]
        rounds = []
        for i in range(args.rounds):
            fleet.write(changed=changed, tag=f"v{i + 2}")
            log(f"round {i + 1}: machine {changed} changed")
            # Build the new system first: no run below pays for the build, so they compare
            # planning and deploying alone.
            fleet.run("build the changed system", "deploy", "--goal", "build")
            rounds.append({
                "evalOnly": fleet.run("fedi deploy --goal build (eval, built)", "deploy",
                                      "--goal", "build")[0],
                "planSwitch": fleet.plan_row("fedi plan (goal switch)", "switch"),
                "planPush": fleet.plan_row("fedi plan --goal push", "push"),
                "deploy": fleet.run("fedi deploy of the change", "--json", "deploy")[0],
            })
        results["rounds"] = rounds
        other = fleet.hosts.names[1]
        system = json.loads(fleet.run("deploy (to read a system)", "--json", "deploy", "--on",
                                      other)[1].stdout)["machines"][0]["system"]
        results["probe"] = fleet.probe_round_trip(other, system)
        runs = results["runs"]
        runs["planAfter"] = fleet.plan_row("fedi plan after it (nothing changes)", "switch")
        runs["deployAgain"], _ = fleet.run("fedi deploy again (nothing changes)", "--json",
                                           "deploy")
    finally:
        fleet.close()
    results["loadAfter"] = loadavg()
    med = {k: statistics.median(r[k]["seconds"] for r in rounds) for k in rounds[0]}
    results["medians"] = med
    log(f"\nmedians over {len(rounds)} rounds (seconds): " +
        ", ".join(f"{k} {v:.2f}" for k, v in med.items()))
    log(f"plan (switch) / deploy of the change: {med['planSwitch'] / med['deploy']:.2f}")
    log(f"plan (push)   / deploy of the change: {med['planPush'] / med['deploy']:.2f}")
    log(f"beyond evaluation (minus `deploy --goal build`): plan (switch) "
        f"{med['planSwitch'] - med['evalOnly']:.2f} s, deploy {med['deploy'] - med['evalOnly']:.2f} s")
    log(f"plan after / deploy with nothing to do: "
        f"{runs['planAfter']['seconds'] / runs['deployAgain']['seconds']:.2f}")
    last = rounds[-1]
    for key, row in (("planSwitch", last["planSwitch"]), ("planPush", last["planPush"]),
                     ("planAfter", runs["planAfter"])):
        log(f"{key}: machines with system changes {row['systemChanges']}, "
            f"{row['bytesToSend']} bytes to send; errors: {row['errors']}")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
