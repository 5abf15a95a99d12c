#!/usr/bin/env python3
"""Closure push benchmark: fedi against its peers, side by side, in one run.

Scenarios (see bench/README.md):
  a  one large closure to one host: fedi, nix copy (ssh://, ssh-ng://), nix-copy-closure,
     raw `nix-store --export | ssh host 'cat > /dev/null'`
  b  many small paths to one host: fedi, nix copy (ssh://, ssh-ng://)
  c  b's small paths and a large closure (a's blobs, 64 MB) through a TCP proxy adding
     latency each way (20 and 50 ms): fedi, nix copy ssh-ng:// (and ssh:// on request)
  d  a fleet of N hosts receiving the same closure: fedi, a sequential nix copy loop,
     nix copy in parallel (xargs -P10)
  e  fedi's peak RSS (taken from its run in a, and every other fedi run)

Each tool pushes to a host whose store lacks the closure (a fresh test host for a, b, c;
fleet hosts wiped with nix-store --delete between tools for d), and the result is
checked on the host. Prints times and ratios; asserts nothing about speed.
Needs root (test hosts), Nix, OpenSSH, openssl, /usr/bin/time. Standard library only.
"""

import argparse
import json
import os
import pathlib
import platform
import re
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

NIX = ["nix", "--extra-experimental-features", "nix-command"]
TIME = "/usr/bin/time"
# `sh -c NIX_COPY_LOOP sh PATH HOST...`: nix copy to each host in turn.
NIX_COPY_LOOP = ('p=$1; shift; for h in "$@"; do '
                 'nix --extra-experimental-features nix-command copy '
                 '--no-check-sigs --to "ssh://$h" "$p" || exit 1; done')


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def loadavg():
    return pathlib.Path("/proc/loadavg").read_text().split()[0:3]


def sh_out(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def machine_description():
    cpu = "?"
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in pathlib.Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    ssh_v = subprocess.run(["ssh", "-V"], capture_output=True, text=True).stderr.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "nix": sh_out("nix", "--version"),
        "openssh": ssh_v,
        "python": platform.python_version(),
        "load": " ".join(loadavg()),
    }


class Bench:
    def __init__(self, args):
        self.args = args
        self.fedi = str(pathlib.Path(args.fedi).resolve())
        self.work = pathlib.Path(tempfile.mkdtemp(prefix="fedi-bench-"))
        self.hosts_root = pathlib.Path(tempfile.mkdtemp(prefix="fedi-bench-hosts-", dir=hosts_dir(args)))
        self.home = self.work / "home"
        self.home.mkdir()
        self.env = lib.nix_env()
        self.env["NIX_CONFIG"] += "\nmax-jobs = auto"
        self.env["HOME"] = str(self.home)
        self.env.pop("SSH_AUTH_SOCK", None)
        self.results = {"machine": machine_description(), "scenarios": {}}
        self.results["machine"]["hostsFilesystem"] = sh_out("stat", "-f", "-c", "%T", str(self.hosts_root))
        self.proxies = []
        self.hostsets = []
        self.serial = 0
        self.last_cpu = 0.0

    def close(self):
        for p in self.proxies:
            stop_proxy(p)
        for h in self.hostsets:
            h.stop()
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)
            shutil.rmtree(self.hosts_root, ignore_errors=True)

    # ---- building and describing closures ----

    def build(self, expr):
        start = time.time()
        out = lib.nix_build(expr, env=self.env, timeout=1800)
        paths = subprocess.run(["nix-store", "-qR", out], capture_output=True, text=True,
                               check=True).stdout.split()
        sizes = subprocess.run(["nix-store", "-q", "--size", *paths], capture_output=True, text=True,
                               check=True).stdout.split()
        info = {"path": out, "paths": len(paths), "narBytes": sum(int(s) for s in sizes),
                "buildSeconds": round(time.time() - start, 1)}
        log(f"closure {out}: {info['paths']} paths, {info['narBytes'] / 1e6:.1f} MB "
            f"(built/checked in {info['buildSeconds']} s)")
        return info

    # ---- hosts and SSH configuration ----

    def hosts(self, count, prefix):
        h = lib.TestHosts(count, prefix=prefix,
                          dir=tempfile.mkdtemp(prefix=f"{prefix}-", dir=self.hosts_root))
        self.hostsets.append(h)
        return h

    def release(self, hosts):
        hosts.stop()
        self.hostsets.remove(hosts)
        if not self.args.keep:
            shutil.rmtree(hosts.dir, ignore_errors=True)

    def ssh_config(self, hosts, ports=None):
        """An ssh_config naming each host by its test-host name (alias "<name>"), and the
        known_hosts it checks against. ports: {name: port} to go through (proxies)."""
        self.serial += 1
        d = self.work / f"ssh{self.serial}"
        d.mkdir()
        known = d / "known_hosts"
        known.write_text("".join(f"{h['name']} {h['hostKey']}\n" for h in hosts.hosts))
        blocks = []
        for h in hosts.hosts:
            port = (ports or {}).get(h["name"], h["port"])
            blocks.append(
                f"Host {h['name']}\n  HostName {h['host']}\n  Port {port}\n  User {h['user']}\n"
                f"  HostKeyAlias {h['name']}\n  IdentityFile {hosts.identity_file()}\n"
                f"  IdentitiesOnly yes\n  UserKnownHostsFile {known}\n"
                f"  StrictHostKeyChecking yes\n  BatchMode yes\n  ConnectTimeout 20\n")
        cfg = d / "config"
        cfg.write_text("".join(blocks))
        return cfg

    def deployment(self, hosts, names, system_expr, ports=None, extra=None):
        """A directory with a deployment.nix pushing system_expr to the named hosts (extra:
        further top-level attributes, render_deployment's)."""
        self.serial += 1
        d = self.work / f"deploy{self.serial}"
        machines = {}
        for n in names:
            m = lib.machine(hosts[n], identity_file=hosts.identity_file(), system=lib.Nix(system_expr))
            if ports and n in ports:
                m["ssh"]["port"] = ports[n]
            machines[n] = m
        lib.write_file(d / "deployment.nix", lib.render_deployment(machines, extra))
        return d

    def wipe(self, hosts, names, closure):
        """Delete the closure from the hosts' stores (nothing roots it there)."""
        paths = subprocess.run(["nix-store", "-qR", closure], capture_output=True, text=True,
                               check=True).stdout.split()
        for n in names:
            r = hosts.exec(n, "sh", "-c", 'nix-store --delete "$@" >/dev/null 2>&1; '
                           'nix-store --check-validity "$@" 2>/dev/null && echo still-there; true',
                           "sh", *paths, timeout=300)
            if "still-there" in r.stdout:
                raise RuntimeError(f"could not wipe {closure} from {n}: {r.stderr}")

    def verify(self, hosts, names, path):
        for n in names:
            r = hosts.exec(n, "nix-store", "--check-validity", path, timeout=120)
            if r.returncode != 0:
                raise RuntimeError(f"{path} is not valid on {n} after the push: {r.stderr.strip()}")

    # ---- running tools ----

    def timed(self, label, cmd, env=None, cwd=None, timeout=None):
        """Runs cmd under /usr/bin/time; returns (seconds, max RSS in KiB, CompletedProcess)."""
        timeout = timeout or self.args.timeout
        subprocess.run(["sync"], check=False)  # earlier runs' writeback must not land on this one
        rss_file = self.work / "rss"
        full = [TIME, "-f", "%M %U %S", "-o", str(rss_file), *cmd]
        start = time.monotonic()
        r = subprocess.run(full, env=env or self.env, cwd=cwd, capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        secs = time.monotonic() - start
        if r.returncode != 0:
            raise RuntimeError(f"{label} failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}")
        # The last line (earlier ones: "Command exited with non-zero status").
        rss, user, system = rss_file.read_text().splitlines()[-1].split()
        self.last_cpu = float(user) + float(system)
        return secs, int(rss), r

    def ssh_env(self, cfg):
        env = dict(self.env)
        env["NIX_SSHOPTS"] = f"-F {cfg}"
        return env

    def run_fedi(self, deploy_dir, expect_paths=None, extra_args=()):
        secs, rss, r = self.timed("fedi deploy", [self.fedi, "--json", "deploy", "--goal", "push",
                                                  *self.args.fedi_args.split(), *extra_args],
                                  cwd=deploy_dir)
        doc = json.loads(r.stdout)
        machines = doc["machines"]
        bad = [m for m in machines if m["result"] != "pushed"]
        if bad:
            raise RuntimeError(f"fedi did not push to {bad}")
        if expect_paths is not None:
            for m in machines:
                if m["pathsSent"] != expect_paths:
                    raise RuntimeError(f"fedi sent {m['pathsSent']} paths to {m['name']}, "
                                       f"expected {expect_paths}")
        return {"seconds": secs, "rssKiB": rss, "cpuSeconds": self.last_cpu,
                "pushSeconds": max(m["seconds"] for m in machines),
                "bytesSent": sum(m["bytesSent"] for m in machines), "upload": doc.get("upload"),
                "fetchedFromCache": sum(m.get("fetched", {}).get("cache", {}).get("paths", 0)
                                        for m in machines)}

    def run_tool(self, tool, hosts, name, closure, cfg, deploy_dir=None):
        """One tool pushing closure (info dict) to one host; returns a result dict."""
        path = closure["path"]
        env = self.ssh_env(cfg)
        if tool == "fedi":
            res = self.run_fedi(deploy_dir, expect_paths=closure["paths"])
        elif tool in ("nix copy ssh://", "nix copy ssh-ng://"):
            scheme = "ssh-ng" if "ng" in tool else "ssh"
            secs, rss, _ = self.timed(tool, [*NIX, "copy", "--no-check-sigs", "--to",
                                             f"{scheme}://{name}", path], env=env)
            res = {"seconds": secs, "rssKiB": rss}
        elif tool == "nix-copy-closure":
            secs, rss, _ = self.timed(tool, ["nix-copy-closure", "--to", name, path], env=env)
            res = {"seconds": secs, "rssKiB": rss}
        elif tool == "export | import, no ssh":
            # The host's own store work, without SSH: a floor for every tool that makes the
            # host's Nix add the paths.
            script = ('nix-store --export $(nix-store -qR "$1") | '
                      '"$2" exec --dir "$3" "$4" -- nix-store --import > /dev/null')
            secs, rss, _ = self.timed(tool, ["sh", "-c", script, "sh", path, str(lib.TESTHOSTS),
                                             str(hosts.dir), name], env=env)
            res = {"seconds": secs}
        elif tool == "raw ssh cat":
            script = ('nix-store --export $(nix-store -qR "$1") | ssh -F "$2" "$3" "cat > /dev/null"')
            secs, rss, _ = self.timed(tool, ["sh", "-c", script, "sh", path, str(cfg), name], env=env)
            res = {"seconds": secs}
        else:
            raise ValueError(tool)
        if tool != "raw ssh cat":
            self.verify(hosts, [name], path)
        res.setdefault("cpuSeconds", self.last_cpu)
        res["MBps"] = closure["narBytes"] / 1e6 / res["seconds"]
        res["load"] = loadavg()[0]
        return res

    def one_host_scenario(self, key, title, closure, tools, delay_ms=0, rounds=1):
        """Each tool (each round) pushes closure to its own fresh host."""
        runs = {t: [] for t in tools}
        scen = {"title": title, "closure": closure, "loadBefore": " ".join(loadavg()), "runs": runs}
        log(f"\n== {key}: {title}")
        for rnd in range(rounds):
            order = tools if rnd % 2 == 0 else list(reversed(tools))
            tag = "".join(ch for ch in key if ch.isalnum())  # "c small 20ms" -> "csmall20ms"
            hosts = self.hosts(len(order), prefix=f"{tag}r{rnd}t")
            try:
                names = hosts.names
                ports = None
                if delay_ms:
                    ports = {n: self.proxy(hosts[n]["port"], delay_ms) for n in names}
                cfg = self.ssh_config(hosts, ports)
                if delay_ms and rnd == 0:
                    scen["sshTrueSeconds"] = self.ssh_true(cfg, names[0])
                    scen["sshTrueDirectSeconds"] = self.ssh_true(self.ssh_config(hosts), names[0])
                for tool, name in zip(order, names):
                    dep = self.deployment(hosts, [name], closure_expr(closure), ports) if tool == "fedi" else None
                    try:
                        res = self.run_tool(tool, hosts, name, closure, cfg, dep)
                    except (RuntimeError, subprocess.TimeoutExpired) as e:
                        log(f"  {tool}: FAILED: {str(e)[-1500:]}")
                        res = {"error": str(e)[-1500:]}
                    runs[tool].append(res)
                    if "seconds" in res:
                        extra = f", fedi push {res['pushSeconds']:.2f} s" if "pushSeconds" in res else ""
                        rss = f", max RSS {res['rssKiB'] / 1024:.0f} MiB" if "rssKiB" in res else ""
                        log(f"  round {rnd + 1} {tool:<24} {res['seconds']:8.2f} s "
                            f"{res['MBps']:8.1f} MB/s, local CPU {res['cpuSeconds']:.2f} s{extra}{rss} "
                            f"(load {res['load']})")
            finally:
                if delay_ms:
                    for p in self.proxies:
                        stop_proxy(p)
                    self.proxies = []
                self.release(hosts)
        scen["loadAfter"] = " ".join(loadavg())
        self.results["scenarios"][key] = scen
        return scen

    def proxy(self, port, delay_ms):
        p = subprocess.Popen([sys.executable, str(HERE / "latency_proxy.py"), "--target", str(port),
                              "--delay-ms", str(delay_ms), "--lifetime", str(self.args.timeout * 4)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.proxies.append(p)
        return int(p.stdout.readline())

    def ssh_true(self, cfg, name):
        start = time.monotonic()
        subprocess.run(["ssh", "-F", str(cfg), name, "true"], check=True, timeout=60,
                       stdin=subprocess.DEVNULL)
        return time.monotonic() - start

    def fleet_scenario(self, closure, sizes):
        biggest = max(sizes)
        log(f"\n== d: fleet of {', '.join(map(str, sizes))} hosts, one closure")
        scen = {"title": "fleet", "closure": closure, "loadBefore": " ".join(loadavg()), "runs": {}}
        hosts = self.hosts(biggest, prefix="f")
        try:
            cfg = self.ssh_config(hosts)
            env = self.ssh_env(cfg)
            path = closure["path"]
            for n in sizes:
                names = hosts.names[:n]
                row = {}
                tools = ["fedi", "nix copy sequential", "nix copy xargs -P10"]
                for tool in tools:
                    self.wipe(hosts, names, path)
                    try:
                        if tool == "fedi":
                            res = self.run_fedi(self.deployment(hosts, names, closure_expr(closure)),
                                                expect_paths=closure["paths"])
                        elif tool == "nix copy sequential":
                            secs, rss, _ = self.timed(tool, ["sh", "-c", NIX_COPY_LOOP, "sh", path, *names],
                                                      env=env)
                            res = {"seconds": secs, "cpuSeconds": self.last_cpu}
                        else:
                            script = ('p=$1; shift; printf "%s\\n" "$@" | xargs -P10 -I{} '
                                      'nix --extra-experimental-features nix-command copy '
                                      '--no-check-sigs --to "ssh://{}" "$p"')
                            secs, rss, _ = self.timed(tool, ["sh", "-c", script, "sh", path, *names], env=env)
                            res = {"seconds": secs, "cpuSeconds": self.last_cpu}
                        self.verify(hosts, names, path)
                    except (RuntimeError, subprocess.TimeoutExpired) as e:
                        log(f"  {n} hosts {tool}: FAILED: {str(e)[-1500:]}")
                        res = {"error": str(e)[-1500:]}
                    res["load"] = loadavg()[0]
                    row[tool] = res
                    if "seconds" in res:
                        rss = f", max RSS {res['rssKiB'] / 1024:.0f} MiB" if "rssKiB" in res else ""
                        log(f"  {n:3} hosts {tool:<22} {res['seconds']:8.2f} s, local CPU "
                            f"{res['cpuSeconds']:.2f} s{rss} (load {res['load']})")
                scen["runs"][str(n)] = row
        finally:
            self.release(hosts)
        scen["loadAfter"] = " ".join(loadavg())
        self.results["scenarios"]["d"] = scen


def hosts_dir(args):
    """Where the test hosts' stores go: --hosts-dir, else /dev/shm when it is a tmpfs with
    room. On this project's bench machine the disk's ext4 spends most of a small-path
    import looking past inodes deleted minutes ago (perf: recently_deleted, as every
    earlier run and wipe deletes thousands), a cost of the aged bench disk that swamps
    what the tools do; on tmpfs the hosts cost what a target's Nix costs."""
    if args.hosts_dir:
        return args.hosts_dir
    shm = pathlib.Path("/dev/shm")
    try:
        st = os.statvfs(shm)
        if os.path.ismount(shm) and st.f_bavail * st.f_frsize >= 8 << 30:
            return str(shm)
    except OSError:
        pass
    return None


def closure_expr(closure):
    return closure["expr"]


def stop_proxy(p):
    if p.poll() is None:
        p.stdin.close()
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def with_expr(info, expr):
    info["expr"] = expr
    return info


# ---- report ----


def median_of(runs, key="seconds"):
    vals = [r[key] for r in runs if key in r]
    return statistics.median(vals) if vals else None


def latency_order(key):
    """ "c small 20ms" -> ("small", 20.0): closures together, delays ascending."""
    _, closure, delay = key.split()
    return closure, float(delay.removesuffix("ms"))


def latency_cases(args):
    """(closure kind, delay in ms) for each case of c."""
    delays = [float(x) for x in args.delay_ms.replace(" ", "").split(",") if x]
    kinds = [x for x in args.latency_closures.replace(" ", "").split(",") if x]
    bad = [k for k in kinds if k not in ("small", "large")]
    if bad or not delays or any(d <= 0 for d in delays):
        sys.exit(f"push_bench: --latency-closures takes small,large and --delay-ms positive "
                 f"numbers (got {args.latency_closures!r}, {args.delay_ms!r})")
    return [(k, d) for k in kinds for d in delays]


def blobs_closure(bench, size_mb, paths):
    each = size_mb * 1_000_000 // paths
    expr = f'import {lib.nix_path(HERE / "blobs.nix")} {{ name = "large"; paths = {paths}; bytesEach = {each}; switchable = true; }}'
    closure = with_expr(bench.build(expr), expr)
    # Warm the page cache so that the first tool does not pay for the disk.
    subprocess.run(f'nix-store --export $(nix-store -qR {closure["path"]}) > /dev/null',
                   shell=True, check=True, env=bench.env)
    return closure


def fmt_ratio(x):
    return f"{x:.2f}x" if x is not None else "n/a"


def report(results, args):
    lines = []
    m = results["machine"]
    lines.append("Machine: {nproc} CPUs ({cpu}), {memory} RAM, Linux {kernel}".format(**m))
    lines.append(f"         {m['nix']}, {m['openssh']}")
    lines.append(f"         load average at start {m['load']}, at end {' '.join(loadavg())}")
    lines.append(f"         test hosts' stores on {m['hostsFilesystem']} (--hosts-dir)")
    lines.append(f"Rounds per tool: {args.rounds} in a and b, {args.rounds_latency} in c; times are medians "
                 "of wall time (fedi: the whole `fedi deploy --goal push`, evaluation included).")
    verdicts = []
    sc = results["scenarios"]

    def one_host_table(key, baseline, baseline_is_ratio_base=False):
        s = sc[key]
        c = s["closure"]
        lines.append("")
        lines.append(f"({key}) {s['title']}: {c['paths']} paths, {c['narBytes'] / 1e6:.1f} MB "
                     f"(load {s['loadBefore']} -> {s['loadAfter']})")
        if "sshTrueSeconds" in s:
            lines.append(f"    `ssh host true`: {s['sshTrueSeconds']:.2f} s through the proxy, "
                         f"{s['sshTrueDirectSeconds']:.2f} s direct")
        fedi_t = median_of(s["runs"]["fedi"])
        lines.append(f"    {'tool':<22} {'seconds':>9} {'MB/s':>8} {'fedi speedup':>13}")
        for tool, runs in s["runs"].items():
            t = median_of(runs)
            if t is None:
                lines.append(f"    {tool:<22} {'failed':>9}")
                continue
            speed = c["narBytes"] / 1e6 / t
            sp = fmt_ratio(t / fedi_t) if fedi_t and tool != "fedi" else ""
            note = ""
            if tool == "fedi":
                push = median_of(runs, "pushSeconds")
                rss = max(r["rssKiB"] for r in runs if "rssKiB" in r)
                note = f"  (push alone {push:.2f} s; max RSS {rss / 1024:.1f} MiB)"
            lines.append(f"    {tool:<22} {t:9.2f} {speed:8.1f} {sp:>13}{note}")
        return s

    if "a" in sc:
        s = one_host_table("a", "raw ssh cat")
        f, raw = median_of(sc["a"]["runs"]["fedi"]), median_of(sc["a"]["runs"].get("raw ssh cat", []))
        if f and raw:
            ratio = raw / f
            verdicts.append(f"(a) fedi throughput / raw ssh throughput = {ratio:.2f} "
                            f"(target >= 0.8: {'met' if ratio >= 0.8 else 'NOT met'})")
            nc = median_of(sc["a"]["runs"].get("nix copy ssh://", []))
            if nc:
                verdicts.append(f"(a) nix copy ssh:// throughput / raw ssh throughput = {raw / nc:.2f}")
        rss = [r["rssKiB"] for r in sc["a"]["runs"]["fedi"] if "rssKiB" in r]
        if rss:
            verdicts.append(f"(e) fedi peak RSS pushing {s['closure']['narBytes'] / 1e6:.0f} MB: "
                            f"{max(rss) / 1024:.1f} MiB (other scenarios' fedi runs are listed above)")
    for key in ["b", *sorted((k for k in sc if k.startswith("c ")), key=latency_order)]:
        if key in sc:
            one_host_table(key, "nix copy ssh://")
            runs = sc[key]["runs"]
            f, nc = median_of(runs["fedi"]), median_of(runs.get("nix copy ssh://", []))
            if f and nc:
                ratio = nc / f
                verdicts.append(f"({key}) nix copy ssh:// takes {ratio:.2f}x fedi's time "
                                f"(target: several times, read as >= 3x: {'met' if ratio >= 3 else 'NOT met'})")
            ng = median_of(runs.get("nix copy ssh-ng://", []))
            if f and ng:
                goal = f" ({'faster' if ng > f else 'NOT faster'} than ssh-ng)" if key != "b" else ""
                verdicts.append(f"({key}) nix copy ssh-ng:// takes {ng / f:.2f}x fedi's time{goal}")
    if "d" in sc:
        s = sc["d"]
        c = s["closure"]
        lines.append("")
        lines.append(f"(d) fleet: {c['paths']} paths, {c['narBytes'] / 1e6:.1f} MB to every host "
                     f"(load {s['loadBefore']} -> {s['loadAfter']})")
        tools = ["fedi", "nix copy sequential", "nix copy xargs -P10"]
        lines.append(f"    {'hosts':>5} " + " ".join(f"{t:>22}" for t in tools) + "   fedi speedup (seq, -P10)")
        for n, row in s["runs"].items():
            cells = [f"{row[t]['seconds']:21.2f}s" if "seconds" in row[t] else f"{'failed':>22}" for t in tools]
            f = row["fedi"].get("seconds")
            sp = ", ".join(fmt_ratio(row[t]["seconds"] / f) if f and "seconds" in row[t] else "n/a"
                           for t in tools[1:])
            lines.append(f"    {n:>5} " + " ".join(cells) + f"   {sp}")
        sizes = sorted(int(n) for n in s["runs"])
        if len(sizes) > 1 and "seconds" in s["runs"][str(sizes[0])]["fedi"]:
            t1 = s["runs"][str(sizes[0])]["fedi"]["seconds"]
            for n in sizes[1:]:
                tn = s["runs"][str(n)]["fedi"].get("seconds")
                if tn:
                    # "Well under" read as: at most half of linear growth.
                    ratio = tn / t1
                    ok = ratio <= 0.5 * n / sizes[0]
                    verdicts.append(f"(d) fedi to {n} hosts takes {ratio:.1f}x the time of {sizes[0]} "
                                    f"(target: well under {n // sizes[0]}x, read as <= {n / sizes[0] / 2:g}x: "
                                    f"{'met' if ok else 'NOT met'})")
        rss = [row["fedi"]["rssKiB"] for row in s["runs"].values() if "rssKiB" in row["fedi"]]
        if rss:
            lines.append(f"    fedi max RSS over the fleet runs: {max(rss) / 1024:.1f} MiB")
    lines.append("")
    lines.append("Targets:")
    lines.extend("  " + v for v in verdicts)
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description="fedi push benchmark (see bench/README.md)")
    p.add_argument("--fedi", default=os.environ.get("FEDI_BIN") or str(SOURCE / "build" / "cli" / "fedi"),
                   help="the fedi binary (default: $FEDI_BIN or build/cli/fedi)")
    p.add_argument("--only", default="a,b,c,d", help="scenarios to run (default a,b,c,d; e comes with a)")
    p.add_argument("--size-mb", type=int, default=512, help="(a) closure size in MB (default 512)")
    p.add_argument("--large-paths", type=int, default=8, help="(a) blob paths in it (default 8)")
    p.add_argument("--small-paths", type=int, default=3000, help="(b, c) payload paths (default 3000)")
    p.add_argument("--small-size", type=int, default=4096, help="(b, c) bytes per small path")
    p.add_argument("--delay-ms", default="20,50",
                   help="(c) latencies added each way, one case each (default 20,50)")
    p.add_argument("--latency-closures", default="small,large",
                   help="(c) closures pushed through the latency: small (b's paths), large (blobs)")
    p.add_argument("--latency-size-mb", type=int, default=64, help="(c) large closure size in MB (default 64)")
    p.add_argument("--latency-ssh-copy", action="store_true",
                   help="(c) also run nix copy --to ssh:// (minutes per case: one round trip per path)")
    p.add_argument("--fleet", default="1,10,30", help="(d) fleet sizes (default 1,10,30)")
    p.add_argument("--fleet-size-mb", type=int, default=64, help="(d) closure size in MB (default 64)")
    p.add_argument("--rounds", type=int, default=2, help="rounds per tool in a and b (median; default 2)")
    p.add_argument("--rounds-latency", type=int, default=3, help="rounds per tool in c (default 3)")
    p.add_argument("--hosts-dir", help="where the test hosts' stores go (default: /dev/shm when it "
                                       "is a tmpfs with 8 GiB free, else the temporary directory)")
    p.add_argument("--no-ssh-ng", action="store_true", help="leave out nix copy --to ssh-ng://")
    p.add_argument("--fedi-args", default="", help="more arguments for `fedi deploy` (e.g. \"--max-pushes 8\")")
    p.add_argument("--timeout", type=int, default=900, help="seconds any one tool run may take")
    p.add_argument("--json", help="also write the results to this file")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    args = p.parse_args()
    only = set(args.only.replace(" ", "").split(","))
    if os.geteuid() != 0:
        sys.exit("push_bench: run as root (the test hosts need namespaces)")
    for tool in (args.fedi, TIME):
        if not os.access(tool, os.X_OK):
            sys.exit(f"push_bench: {tool} is missing (build fedi; apt-get install time)")

    bench = Bench(args)
    log("machine: " + json.dumps(bench.results["machine"]))
    start = time.time()
    try:
        ng = [] if args.no_ssh_ng else ["nix copy ssh-ng://"]
        cases = latency_cases(args) if "c" in only else []
        if "a" in only or "e" in only:
            closure = blobs_closure(bench, args.size_mb, args.large_paths)
            bench.one_host_scenario("a", "one large closure to one host", closure,
                                    ["raw ssh cat", "fedi", "nix copy ssh://", *ng, "nix-copy-closure"],
                                    rounds=args.rounds)
        closures = {}
        if "b" in only or any(kind == "small" for kind, _ in cases):
            expr = (f'(import {lib.nix_path(HERE / "small-paths.nix")} '
                    f'{{ count = {args.small_paths}; size = {args.small_size}; }}).out')
            closures["small"] = with_expr(bench.build(expr), expr)
            if "b" in only:
                bench.one_host_scenario("b", "many small paths to one host", closures["small"],
                                        ["fedi", "nix copy ssh://", *ng, "export | import, no ssh"],
                                        rounds=args.rounds)
        if any(kind == "large" for kind, _ in cases):
            closures["large"] = blobs_closure(bench, args.latency_size_mb, args.large_paths)
        plain = ["nix copy ssh://"] if args.latency_ssh_copy else []
        for kind, delay in cases:
            what = "many small paths" if kind == "small" else "one large closure"
            bench.one_host_scenario(f"c {kind} {delay:g}ms", f"{what}, {delay:g} ms added each way",
                                    closures[kind], ["fedi", *ng, *plain], delay_ms=delay,
                                    rounds=args.rounds_latency)
        if "d" in only:
            sizes = sorted(int(x) for x in args.fleet.split(","))
            each = args.fleet_size_mb * 1_000_000 // 4
            expr = f'import {lib.nix_path(HERE / "blobs.nix")} {{ name = "fleet"; paths = 4; bytesEach = {each}; switchable = true; }}'
            closure = with_expr(bench.build(expr), expr)
            bench.fleet_scenario(closure, sizes)
    finally:
        bench.close()
    text = report(bench.results, args)
    text += f"\n\nTotal benchmark time: {time.time() - start:.0f} s"
    print(text)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(bench.results, indent=2) + "\n")


if __name__ == "__main__":
    main()
