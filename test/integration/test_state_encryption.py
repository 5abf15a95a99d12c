"""State encrypted at rest with age (meta.state.encryption): `fedi deploy` writes an age
file that holds no secret in clear, `age -d` reads it by hand, `fedi status` reads it with
the identity (from a file or the environment, never in process arguments) and fails
clearly without it or with the wrong one; plain state is read and encrypted at the next
write; a remote state without recipients is refused unless allowPlaintext says so.
"""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import fedi_testlib as lib
import leakcheck

SECRETS_DIR = "/var/lib/fedi/secrets"
AGE_HEADER = b"age-encryption.org/v1\n"


class StateEncryptionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hosts = lib.TestHosts(1, prefix="enc")
        cls.addClassCleanup(cls.hosts.stop)
        cls.host = cls.hosts.names[0]

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fedi-state-enc-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        os.makedirs(os.path.join(self.dir, "home"))
        self.env = lib.isolated_env(os.path.join(self.dir, "home"))
        for name in ("FEDI_AGE_IDENTITY", "FEDI_AGE_IDENTITY_FILE"):
            self.env.pop(name, None)
        lib.reset_hosts(self.hosts)
        self.hosts.exec(self.host, "rm", "-rf", SECRETS_DIR)
        self.key_file = os.path.join(self.dir, "keys", "age.txt")
        os.makedirs(os.path.dirname(self.key_file))
        self.key, self.recipient = lib.age_keygen(self.key_file)
        self.state_file = os.path.join(self.dir, ".fedi", "state.json")

    def write_deployment(self, state=None):
        machines = self.hosts.machines(systems={self.host: lib.system_expr(
            self.host, message=f"enc {time.time_ns()}")})
        extra = {"secrets": {"gen": {"machine": "web", "source": {"generate": {"length": 40}}}}}
        if state is not None:
            extra["meta"] = {"state": state}
        lib.write_file(os.path.join(self.dir, "deployment.nix"),
                       lib.render_deployment({"web": machines[self.host]}, extra))

    def fedi(self, *args, **env):
        run_env = dict(self.env, **env)
        return lib.run_fedi(list(args), cwd=self.dir, env=run_env)

    def state_bytes(self):
        with open(self.state_file, "rb") as f:
            return f.read()

    def generated_secret(self):
        r = self.hosts.exec(self.host, "cat", f"{SECRETS_DIR}/gen")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(r.stdout), 40)
        return r.stdout

    def test_deployed_state_is_an_age_file_readable_only_with_the_identity(self):
        self.write_deployment({"encryption": {"recipients": [self.recipient]}})
        r = self.fedi("deploy", FEDI_AGE_IDENTITY_FILE=self.key_file)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        stored = self.state_bytes()
        self.assertTrue(stored.startswith(AGE_HEADER), stored[:80])
        self.assertEqual(os.stat(self.state_file).st_mode & 0o777, 0o600)
        secret = self.generated_secret()
        for clear in (secret, self.host, "generation", self.hosts[self.host]["hostKey"].split()[1]):
            self.assertNotIn(clear.encode(), stored)

        # By hand, as an operator would.
        by_hand = subprocess.run(["age", "-d", "-i", self.key_file, self.state_file],
                                 capture_output=True, text=True)
        self.assertEqual(by_hand.returncode, 0, by_hand.stderr)
        self.assertEqual(json.loads(by_hand.stdout)["secrets"]["gen"]["value"], secret)

        # With the identity from a file, or the key itself in the environment.
        st = self.fedi("--json", "status", FEDI_AGE_IDENTITY_FILE=self.key_file)
        self.assertEqual(st.returncode, 0, st.stdout + st.stderr)
        self.assertEqual(json.loads(st.stdout)["machines"][0]["name"], "web")
        with leakcheck.PsSampler() as ps:
            st = self.fedi("--json", "status", FEDI_AGE_IDENTITY=self.key)
        self.assertEqual(st.returncode, 0, st.stdout + st.stderr)
        self.assertGreater(ps.count("deployer"), 3)
        self.assertIsNone(ps.find(self.key), "the age key was in a process's arguments")
        self.assertIsNone(ps.find(self.key.split("-")[-1]))
        for text in (r.stdout, r.stderr, st.stdout, st.stderr):
            self.assertNotIn(self.key, text)
            self.assertNotIn(secret, text)

        # Without an identity, or with someone else's: a clear error, nothing changed.
        st = self.fedi("status")
        self.assertEqual(st.returncode, 2, st.stdout + st.stderr)
        self.assertIn(self.state_file, st.stderr)
        self.assertIn("encrypted with age", st.stderr)
        self.assertIn("FEDI_AGE_IDENTITY", st.stderr)
        other_key, _ = lib.age_keygen(os.path.join(self.dir, "keys", "other.txt"))
        st = self.fedi("status", FEDI_AGE_IDENTITY=other_key)
        self.assertEqual(st.returncode, 2, st.stdout + st.stderr)
        self.assertIn("other recipients", st.stderr)
        self.assertNotIn(other_key, st.stderr)
        self.assertEqual(self.state_bytes(), stored)

    def test_identity_file_named_in_the_deployment_and_shown_by_eval(self):
        self.write_deployment({"encryption": {"recipients": [self.recipient],
                                              "identityFile": lib.nix_path(self.key_file)}})
        r = self.fedi("deploy")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(self.state_bytes().startswith(AGE_HEADER))
        ev = self.fedi("eval")
        self.assertEqual(ev.returncode, 0, ev.stdout + ev.stderr)
        shown = json.loads(ev.stdout)["meta"]["state"]
        self.assertEqual(shown["encryption"]["recipients"], [self.recipient])
        self.assertEqual(shown["encryption"]["identityFile"], os.path.realpath(self.key_file))
        self.assertNotIn(self.key, ev.stdout)

    def test_plain_state_is_read_and_encrypted_at_the_next_write(self):
        self.write_deployment()
        r = self.fedi("deploy")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(self.state_bytes().startswith(b"{"))
        secret = self.generated_secret()

        self.write_deployment({"encryption": {"recipients": [self.recipient]}})
        st = self.fedi("status")
        self.assertEqual(st.returncode, 0, st.stdout + st.stderr)
        self.assertIn("is plain text; the next write encrypts it", st.stderr)
        r = self.fedi("deploy")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        stored = self.state_bytes()
        self.assertTrue(stored.startswith(AGE_HEADER))
        self.assertNotIn(secret.encode(), stored)
        # The generated secret survived the change of encoding.
        self.assertEqual(self.generated_secret(), secret)

    def test_remote_state_in_plain_text_is_refused_unless_allowed(self):
        self.write_deployment({"url": "s3://fedi-state/prod.json"})
        r = self.fedi("status")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("s3://fedi-state/prod.json is remote", r.stderr)
        self.assertIn("meta.state.allowPlaintext = true", r.stderr)
        # --state overrides meta.state.url.
        r = self.fedi("--state", "postgresql://db.invalid/fedi", "status")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("postgresql://db.invalid/fedi is remote", r.stderr)

    def test_meta_state_errors_name_the_attribute(self):
        self.write_deployment({"encryption": {"recipients": ["age1notakey"]}})
        r = self.fedi("status")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("meta.state.encryption.recipients.0: expected an age X25519 public key",
                      r.stderr)
        lib.write_file(os.path.join(self.dir, "deployment.nix"),
                       "{ resources, ... }: { meta.state.url = resources.machines.db.host; }\n")
        r = self.fedi("status")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("meta.state must not use resources", r.stderr)


if __name__ == "__main__":
    unittest.main()
