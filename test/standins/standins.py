"""Installing the service admin-command stand-ins (see README.md beside this file).

    import standins
    standins.install_standins(bin_dir)   # copies every stand-in into bin_dir
    env = standins.local_env(root, bin_dir)  # PATH + FEDI_STANDIN_ROOT for local runs

or from a shell:  python3 test/standins/standins.py install DIR
"""
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = ["mastodon-tootctl", "pixelfed-manage", "peertube-env", "peertube-reset-password",
         "peertube-standin-start", "standin"]
MODULES = ["standin_common.py", "peertube_db.py"]


def install_standins(bin_dir):
    """Copies the stand-ins (self-contained: no link back to the source tree, which a test
    host may not see) into bin_dir, creating it. Returns bin_dir."""
    os.makedirs(bin_dir, exist_ok=True)
    for name in TOOLS + MODULES:
        target = os.path.join(bin_dir, name)
        shutil.copyfile(os.path.join(HERE, name), target + ".new")
        os.chmod(target + ".new", 0o755 if name in TOOLS else 0o644)
        os.replace(target + ".new", target)
    return bin_dir


def local_env(root, bin_dir=HERE, base=None):
    """Environment for running the stand-ins directly on this machine: bin_dir first on
    PATH and FEDI_STANDIN_ROOT=root standing for /var/lib."""
    env = dict(os.environ if base is None else base)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env["FEDI_STANDIN_ROOT"] = root
    return env


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "install":
        sys.exit("usage: standins.py install DIR")
    print(install_standins(sys.argv[2]))
