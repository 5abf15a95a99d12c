"""Helpers for fedi's integration tests (Python standard library only).

- TestHosts: SSH test hosts started with test/hosts/testhosts (private /nix, /var/lib,
  /run, hostname each), stopped with the object or when the test process dies.
- nix_env(): the environment for Nix and fedi (no substituters, no sandbox: no network).
- Nix rendering: to_nix(), system_expr(), machine(), render_deployment().
- run_fedi(): run the fedi binary under test (env FEDI_BIN).
"""

import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
SOURCE_DIR = pathlib.Path(os.environ.get("FEDI_SOURCE_DIR") or HERE.parent.parent).resolve()
TESTHOSTS = SOURCE_DIR / "test" / "hosts" / "testhosts"
MINIMAL_SYSTEM = SOURCE_DIR / "resources" / "minimal-system.nix"

# Set FEDI_KEEP_TEST_DIRS=1 to keep host directories (logs, stores) after a test.
KEEP_DIRS = os.environ.get("FEDI_KEEP_TEST_DIRS") == "1"


def nix_env(base=None):
    """The environment to run Nix and fedi with: nothing tries the network."""
    env = dict(os.environ if base is None else base)
    ours = "substituters =\nsandbox = false"
    env["NIX_CONFIG"] = env["NIX_CONFIG"] + "\n" + ours if env.get("NIX_CONFIG") else ours
    return env


def isolated_env(home):
    """nix_env() with a private HOME (no known_hosts, no keys of the machine's user) and
    no ssh-agent: fedi sees only what a test gives it."""
    env = nix_env()
    env["HOME"] = str(home)
    env.pop("SSH_AUTH_SOCK", None)
    return env


def private_workdir(test, prefix):
    """For a test: a directory of its own (test.dir, removed after it) with a private HOME
    in it (test.home) and the environment that uses it (test.env, isolated_env's)."""
    test.dir = tempfile.mkdtemp(prefix=prefix)
    test.addCleanup(shutil.rmtree, test.dir, True)
    test.home = os.path.join(test.dir, "home")
    os.makedirs(test.home)
    test.env = isolated_env(test.home)


def reset_hosts(hosts):
    """Puts every test host back to never deployed: no system profile, no running
    system, no test-system state; its sshd running."""
    for h in hosts.hosts:
        hosts.exec(h["name"], "sh", "-c",
                   "rm -rf /nix/var/nix/profiles/system* /run/current-system /var/lib/fedi-test; "
                   "[ ! -x /run/testhost/sshd-start ] || /run/testhost/sshd-start")


def write_file(path, text, mode=None):
    """Write text to path (creating parent directories); returns the path."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mode is not None:
        path.chmod(mode)
    return path


def run_fedi(args, cwd, env=None, input=None, timeout=600):
    """Run the fedi binary under test; stdin is empty unless input is given."""
    return subprocess.run(
        [os.environ["FEDI_BIN"], *[str(a) for a in args]],
        cwd=cwd,
        env=nix_env() if env is None else env,
        input=input,
        stdin=subprocess.DEVNULL if input is None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def nix_build(expr, env=None, timeout=300):
    """Build a Nix expression (a string) on this machine; returns its store path."""
    proc = subprocess.run(
        ["nix-build", "--no-out-link", "-E", expr],
        env=nix_env() if env is None else env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"nix-build failed ({proc.returncode}) for {expr}:\n{proc.stderr}")
    return proc.stdout.strip().splitlines()[-1]


def closure(path, env=None):
    """The closure of a store path on this machine, sorted."""
    return sorted(subprocess.run(["nix-store", "-qR", path], check=True, capture_output=True,
                                 text=True, env=env).stdout.split())


def closed_port():
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cache_keys(directory, name="fedi-test-cache-1"):
    """A binary cache key pair made by Nix in `directory`: (secret key file, public key)."""
    secret = pathlib.Path(directory) / "cache.sec"
    public = pathlib.Path(directory) / "cache.pub"
    subprocess.run(["nix-store", "--generate-binary-cache-key", name, secret, public],
                   check=True)
    return secret, public.read_text().strip()


def narinfo_name(path):
    """The name of a store path's narinfo in a binary cache: "<hash part>.narinfo"."""
    return os.path.basename(path).split("-", 1)[0] + ".narinfo"


def forget_closures(hosts):
    """reset_hosts(), then each host's store collected: the test systems' paths are
    gone (nothing roots them)."""
    reset_hosts(hosts)
    for h in hosts.hosts:
        hosts.exec(h["name"], "sh", "-c", "rm -rf /root/.config/nix; nix-store --gc >/dev/null 2>&1")


# ---- Nix rendering ----


class Nix(str):
    """A Nix expression that to_nix() inserts as it is."""


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_'-]*")
_KEYWORDS = {"if", "then", "else", "assert", "with", "let", "in", "rec", "inherit", "or"}
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9._+/-]+")


def nix_string(text):
    """A Nix string literal holding text exactly."""
    escaped = (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("${", "\\${")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{escaped}"'


def nix_attr_name(name):
    return name if _IDENT.fullmatch(name) and name not in _KEYWORDS else nix_string(name)


def nix_path(path):
    """An absolute file as a Nix path value (a literal when its name allows one)."""
    text = str(pathlib.Path(path).resolve())
    return Nix(text if _PLAIN_PATH.fullmatch(text) else f"(/. + {nix_string(text)})")


def to_nix(value, indent=0):
    """Render a Python value as Nix: str, bool, int, float, None, list, tuple, dict,
    pathlib.Path (as a string, so nothing is copied to the store) and Nix (as is)."""
    pad = "  " * indent
    if isinstance(value, Nix):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return nix_string(value)
    if isinstance(value, pathlib.PurePath):
        return nix_string(str(value))
    if isinstance(value, (list, tuple)):
        # List elements must be simple terms: parenthesize expressions and negatives.
        items = [to_nix(v, indent) for v in value]
        items = [f"({t})" if isinstance(v, Nix) or t.startswith("-") else t for v, t in zip(value, items)]
        return "[ " + " ".join(items) + " ]" if items else "[ ]"
    if isinstance(value, dict):
        if not value:
            return "{ }"
        lines = [f"{pad}  {nix_attr_name(k)} = {to_nix(v, indent + 1)};" for k, v in value.items()]
        return "{\n" + "\n".join(lines) + f"\n{pad}}}"
    raise TypeError(f"cannot render {type(value).__name__} as Nix: {value!r}")


def system_expr(name, **args):
    """`import <resources/minimal-system.nix> { name = ...; ... }` as a Nix expression."""
    return Nix(f"import {nix_path(MINIMAL_SYSTEM)} {to_nix(dict(name=name, **args), 1)}")


def machine(host, identity_file=None, system=None, tags=(), **attrs):
    """A machines.<name> value for a test host (an entry of hosts.json).

    system: a Nix expression (default: a minimal system named after the host);
    attrs: further machine attributes (after, protect, healthChecks, ...)."""
    ssh = {"host": host["host"], "port": host["port"], "user": host["user"], "hostKey": host["hostKey"]}
    if identity_file is not None:
        ssh["identityFile"] = str(identity_file)
    value = {"ssh": ssh, "system": system if system is not None else system_expr(host["name"])}
    if tags:
        value["tags"] = list(tags)
    value.update(attrs)
    return value


def age_keygen(path):
    """A fresh age identity in `path`; returns (secret key line, public key)."""
    subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
    public = subprocess.run(["age-keygen", "-y", str(path)], check=True, capture_output=True,
                            text=True).stdout.strip()
    with open(path) as f:
        key = next(line for line in f if line.startswith("AGE-SECRET-KEY-")).strip()
    return key, public


def render_deployment(machines, extra=None, function=False):
    """deployment.nix text: machines is {name: machine(...)}; extra holds other top-level
    attributes (providers, buckets, ...); function=True makes it `{ resources, ... }:`."""
    top = {"machines": dict(machines)}
    top.update(extra or {})
    body = to_nix(top) + "\n"
    return "{ resources, ... }:\n" + body if function else body


# ---- test hosts ----


class TestHosts:
    """Test hosts in a directory of their own. Use as a context manager, or call stop().

    The hosts are tied to this process by a pipe (testhosts --lifeline-fd): if the
    process dies without stop(), they die too."""

    __test__ = False  # not a test case, whatever unittest/pytest think of the name

    def __init__(self, count=0, prefix="host", dir=None, systemd=False):
        self._own_dir = dir is None
        self.dir = pathlib.Path(dir or tempfile.mkdtemp(prefix="fedi-hosts-")).resolve()
        self.hosts = []
        self._lifeline = os.pipe()
        try:
            if count:
                self.start(count, prefix, systemd=systemd)
        except BaseException:
            self.stop()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def _script(self, *args, check=True, timeout=120, **kwargs):
        proc = subprocess.run(
            [str(TESTHOSTS), *[str(a) for a in args]],
            stdin=kwargs.pop("stdin", subprocess.DEVNULL),
            capture_output=True,
            text=True,
            timeout=timeout,
            **kwargs,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"testhosts {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    def start(self, count, prefix="host", systemd=False):
        """Start count more hosts (systemd=True: machines with systemd as PID 1, see
        testhosts); returns their hosts.json entries."""
        if self._lifeline is None:
            raise RuntimeError("these test hosts were stopped")
        read_end = self._lifeline[0]
        proc = self._script(
            "start", "--dir", self.dir, "--count", count, "--prefix", prefix, "--lifeline-fd", read_end,
            *(["--systemd"] if systemd else []), pass_fds=(read_end,),
        )
        known = {h["name"] for h in self.hosts}
        self.hosts = json.loads(proc.stdout)
        self._write_known_hosts()
        return [h for h in self.hosts if h["name"] not in known]

    def restart(self, name):
        """Start a stopped host again with its data (testhosts restart): after a kill or,
        for a systemd machine, a reboot. It dies with this process too."""
        read_end = self._lifeline[0]
        proc = self._script("restart", "--dir", self.dir, name, "--lifeline-fd", read_end,
                            pass_fds=(read_end,))
        self.hosts = json.loads(proc.stdout)
        self._write_known_hosts()

    def stop(self):
        """Stop every host and remove the directory (if this object made it)."""
        if self._lifeline is None:
            return
        try:
            self._script("stop", "--dir", self.dir)
        finally:
            for fd in self._lifeline:
                os.close(fd)
            self._lifeline = None
        if self._own_dir and not KEEP_DIRS:
            shutil.rmtree(self.dir)

    def __getitem__(self, name):
        for h in self.hosts:
            if h["name"] == name:
                return h
        raise KeyError(f"no test host {name!r} in {self.dir}")

    @property
    def names(self):
        return [h["name"] for h in self.hosts]

    # files

    def identity_file(self, kind="ed25519"):
        """The client private key (kind: ed25519 or rsa) authorized on every host."""
        return self.dir / f"client_{kind}"

    @property
    def known_hosts(self):
        """A known_hosts file with every host's ed25519 and RSA keys."""
        return self.dir / "known_hosts"

    def _write_known_hosts(self):
        # OpenSSH writes port 22 without brackets (systemd machines listen there).
        at = lambda h: h["host"] if h["port"] == 22 else f"[{h['host']}]:{h['port']}"
        lines = [f"{at(h)} {h[k]}" for h in self.hosts for k in ("hostKey", "hostKeyRsa")]
        write_file(self.known_hosts, "\n".join(lines) + "\n")

    # running things

    def exec(self, name, *cmd, input=None, timeout=60):
        """Run cmd inside the host's namespaces (not over SSH); CompletedProcess."""
        return self._script(
            "exec", "--dir", self.dir, name, "--", *cmd,
            check=False, timeout=timeout, input=input, stdin=None if input is not None else subprocess.DEVNULL,
        )

    def import_paths(self, name, paths, env=None):
        """Copies `paths` (closed under references) from this machine's store into the
        host's (nix-store --export | --import, not over SSH)."""
        export = subprocess.run(["nix-store", "--export", *paths], check=True,
                                capture_output=True, env=env).stdout
        # The export stream is binary: testhosts exec directly, not through _script's text.
        r = subprocess.run([str(TESTHOSTS), "exec", "--dir", str(self.dir), name, "--",
                            "nix-store", "--import"], input=export, capture_output=True,
                           timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"nix-store --import on {name} failed: "
                               f"{r.stderr.decode(errors='replace')}")

    def valid_paths(self, name, paths):
        """Those of `paths` valid in the host's Nix store (in their order)."""
        r = self.exec(name, "sh", "-c", "xargs nix-store --check-validity --print-invalid",
                      input="\n".join(paths) + "\n")
        if r.returncode != 0:
            raise RuntimeError(f"nix-store --check-validity on {name} failed: {r.stderr}")
        invalid = set(r.stdout.split())
        return [p for p in paths if p not in invalid]

    def ssh_options(self, name, kind="ed25519"):
        """OpenSSH client options that reach host name, checking its recorded key."""
        h = self[name]
        return [
            "-p", str(h["port"]), "-i", str(self.identity_file(kind)),
            "-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
        ]

    def nix_sshopts(self, name):
        """NIX_SSHOPTS for nix-copy-closure --to root@127.0.0.1 (no spaces in DIR)."""
        return " ".join(self.ssh_options(name))

    def ssh_target(self, name):
        h = self[name]
        return f"{h['user']}@{h['host']}"

    def ssh(self, name, command, input=None, timeout=60, kind="ed25519"):
        """Run a shell command on the host with the OpenSSH client; CompletedProcess."""
        return subprocess.run(
            ["ssh", *self.ssh_options(name, kind), self.ssh_target(name), command],
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def kill_sessions(self, name):
        self._script("kill-sessions", "--dir", self.dir, name)

    def stop_sshd(self, name):
        self._script("stop-sshd", "--dir", self.dir, name)

    def start_sshd(self, name):
        self._script("start-sshd", "--dir", self.dir, name)

    # deployments

    def machines(self, systems=None, tags=None, kind="ed25519", **attrs):
        """{name: machine(...)} for every host. systems: {name: Nix expression} (default
        a minimal system per host); tags: {name: [tags]}; attrs: for every machine."""
        systems = systems or {}
        tags = tags or {}
        return {
            h["name"]: machine(h, self.identity_file(kind), systems.get(h["name"]), tags.get(h["name"], ()), **attrs)
            for h in self.hosts
        }


RGW_SCRIPT = SOURCE_DIR / "test" / "servers" / "rgw" / "rgw"


def start_rgw(test_class, prefix="fedi-rgw-", timeout=90):
    """Starts a real single-node Ceph RGW (test/servers/rgw/rgw) for a test class and
    registers its stop (checked) and the removal of its directory as class cleanups.
    Returns (directory, the JSON the start printed: endpoint, keys, ...)."""
    if not shutil.which("radosgw"):
        raise RuntimeError("radosgw is not installed: run scripts/setup")
    directory = tempfile.mkdtemp(prefix=prefix)
    out = subprocess.run([str(RGW_SCRIPT), "start", "--dir", directory], capture_output=True,
                         text=True, timeout=timeout)
    if out.returncode != 0:
        subprocess.run([str(RGW_SCRIPT), "stop", "--dir", directory], timeout=30)
        shutil.rmtree(directory, ignore_errors=True)
        raise RuntimeError(f"rgw start failed: {out.stderr}")
    test_class.addClassCleanup(shutil.rmtree, directory, True)
    test_class.addClassCleanup(subprocess.run, [str(RGW_SCRIPT), "stop", "--dir", directory],
                               timeout=30, check=True)
    return directory, json.loads(out.stdout)


SLAPD = SOURCE_DIR / "test" / "servers" / "ldap" / "slapd"
STANDIN_BIN = "/var/lib/fedi-standins/bin"


def start_slapd(test_class, prefix):
    """Starts a real slapd (test/servers/ldap/slapd) for a test class, registers its stop
    and the removal of its directory as class cleanups, and returns its info document."""
    ldap_dir = tempfile.mkdtemp(prefix=prefix)
    test_class.addClassCleanup(shutil.rmtree, ldap_dir, True)
    r = subprocess.run([str(SLAPD), "start", "--dir", ldap_dir], capture_output=True,
                       text=True, timeout=90)
    test_class.addClassCleanup(subprocess.run, [str(SLAPD), "stop", "--dir", ldap_dir],
                               timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"slapd start failed: {r.stderr}")
    return json.loads(r.stdout)


def host_with_standins(test_class, prefix):
    """One test host (stopped as a class cleanup) whose PATH has the stand-ins of the
    services' admin commands (test/standins) first. Returns (hosts, host name)."""
    sys.path.insert(0, str(SOURCE_DIR / "test" / "standins"))
    import standins  # noqa: E402

    hosts = TestHosts(1, prefix=prefix)
    test_class.addClassCleanup(hosts.stop)
    host = hosts.names[0]
    root = hosts[host]["root"]
    standins.install_standins(os.path.join(root, "var-lib", "fedi-standins", "bin"))
    with open(os.path.join(root, "home", ".bashrc"), "a") as f:
        f.write(f"export PATH={STANDIN_BIN}:$PATH\n")
    return hosts, host
