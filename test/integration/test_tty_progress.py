"""Progress on a terminal: `fedi deploy` with stderr on a pseudo-terminal draws one live
line per machine below the log and removes them at the end; the log lines survive intact.
The pty output is replayed through a minimal terminal model (cursor up, erase line,
newline) to see the screen an operator would see."""
import fcntl
import os
import pty
import struct
import termios
import re
import select
import shutil
import subprocess
import tempfile
import time
import unittest

import fedi_testlib as lib

SGR = re.compile(rb"\x1b\[[0-9;]*m")
LIVE = re.compile(r"^(m\d)\s{2,}(connecting|waiting|pushing|writing secrets|activating|"
                  r"deployed|unchanged|failed)")
CLEAR = re.compile(rb"(\x1b\[1A|\x1b\[2K)")


def replay(data):
    """The screen after writing `data` (SGR colours stripped), as a list of lines, and
    the largest number of live lines seen on screen at once per machine."""
    data = SGR.sub(b"", data)
    lines, row, col = [""], 0, 0
    worst_duplicates = 0
    i = 0
    while i < len(data):
        if data.startswith(b"\x1b[1A", i):
            row, col = max(0, row - 1), 0
            i += 4
        elif data.startswith(b"\x1b[2K", i):
            lines[row] = ""
            i += 4
        elif data[i:i + 1] == b"\n":
            row, col = row + 1, 0
            if row == len(lines):
                lines.append("")
            i += 1
            live = [LIVE.match(l) for l in lines]
            names = [m.group(1) for m in live if m]
            worst_duplicates = max(worst_duplicates,
                                   max((names.count(n) for n in names), default=0))
        elif data[i:i + 1] == b"\r":
            col = 0
            i += 1
        else:
            j = i
            while j < len(data) and data[j:j + 1] not in (b"\n", b"\r", b"\x1b"):
                j += 1
            if j == i:  # an escape sequence this model does not know: keep it visible
                j = i + 1
            text = data[i:j].decode(errors="replace")
            line = lines[row]
            lines[row] = line[:col] + text + line[col + len(text):]
            col += len(text)
            i = j
    return lines, worst_duplicates


class TtyProgressTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hosts = lib.TestHosts(3)
        cls.addClassCleanup(cls.hosts.stop)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fedi-tty-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.env = lib.isolated_env(self.dir)
        self.env["TERM"] = "xterm"
        self.env.pop("NO_COLOR", None)
        self.env.pop("COLUMNS", None)
        lib.reset_hosts(self.hosts)
        self.write_deployment()

    def write_deployment(self, **system_args):
        machines = {}
        for i, h in enumerate(self.hosts.hosts):
            args = dict(dict(message=f"tty {time.time_ns()}", payloadSize=256 * 1024),
                        **system_args)
            machines[f"m{i}"] = lib.machine(h, identity_file=self.hosts.identity_file(),
                                            system=lib.system_expr(f"m{i}", **args))
        lib.write_file(os.path.join(self.dir, "deployment.nix"), lib.render_deployment(machines))

    def deploy_on_pty(self, extra_env=None, columns=None, args=()):
        env = dict(self.env, **(extra_env or {}))
        master, slave = pty.openpty()
        if columns:
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
        proc = subprocess.Popen([os.environ["FEDI_BIN"], "deploy", *args], cwd=self.dir, env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        data = b""
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the pty
                    break
                if not chunk:
                    break
                data += chunk
            elif proc.poll() is not None:
                break
        os.close(master)
        out = proc.stdout.read().decode()
        proc.stdout.close()
        proc.wait(timeout=30)
        return proc.returncode, data, out

    def test_live_lines_are_drawn_per_machine_and_cleared_at_the_end(self):
        rc, data, out = self.deploy_on_pty()
        self.assertEqual(rc, 0, data.decode(errors="replace"))
        plain = SGR.sub(b"", data).decode(errors="replace")
        for i in range(3):
            # Each machine had a live line for its push and its activation.
            self.assertRegex(plain, rf"m{i}\s+pushing")
            self.assertRegex(plain, rf"m{i}\s+activating \(switch\)")
        self.assertIn(b"\x1b[1A\x1b[2K", data)  # live block redrawn in place
        self.assertIsNotNone(SGR.search(data), "no colour on a terminal")
        screen, duplicates = self.replay_checked(data)
        self.assertEqual(duplicates, 1, "a machine had two live lines on screen at once")
        self.assertEqual([l for l in screen if LIVE.match(l)], [],
                         "live lines left on screen:\n" + "\n".join(screen))
        for i in range(3):
            sent = [l for l in screen if l.startswith(f"m{i}: sent ")]
            self.assertEqual(len(sent), 1, "\n".join(screen))
            self.assertNotRegex(sent[0], r"\x1b|pushing")
        # Log lines on a terminal carry no timestamp; the summary is on stdout, not the pty.
        self.assertFalse(any(re.match(r"^\d{4}-\d\d-\d\dT", l) for l in screen))
        self.assertIn("MACHINE", out)
        self.assertNotIn("MACHINE", plain)

    def test_no_color_is_honoured_on_a_terminal(self):
        rc, data, _ = self.deploy_on_pty({"NO_COLOR": "1"})
        self.assertEqual(rc, 0, data.decode(errors="replace"))
        self.assertIsNone(SGR.search(data), "colour codes despite NO_COLOR")
        self.assertRegex(data.decode(errors="replace"), r"m0\s+pushing")

    def test_build_shows_derivations_done_of_total(self):
        rc, data, _ = self.deploy_on_pty()
        self.assertEqual(rc, 0, data.decode(errors="replace"))
        plain = SGR.sub(b"", data).decode(errors="replace")
        counts = [(int(a), int(b)) for a, b in
                  re.findall(r"build\s+building: (\d+)/(\d+) derivations", plain)]
        self.assertTrue(counts, plain)
        self.assertTrue(all(done <= total for done, total in counts), counts)
        self.assertGreater(max(total for _, total in counts), 0)
        screen, _ = self.replay_checked(data)
        self.assertFalse([l for l in screen if "derivations" in l], "\n".join(screen))

    def test_live_clock_advances_while_activation_is_silent(self):
        self.write_deployment(delay=3)
        rc, data, _ = self.deploy_on_pty()
        self.assertEqual(rc, 0, data.decode(errors="replace"))
        plain = SGR.sub(b"", data).decode(errors="replace")
        clocks = {float(t) for t in
                  re.findall(r"m0\s+activating \(switch\)\s+(\d+\.\d)s", plain)}
        # Activation sleeps 3 s printing nothing: the clock is redrawn meanwhile.
        self.assertGreaterEqual(max(clocks) - min(clocks), 2.0, sorted(clocks))

    def test_dumb_terminal_gets_plain_lines(self):
        rc, data, _ = self.deploy_on_pty({"TERM": "dumb"})
        self.assertEqual(rc, 0, data.decode(errors="replace"))
        self.assertNotIn(b"\x1b", data)
        text = data.decode(errors="replace")
        self.assertIn("m0: sent ", text)
        self.assertFalse([l for l in text.splitlines() if LIVE.match(l)], text)

    def test_narrow_terminal_lines_never_wrap(self):
        columns = 30
        rc, data, _ = self.deploy_on_pty(columns=columns)
        self.assertEqual(rc, 0, data.decode(errors="replace"))
        live_rows = 0
        for row in data.split(b"\n"):
            row = CLEAR.sub(b"", SGR.sub(b"", row)).replace(b"\r", b"").decode(errors="replace")
            if LIVE.match(row) or row.startswith("build "):
                live_rows += 1
                self.assertLess(len(row), columns, repr(row))
        self.assertGreater(live_rows, 0)

    def test_failed_activation_log_is_shown_once(self):
        for extra in ([], ["-q"]):
            # A new system each run: the activation log comes from a real activation.
            marker = f"once-marker-{time.time_ns()}"
            self.write_deployment(onActivate=f"echo {marker}; exit 1")
            proc = subprocess.run([os.environ["FEDI_BIN"], "deploy", "--on", "m0", *extra],
                                  cwd=self.dir, env=self.env, stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=300)
            self.assertEqual(proc.returncode, 1, proc.stderr)
            self.assertEqual(proc.stderr.count(marker), 1, proc.stderr)

    def replay_checked(self, data):
        screen, duplicates = replay(data)
        return [l for l in screen if l.strip()], duplicates


if __name__ == "__main__":
    unittest.main()
