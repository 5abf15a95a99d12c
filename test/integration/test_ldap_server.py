"""The private OpenLDAP server for tests (test/servers/ldap/slapd): a real slapd on
loopback over ldap:// and ldaps://, driven with OpenLDAP's own clients (ldap-utils).
"""
import json
import os
import secrets
import shutil
import socket
import stat
import subprocess
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SLAPD = os.path.join(HERE, "..", "servers", "ldap", "slapd")


def start(directory, *extra):
    began = time.monotonic()
    r = subprocess.run([SLAPD, "start", "--dir", directory, *extra], capture_output=True,
                       text=True, timeout=60)
    if r.returncode != 0:
        subprocess.run([SLAPD, "stop", "--dir", directory], timeout=30)
        raise RuntimeError(f"slapd start failed: {r.stderr}")
    return json.loads(r.stdout), r.stdout, time.monotonic() - began


def stop(directory):
    subprocess.run([SLAPD, "stop", "--dir", directory], timeout=30, check=True)


def running(pid):
    """True while pid is a live (not zombie) process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def port_open(url):
    host, port = url.split("//")[1].split(":")
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, int(port))) == 0


class LdapServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for tool in ["ldapsearch", "ldapadd", "ldapwhoami"]:
            if not shutil.which(tool):
                raise RuntimeError(f"{tool} is missing: run scripts/setup (ldap-utils)")
        cls.dir = tempfile.mkdtemp(prefix="fedi-ldap-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        cls.info, cls.stdout, cls.start_seconds = start(cls.dir)
        cls.addClassCleanup(stop, cls.dir)
        print(f"slapd start: {cls.start_seconds:.2f} s")
        with open(cls.info["infoFile"]) as f:
            cls.password = json.load(f)["bindPassword"]

    def ldap(self, tool, *args, url=None, ca=None, input=None, bind=True):
        env = dict(os.environ, LDAPTLS_CACERT=ca or self.info["caFile"])
        cmd = [tool, "-x", "-H", url or self.info["url"]]
        if bind:
            cmd += ["-D", self.info["bindDN"], "-y", self.info["bindPasswordFile"]]
        return subprocess.run(cmd + list(args), capture_output=True, text=True, input=input,
                              env=env, timeout=30)

    def dns(self, out):
        return sorted(line[4:] for line in out.splitlines() if line.startswith("dn: "))

    def test_start_output_and_secret_files(self):
        base = self.info["baseDN"]
        self.assertEqual(base, "dc=example,dc=org")
        self.assertEqual(self.info["bindDN"], "cn=admin,dc=example,dc=org")
        self.assertRegex(self.info["url"], r"^ldap://127\.0\.0\.1:\d+$")
        self.assertRegex(self.info["ldapsUrl"], r"^ldaps://127\.0\.0\.1:\d+$")
        self.assertNotEqual(self.info["url"].rsplit(":", 1)[1],
                            self.info["ldapsUrl"].rsplit(":", 1)[1])
        self.assertLess(self.start_seconds, 10)  # about 1.5 s; generous for a busy machine
        self.assertTrue(running(self.info["pid"]))
        self.assertGreaterEqual(len(self.password), 16)
        self.assertNotIn(self.password, self.stdout)
        self.assertNotIn("bindPassword", self.info)
        for path in [self.info["infoFile"], self.info["bindPasswordFile"]]:
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600, path)
        with open(self.info["bindPasswordFile"]) as f:
            self.assertEqual(f.read(), self.password)  # no trailing newline: usable with -y
        # The password is not on the daemon's command line either.
        with open(f"/proc/{self.info['pid']}/cmdline", "rb") as f:
            self.assertNotIn(self.password.encode(), f.read())

    def test_search_over_ldap_starttls_and_ldaps(self):
        base = self.info["baseDN"]
        want = [base, f"ou=people,{base}", f"ou=services,{base}"]
        for url, extra in [(self.info["url"], []), (self.info["url"], ["-ZZ"]),
                           (self.info["ldapsUrl"], [])]:
            r = self.ldap("ldapsearch", *extra, "-LLL", "-b", base, "(!(uid=*))", "dn", url=url)
            self.assertEqual(r.returncode, 0, f"{url} {extra}: {r.stderr}")
            self.assertEqual(self.dns(r.stdout), sorted(want))

    def test_ldaps_checks_the_certificate(self):
        # The system's CA bundle does not hold the test CA: the handshake must fail.
        r = self.ldap("ldapsearch", "-LLL", "-b", self.info["baseDN"], "dn",
                      url=self.info["ldapsUrl"], ca="/etc/ssl/certs/ca-certificates.crt")
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertEqual(r.stdout, "")

    def test_anonymous_sees_nothing_and_wrong_admin_password_is_refused(self):
        r = self.ldap("ldapsearch", "-LLL", "-b", self.info["baseDN"], "dn", bind=False)
        self.assertEqual(self.dns(r.stdout), [])
        wrong = os.path.join(self.dir, "wrong-admin")
        with open(wrong, "w") as f:
            f.write(self.password + "x")
        r = self.ldap("ldapwhoami", "-D", self.info["bindDN"], "-y", wrong, bind=False)
        self.assertEqual(r.returncode, 49, r.stderr)
        self.assertIn("Invalid credentials", r.stderr)

    def add_person(self, uid, pw):
        dn = f"uid={uid},ou=people,{self.info['baseDN']}"
        ldif = (f"dn: {dn}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\nsn: Example\n"
                f"mail: {uid}@example.org\nuserPassword: {pw}\n")
        r = self.ldap("ldapadd", input=ldif)
        self.assertEqual(r.returncode, 0, r.stderr)
        return dn, ldif

    def test_person_binds_with_its_password_only(self):
        base = self.info["baseDN"]
        uid, other = "alice" + secrets.token_hex(3), "bob" + secrets.token_hex(3)
        pw = secrets.token_urlsafe(16)
        dn, ldif = self.add_person(uid, pw)
        self.add_person(other, secrets.token_urlsafe(16))
        good = os.path.join(self.dir, f"{uid}-pw")
        bad = os.path.join(self.dir, f"{uid}-bad")
        with open(good, "w") as f:
            f.write(pw)
        with open(bad, "w") as f:
            f.write(pw[:-1])
        for url in [self.info["url"], self.info["ldapsUrl"]]:
            r = self.ldap("ldapwhoami", "-D", dn, "-y", good, url=url, bind=False)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout.strip(), f"dn:{dn}")
            r = self.ldap("ldapwhoami", "-D", dn, "-y", bad, url=url, bind=False)
            self.assertEqual(r.returncode, 49, r.stdout + r.stderr)
        # A bound user reads the directory but not another's password.
        r = self.ldap("ldapsearch", "-D", dn, "-y", good, "-LLL", "-b",
                      f"uid={other},ou=people,{base}", "-s", "base", "userPassword", "uid",
                      bind=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"uid: {other}", r.stdout)
        self.assertNotIn("userPassword", r.stdout)
        # The admin does see it: the ACL, not a missing attribute, hid it.
        r = self.ldap("ldapsearch", "-LLL", "-b", f"uid={other},ou=people,{base}", "-s", "base",
                      "userPassword")
        self.assertIn("userPassword", r.stdout)
        # A second add of the same entry is refused by the real server.
        r = self.ldap("ldapadd", input=ldif)
        self.assertEqual(r.returncode, 68, r.stderr)  # entryAlreadyExists

    def test_second_start_in_same_dir_is_refused(self):
        r = subprocess.run([SLAPD, "start", "--dir", self.dir], capture_output=True, text=True,
                           timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("already running", r.stderr)
        self.assertTrue(running(self.info["pid"]))  # the failed start did not stop it


class LdapServerLifecycleTest(unittest.TestCase):
    def test_custom_suffix_and_stop_only_stops_its_own(self):
        a = tempfile.mkdtemp(prefix="fedi-ldap-a-")
        b = tempfile.mkdtemp(prefix="fedi-ldap-b-")
        self.addCleanup(shutil.rmtree, a, True)
        self.addCleanup(shutil.rmtree, b, True)
        ia, _, _ = start(a)
        self.addCleanup(stop, a)
        ib, _, _ = start(b, "--suffix", "dc=hoster,dc=test")
        self.addCleanup(stop, b)
        self.assertEqual(ib["baseDN"], "dc=hoster,dc=test")
        self.assertEqual(ib["bindDN"], "cn=admin,dc=hoster,dc=test")
        r = subprocess.run(["ldapsearch", "-x", "-H", ib["url"], "-D", ib["bindDN"], "-y",
                            ib["bindPasswordFile"], "-LLL", "-s", "one", "-b", ib["baseDN"], "dn"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("dn: ou=people,dc=hoster,dc=test", r.stdout)
        # Each has its own admin password.
        with open(ia["bindPasswordFile"]) as fa, open(ib["bindPasswordFile"]) as fb:
            self.assertNotEqual(fa.read(), fb.read())

        stop(a)
        deadline = time.monotonic() + 5
        while running(ia["pid"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse(running(ia["pid"]))
        self.assertFalse(port_open(ia["url"]))
        self.assertFalse(port_open(ia["ldapsUrl"]))
        self.assertTrue(running(ib["pid"]))
        self.assertTrue(port_open(ib["url"]))
        stop(a)  # a second stop is harmless
        stop(b)
        self.assertFalse(running(ib["pid"]))

    def test_stop_of_unknown_dir_is_harmless(self):
        d = os.path.join(tempfile.gettempdir(), "fedi-ldap-never-" + secrets.token_hex(4))
        stop(d)
        self.assertFalse(os.path.exists(d))


if __name__ == "__main__":
    unittest.main()
