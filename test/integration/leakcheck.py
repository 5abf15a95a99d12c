"""Looking for secrets where they must never be: process arguments (sampled with `ps` on
the deployer and inside test hosts while fedi runs), fedi's own output, and Nix stores.
"""
import os
import pathlib
import subprocess
import threading
import time


class PsSampler:
    """Samples `ps -eo args` on this machine and inside the given test hosts until
    stopped. Use as a context manager around the fedi run to watch."""

    def __init__(self, hosts=None, names=(), interval=0.02):
        self.hosts = hosts
        self.names = list(names)
        self.interval = interval
        self.samples = []  # (where, text)
        self._stop = threading.Event()
        self._threads = []

    def _local(self):
        while not self._stop.is_set():
            r = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True)
            self.samples.append(("deployer", r.stdout))
            time.sleep(self.interval)

    def _host(self, name):
        while not self._stop.is_set():
            r = self.hosts.exec(name, "ps", "-eo", "args")
            self.samples.append((name, r.stdout))

    def __enter__(self):
        self._threads.append(threading.Thread(target=self._local, daemon=True))
        for n in self.names:
            self._threads.append(threading.Thread(target=self._host, args=(n,), daemon=True))
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)

    def count(self, where):
        return sum(1 for w, _ in self.samples if w == where)

    def find(self, secret):
        """Where the secret was seen, or None."""
        for where, text in self.samples:
            if secret in text:
                return where
        return None


class StoreMarker:
    """Store paths of this machine's /nix/store made after the marker was set."""

    def __init__(self):
        self.since = time.time() - 1

    def new_paths(self):
        out = []
        with os.scandir("/nix/store") as it:
            for e in it:
                try:
                    if e.stat(follow_symlinks=False).st_mtime >= self.since or \
                            e.stat(follow_symlinks=False).st_ctime >= self.since:
                        out.append(e.path)
                except FileNotFoundError:
                    pass
        return out


def grep_paths(paths, secret):
    """The first file under paths whose bytes contain secret, or None."""
    needle = secret.encode()
    for p in paths:
        p = pathlib.Path(p)
        files = [p] if not p.is_dir() or p.is_symlink() else [f for f in p.rglob("*")]
        for f in files:
            try:
                if f.is_file() and not f.is_symlink() and needle in f.read_bytes():
                    return str(f)
            except (PermissionError, FileNotFoundError, IsADirectoryError):
                pass
    return None


def host_store(hosts, name):
    """The directory that is the test host's /nix/store (private to it)."""
    return os.path.join(hosts[name]["root"], "nix", "store")
