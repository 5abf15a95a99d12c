#!/usr/bin/env python3
"""Fleet fan-out benchmark: one closure to N machines over the deployer's limited link.

    fleet_cache_bench.py [--fleet 1,10,30] [--size-mb 64] [--rate-mbit 100] [--json FILE]

The deployer's uplink is one latency_proxy.py --shared-link --rate-mbit N (default 100)
in front of every test host's sshd and of the S3 endpoint fedi uploads the cache to: all
the deployer sends goes through it, and the proxy counts it. The machines fetch from the
cache (a real Ceph RGW, test/servers/rgw/rgw, a public-read bucket) on loopback, not
limited. For each fleet size, with the closure wiped from the hosts before each tool:

  fedi --transfer cache   fedi deploy --goal push, the deployment's cache a fresh bucket
  fedi --transfer push    fedi deploy --goal push, every machine pushed to
  nix copy loop           nix copy --to ssh://HOST for each host in turn

Prints wall times, the bytes that went through the deployer's link, and ratios; asserts
nothing about speed. Needs root (test hosts), Nix, OpenSSH, radosgw, openssl,
/usr/bin/time. Standard library only. See bench/README.md.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import push_bench as pb  # noqa: E402
from push_bench import lib  # noqa: E402
import storage_testlib as slib  # noqa: E402

TOOLS = ["fedi --transfer cache", "fedi --transfer push", "nix copy loop"]


class Cleanups:
    """What lib.start_rgw registers (a test class's addClassCleanup), run at the end."""

    def __init__(self):
        self.calls = []

    def addClassCleanup(self, fn, *args, **kwargs):
        self.calls.append((fn, args, kwargs))

    def run(self):
        for fn, args, kwargs in reversed(self.calls):
            fn(*args, **kwargs)


class FleetCacheBench:
    def __init__(self, args):
        self.args = args
        self.bench = pb.Bench(args)
        self.cleanups = Cleanups()
        self.results = {"machine": self.bench.results["machine"], "rateMbit": args.rate_mbit,
                        "compression": args.compression, "runs": {}}
        self.secret_key, self.public_key = lib.cache_keys(self.bench.work)

    def close(self):
        try:
            self.bench.close()
        finally:
            self.cleanups.run()

    def start(self, count):
        _, self.rgw = lib.start_rgw(self.cleanups)
        self.hosts = self.bench.hosts(count, prefix="fc")

    def link(self, names):
        """A fresh shared link: {host name: its port through the link}, the S3 port."""
        rgw_port = int(self.rgw["endpoint"].rsplit(":", 1)[1])
        targets = [self.hosts[n]["port"] for n in names] + [rgw_port]
        p = subprocess.Popen([sys.executable, str(HERE / "latency_proxy.py"), "--delay-ms", "0",
                              "--rate-mbit", str(self.args.rate_mbit), "--shared-link",
                              "--count-bytes", "--lifetime", str(self.args.timeout * 4),
                              *[a for t in targets for a in ("--target", str(t))]],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        ports = [int(p.stdout.readline()) for _ in targets]
        return p, dict(zip(names, ports)), ports[-1]

    def run(self, tool, closure, names):
        """One tool to the named hosts through a fresh link; a result dict."""
        proxy, ports, s3_port = self.link(names)
        try:
            if tool.startswith("fedi"):
                res = self.run_fedi(tool, closure, names, ports, s3_port)
            else:
                cfg = self.bench.ssh_config(self.hosts, ports)
                secs, _, _ = self.bench.timed(tool, ["sh", "-c", pb.NIX_COPY_LOOP, "sh",
                                                     closure["path"], *names],
                                              env=self.bench.ssh_env(cfg))
                res = {"seconds": secs}
        finally:
            proxy.stdin.close()
            counted = json.loads(proxy.stdout.readline())
            proxy.wait()
        self.bench.verify(self.hosts, names, closure["path"])
        res["linkBytes"] = counted["up"]
        res["cpuSeconds"] = self.bench.last_cpu
        res["load"] = pb.loadavg()[0]
        return res

    def run_fedi(self, tool, closure, names, ports, s3_port):
        extra = None
        if tool.endswith("cache"):
            bucket = f"fleet-bench-{time.time_ns() % 10**9}"
            # fedi uploads through the link; the machines fetch from the RGW directly.
            via_link = dict(self.rgw, endpoint=f"http://127.0.0.1:{s3_port}")
            extra = slib.rgw_cache(self.bench.work, via_link, bucket, self.secret_key,
                                   self.public_key, url=f"{self.rgw['endpoint']}/{bucket}",
                                   compression=self.args.compression)
        d = self.bench.deployment(self.hosts, names, closure["expr"], ports, extra)
        transfer = tool.rsplit(" ", 1)[1]
        res = self.bench.run_fedi(d, expect_paths=0 if transfer == "cache" else closure["paths"],
                                  extra_args=("--transfer", transfer))
        if transfer == "cache" and res["fetchedFromCache"] != closure["paths"] * len(names):
            raise RuntimeError(f"the machines fetched {res['fetchedFromCache']} paths from the "
                               f"cache, not {closure['paths']} each")
        return res

    def fleet(self, closure, sizes):
        for n in sizes:
            names = self.hosts.names[:n]
            row = self.results["runs"][str(n)] = {}
            for tool in TOOLS:
                self.bench.wipe(self.hosts, names, closure["path"])
                try:
                    res = self.run(tool, closure, names)
                except (RuntimeError, subprocess.TimeoutExpired) as e:
                    pb.log(f"  {n} hosts {tool}: FAILED: {str(e)[-1500:]}")
                    res = {"error": str(e)[-1500:]}
                row[tool] = res
                if "seconds" in res:
                    pb.log(f"  {n:3} hosts {tool:<22} {res['seconds']:8.2f} s, deployer sent "
                           f"{res['linkBytes'] / 1e6:8.1f} MB, local CPU {res['cpuSeconds']:.1f} s "
                           f"(load {res['load']})")


def ratio(a, b):
    return a / b if a is not None and b else None


def report(results, closure):
    one = closure["narBytes"]
    lines = ["Machine: {nproc} CPUs ({cpu}), {memory} RAM, Linux {kernel}".format(**results["machine"]),
             f"Closure: {closure['paths']} paths, {one / 1e6:.1f} MB of NARs; deployer link "
             f"{results['rateMbit']:g} Mbit/s; cache compression {results['compression']}", "",
             f"{'hosts':>5} {'tool':<22} {'seconds':>8} {'sent MB':>8} {'sent/closure':>12}"]
    verdicts = []
    for n, row in results["runs"].items():
        for tool in TOOLS:
            r = row.get(tool, {})
            if "seconds" not in r:
                lines.append(f"{n:>5} {tool:<22} {'failed':>8}")
                continue
            lines.append(f"{n:>5} {tool:<22} {r['seconds']:8.2f} {r['linkBytes'] / 1e6:8.1f} "
                         f"{r['linkBytes'] / one:11.2f}x")
        secs = {t: row.get(t, {}).get("seconds") for t in TOOLS}
        cache = row.get(TOOLS[0], {})
        lines.append(f"{'':>5} cache faster than push {pb.fmt_ratio(ratio(secs[TOOLS[1]], secs[TOOLS[0]]))}, "
                     f"than nix copy loop {pb.fmt_ratio(ratio(secs[TOOLS[2]], secs[TOOLS[0]]))}")
        if "linkBytes" in cache:
            up = cache["linkBytes"] / one
            verdicts.append(f"{n} hosts: deployer upload {up:.2f}x one closure "
                            f"({'met' if up <= 1.1 else 'NOT met'}: target <= 1.1x)")
        if int(n) >= 30 and secs[TOOLS[0]] and secs[TOOLS[1]]:
            x = secs[TOOLS[1]] / secs[TOOLS[0]]
            verdicts.append(f"{n} hosts: cache {x:.1f}x faster than push "
                            f"({'met' if x >= 5 else 'NOT met'}: target >= 5x)")
    if not any(int(n) >= 30 for n in results["runs"]):
        verdicts.append("30 hosts: not run (the 5x target is about 30 machines)")
    return "\n".join(lines + ["", "Targets:"] + ["  " + v for v in verdicts])


def main():
    p = argparse.ArgumentParser(description="fedi fleet fan-out benchmark (see bench/README.md)")
    p.add_argument("--fedi", default=os.environ.get("FEDI_BIN") or str(pb.SOURCE / "build" / "cli" / "fedi"),
                   help="the fedi binary (default: $FEDI_BIN or build/cli/fedi)")
    p.add_argument("--fleet", default="1,10,30", help="fleet sizes (default 1,10,30)")
    p.add_argument("--size-mb", type=int, default=64, help="closure size in MB (default 64)")
    p.add_argument("--rate-mbit", type=float, default=100, help="the deployer's link (default 100)")
    p.add_argument("--compression", default="none",
                   help="the cache's compression (default none: the blobs are incompressible)")
    p.add_argument("--fedi-args", default="", help="more arguments for `fedi deploy`")
    p.add_argument("--timeout", type=int, default=1800, help="seconds any one tool run may take")
    p.add_argument("--json", help="also write the results to this file")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    args = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("fleet_cache_bench: run as root (the test hosts need namespaces)")
    if not os.access(args.fedi, os.X_OK):
        sys.exit(f"fleet_cache_bench: {args.fedi} is missing (build fedi)")
    sizes = sorted(int(x) for x in args.fleet.split(","))
    start = time.time()
    fb = FleetCacheBench(args)
    try:
        expr = (f'import {lib.nix_path(HERE / "blobs.nix")} {{ name = "fleet-cache"; paths = 4; '
                f'bytesEach = {args.size_mb * 1_000_000 // 4}; switchable = true; }}')
        closure = pb.with_expr(fb.bench.build(expr), expr)
        fb.results["closure"] = closure
        fb.start(max(sizes))
        pb.log(f"\n== fleet of {', '.join(map(str, sizes))} hosts, {args.rate_mbit:g} Mbit/s link")
        fb.fleet(closure, sizes)
    finally:
        fb.close()
    text = report(fb.results, closure) + f"\n\nTotal benchmark time: {time.time() - start:.0f} s"
    print(text)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(fb.results, indent=2) + "\n")


if __name__ == "__main__":
    main()
