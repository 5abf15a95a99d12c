"""Identity directories (`identity.<name>`): fedi creates people and the services' bind
accounts in a real OpenLDAP slapd on loopback (test/servers/ldap/slapd), over ldaps://
or StartTLS checked against the test CA, and puts a bind password on a test host as a
secret, with which a bind then succeeds.
"""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import fedi_testlib as lib
import leakcheck



class IdentityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for tool in ["ldapsearch", "ldapwhoami", "ldapmodify"]:
            if not shutil.which(tool):
                raise RuntimeError(f"{tool} is missing: run scripts/setup (ldap-utils)")
        cls.info = lib.start_slapd(cls, "fedi-identity-ldap-")
        cls.hosts = lib.TestHosts(1, prefix="idt")
        cls.addClassCleanup(cls.hosts.stop)
        cls.host = cls.hosts.names[0]

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fedi-identity-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        os.makedirs(os.path.join(self.dir, "home"))
        self.env = lib.isolated_env(os.path.join(self.dir, "home"))
        lib.reset_hosts(self.hosts)

    def write_deployment(self, **directory):
        base = self.info["baseDN"]
        d = {"type": "ldap", "url": self.info["ldapsUrl"], "caFile": self.info["caFile"],
             "baseDN": base, "bindDN": self.info["bindDN"],
             "bindPasswordFile": self.info["bindPasswordFile"],
             "users": {"alice": {"email": "alice@example.org", "displayName": "Alice Example"}},
             "services": ["mastodon"]}
        d.update(directory)
        machines = {"web": self.hosts.machines()[self.host]}
        lib.write_file(os.path.join(self.dir, "deployment.nix"), lib.render_deployment(machines, {
            "identity": {"directory": d},
            "secrets": {"mastodon-ldap": {
                "machine": "web", "owner": "nobody", "group": "nogroup",
                "environmentVariable": "LDAP_PASSWORD",
                "source": {"fromIdentity": {"directory": "directory", "service": "mastodon"}}}},
        }))

    def fedi(self, *args):
        return lib.run_fedi(list(args), cwd=self.dir, env=self.env)

    def ldap(self, tool, *args, input=None, dn=None, password=None):
        env = dict(os.environ, LDAPTLS_CACERT=self.info["caFile"])
        if dn is None:
            auth = ["-D", self.info["bindDN"], "-y", self.info["bindPasswordFile"]]
        else:
            pw_file = lib.write_file(os.path.join(self.dir, "bindpw"), password, mode=0o600)
            auth = ["-D", dn, "-y", str(pw_file)]
        return subprocess.run([tool, "-x", "-H", self.info["ldapsUrl"], *auth, *args],
                              capture_output=True, text=True, input=input, env=env, timeout=30)

    def entry(self, dn):
        r = self.ldap("ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-b", dn, "-s", "base")
        self.assertEqual(r.returncode, 0, r.stderr)
        attrs = {}
        for line in r.stdout.splitlines():
            if ": " in line:
                k, v = line.split(": ", 1)
                attrs.setdefault(k.rstrip(":"), []).append(v)
        return attrs

    def deploy(self, *args):
        r = self.fedi("--json", *args, "deploy")
        try:
            doc = json.loads(r.stdout)
        except ValueError:
            self.fail(f"no JSON (exit {r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r, doc, {i["dn"]: i["result"] for i in doc.get("identity", [])}

    def test_entries_bind_password_on_the_machine_and_convergence(self):
        base = self.info["baseDN"]
        alice, service = f"uid=alice,ou=people,{base}", f"cn=mastodon,ou=services,{base}"
        self.write_deployment()
        store = leakcheck.StoreMarker()
        with leakcheck.PsSampler(self.hosts, [self.host]) as ps:
            r, doc, ids = self.deploy("-v")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(ids, {alice: "created", service: "created"})

        a = self.entry(alice)
        self.assertEqual(a["objectClass"], ["inetOrgPerson"])
        self.assertEqual((a["uid"], a["cn"], a["sn"], a["mail"]),
                         (["alice"], ["Alice Example"], ["Alice Example"], ["alice@example.org"]))
        self.assertEqual(len(a["userPassword"]), 1)  # base64 of "{SSHA}..."
        s = self.entry(service)
        self.assertEqual(sorted(s["objectClass"]), ["applicationProcess", "simpleSecurityObject"])
        self.assertEqual(s["cn"], ["mastodon"])

        # The bind password on the machine binds as the service account.
        secret = self.hosts.exec(self.host, "cat", "/var/lib/fedi/secrets/mastodon-ldap").stdout
        self.assertRegex(secret, r"^LDAP_PASSWORD=[A-Za-z0-9]{32}\n$")
        service_pw = secret.strip().split("=", 1)[1]
        owner = self.hosts.exec(self.host, "stat", "-c", "%U %a",
                                "/var/lib/fedi/secrets/mastodon-ldap").stdout.strip()
        self.assertEqual(owner, "nobody 400")
        r = self.ldap("ldapwhoami", dn=service, password=service_pw)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, f"dn:{service}"), r.stderr)
        r = self.ldap("ldapwhoami", dn=service, password=service_pw + "x")
        self.assertEqual(r.returncode, 49, r.stdout)
        with open(os.path.join(self.dir, ".fedi", "state.json")) as f:
            alice_pw = json.load(f)["identity"]["directory"]["users.alice"]["password"]
        r = self.ldap("ldapwhoami", dn=alice, password=alice_pw)
        self.assertEqual(r.returncode, 0, r.stderr)

        for pw in (service_pw, alice_pw):
            self.assertIsNone(ps.find(pw))
            self.assertNotIn(pw, r.stdout + r.stderr + json.dumps(doc))
            self.assertIsNone(leakcheck.grep_paths(store.new_paths(), pw))
            self.assertIsNone(leakcheck.grep_paths(
                [leakcheck.host_store(self.hosts, self.host)], pw))

        # Again: nothing to do.
        r, doc, ids = self.deploy()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(ids, {alice: "exists", service: "exists"})

        # Changed behind fedi's back: put back as declared, with the password fedi keeps.
        r = self.ldap("ldapmodify", input=f"dn: {alice}\nchangetype: modify\nreplace: mail\n"
                                          "mail: mallory@example.org\n-\nreplace: userPassword\n"
                                          "userPassword: not-fedis\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotEqual(self.ldap("ldapwhoami", dn=alice, password=alice_pw).returncode, 0)
        r, doc, ids = self.deploy()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(ids, {alice: "updated", service: "exists"})
        self.assertEqual(self.entry(alice)["mail"], ["alice@example.org"])
        self.assertEqual(self.ldap("ldapwhoami", dn=alice, password=alice_pw).returncode, 0)

    def test_starttls_and_a_wrong_admin_password(self):
        wrong = lib.write_file(os.path.join(self.dir, "wrong"), "not-the-password", mode=0o600)
        self.write_deployment(url=self.info["url"], startTLS=True, bindPasswordFile=str(wrong))
        r, doc, ids = self.deploy()
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        failed = [i for i in doc["identity"] if i["result"] == "failed"]
        self.assertEqual(len(failed), 1)
        self.assertIn(f"bind as {self.info['bindDN']}", failed[0]["error"])
        self.assertIn("invalid credentials", failed[0]["error"])
        # Without the CA, StartTLS itself fails: the certificate is checked.
        self.write_deployment(url=self.info["url"], startTLS=True, caFile=None)
        r, doc, ids = self.deploy()
        self.assertEqual(r.returncode, 1)
        self.assertIn("StartTLS", doc["identity"][0]["error"])

    def test_a_certificate_that_does_not_match_ca_file_is_named(self):
        other_ca = os.path.join(self.dir, "other-ca.pem")
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                            "-keyout", os.path.join(self.dir, "other-ca.key"), "-out", other_ca,
                            "-subj", "/CN=fedi test: some other CA"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        for how in ({"url": self.info["ldapsUrl"]}, {"url": self.info["url"], "startTLS": True}):
            with self.subTest(**how):
                self.write_deployment(caFile=other_ca, **how)
                r, doc, ids = self.deploy()
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                error = doc["identity"][0]["error"]
                self.assertIn("TLS certificate is not trusted", error)
                self.assertIn(f"caFile {other_ca}", error)
                self.assertNotIn("unknown error code", error)

if __name__ == "__main__":
    unittest.main()
