"""Shared parts of the service admin-command stand-ins (see README.md beside this file).

Each stand-in keeps its "database" as JSON under /var/lib/<service>/ (on a test host that
directory is private to the host). FEDI_STANDIN_ROOT, when set, replaces /var/lib so the
stand-ins can also run directly on the machine (test_standins.py does that).
"""
import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import sys
import time

DB_NAME = "standin-db.json"
ARGV_LOG = "standin-argv.log"


def service_dir(service):
    root = os.environ.get("FEDI_STANDIN_ROOT") or "/var/lib"
    return os.path.join(root, service)


def _ensure_dir(service):
    path = service_dir(service)
    os.makedirs(path, mode=0o750, exist_ok=True)
    return path


def log_invocation(service, tool, argv):
    """Appends what the tool was called with (never stdin) to standin-argv.log, so a test
    can check that no secret was put on a command line."""
    path = os.path.join(_ensure_dir(service), ARGV_LOG)
    entry = {"time": time.time(), "tool": tool, "argv": list(argv),
             "stdinIsTTY": sys.stdin.isatty() if sys.stdin else False}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as f:
        f.write(json.dumps(entry) + "\n")


@contextlib.contextmanager
def database(service, initial):
    """Yields the service's database (a dict) under an exclusive lock and writes it back
    atomically when the block ends without an exception."""
    path = os.path.join(_ensure_dir(service), DB_NAME)
    lock_fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        try:
            with open(path) as f:
                db = json.load(f)
        except FileNotFoundError:
            db = initial()
        yield db
        tmp = path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(db, f, indent=1, sort_keys=True)
        os.replace(tmp, path)
    finally:
        os.close(lock_fd)


def read_database(service, initial):
    path = os.path.join(service_dir(service), DB_NAME)
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return initial()


def hash_password(password):
    """Salted SHA-256 (the real services use bcrypt; the stand-ins only need to tell a right
    password from a wrong one without keeping it)."""
    salt = secrets.token_hex(8)
    digest = hashlib.sha256((salt + password).encode()).hexdigest()
    return f"sha256${salt}${digest}"


def check_password(stored, password):
    if not stored or not stored.startswith("sha256$"):
        return False
    _, salt, digest = stored.split("$", 2)
    return hmac.compare_digest(hashlib.sha256((salt + password).encode()).hexdigest(), digest)


def now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())


def out(text=""):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def err(text=""):
    sys.stderr.write(text + "\n")
    sys.stderr.flush()
