"""`fedi deploy` with Garage storage, end to end: real fedi, real Nix, real sshd test hosts.

Garage cannot run here: its admin API is the test server test/servers/garage (answering
as Garage's source does), started --isolated with three nodes so that fedi must connect
them, once for each supported Garage release (2, 1.x, 0.9). The three storage machines are test hosts running minimal systems; each
holds the node id file that the Garage NixOS module writes on a real machine, with one
of the test server's node ids (see storage_testlib.py). Two service machines (web,
video) receive one bucket key each.
"""

import json
import os
import shutil
import tempfile
import time
import unittest

import fedi_testlib as lib
import storage_testlib as slib

STORAGE = ["s3-1", "s3-2", "s3-3"]
SERVICES = ["web", "video"]


class GarageDeploy(unittest.TestCase):
    GARAGE_VERSION = "2"  # the Garage release the test server answers as (see below)

    @classmethod
    def setUpClass(cls):
        cls.hosts = lib.TestHosts(5, prefix="st")
        cls.addClassCleanup(cls.hosts.stop)
        cls.host_of = dict(zip(STORAGE + SERVICES, cls.hosts.names))

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fedi-storage-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.env = lib.isolated_env(os.path.join(self.dir, "home"))
        os.makedirs(os.path.join(self.dir, "home"))
        lib.reset_hosts(self.hosts)
        for name in self.hosts.names:
            self.hosts.exec(name, "rm", "-rf", "/var/lib/fedi")
        self.garage = slib.GarageServer("--nodes", "3", "--isolated", "--replication-factor", "3",
                                        "--version", self.GARAGE_VERSION)
        self.addCleanup(self.garage.stop)
        for machine, node in zip(STORAGE, self.garage.info["nodes"]):
            self.on(machine, "sh", "-c", f"mkdir -p /var/lib/fedi/garage && echo '{node['id']}@"
                                         f"{node['addr']}' > {slib.NODE_ID_FILE}")
        self.nonce = f"{self._testMethodName}-{time.time_ns()}"

    # ---- helpers ----

    def on(self, machine, *cmd):
        r = self.hosts.exec(self.host_of[machine], *cmd)
        return r.stdout

    def write(self, buckets=None, storage=None, token_file=None):
        machines = {}
        for name in STORAGE + SERVICES:
            h = self.hosts[self.host_of[name]]
            machines[name] = lib.machine(h, self.hosts.identity_file(),
                                         lib.system_expr(name, message=f"{name} {self.nonce}"))
        storage = storage or {
            "type": "garage", "machines": STORAGE, "replication": 3,
            "adminEndpoint": self.garage.endpoint,
            "adminTokenFile": token_file or self.garage.token_file,
            "s3Endpoint": "http://127.0.0.1:3900", "healthTimeout": 5,
            "allowInsecureHttp": True,  # the test server speaks plain http
            "nodes": {"s3-1": {"zone": "dc1"}, "s3-2": {"zone": "dc2"},
                      "s3-3": {"zone": "dc3", "capacity": "2T"}},
        }
        if buckets is None:
            buckets = self.two_buckets()
        text = lib.render_deployment(machines, {"storage": {"garage": storage},
                                                "buckets": buckets})
        lib.write_file(os.path.join(self.dir, "deployment.nix"), text)

    @staticmethod
    def two_buckets():
        return {
            "mastodon-media": {
                "storage": "garage", "quota": {"maxSize": "1G"},
                "keys": {"mastodon": {"read": True, "write": True,
                                      "deliverTo": {"machine": "web", "owner": "www-data",
                                                    "mode": "0400"}}}},
            "peertube-videos": {
                "storage": "garage", "website": True,
                "keys": {"peertube": {"read": True, "write": True,
                                      "deliverTo": {"machine": "video", "owner": "daemon",
                                                    "group": "daemon", "mode": "0440"}}}},
        }

    def deploy(self, *args):
        r = lib.run_fedi(["--json", "deploy", *args], cwd=self.dir, env=self.env)
        try:
            doc = json.loads(r.stdout)
        except ValueError:
            self.fail(f"deploy printed no JSON (exit {r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r, doc, {m["name"]: m for m in doc["machines"]}

    def secrets(self, machine):
        """{file: (owner, group, mode, content)} in the machine's secrets directory."""
        out = self.on(machine, "sh", "-c",
                      "cd /var/lib/fedi/secrets 2>/dev/null || exit 0; for f in *; do "
                      "[ -e \"$f\" ] || continue; "
                      "echo \"== $f $(stat -c '%U %G %a' \"$f\")\"; cat \"$f\"; done")
        files = {}
        for chunk in out.split("== ")[1:]:
            head, _, content = chunk.partition("\n")
            name, owner, group, mode = head.split()
            files[name] = (owner, group, mode, content)
        return files

    def storage_changes(self, doc):
        return [c for kind in ("storages", "buckets") for i in doc["storage"][kind]
                for c in i["changes"]]

    # ---- tests ----

    def test_deploy_creates_and_delivers_rerun_changes_nothing_removed_bucket_reported(self):
        self.write()
        r, doc, res = self.deploy()
        self.assertEqual(r.returncode, 0, r.stderr)
        for name in STORAGE + SERVICES:
            self.assertEqual(res[name]["result"], "deployed", res[name])

        # The three nodes were connected and given a layout with replication 3.
        state = self.garage.state()
        cluster = state["cluster"]
        self.assertTrue(all(n["known"] for n in cluster["nodes"]), cluster["nodes"])
        roles = cluster["layout"]["roles"]
        self.assertEqual(cluster["layout"]["version"], 1)
        self.assertEqual(cluster["replicationFactor"], 3)
        ids = [n["id"] for n in self.garage.info["nodes"]]
        self.assertEqual(sorted(roles), sorted(ids))
        self.assertEqual(roles[ids[0]]["zone"], "dc1")
        self.assertEqual(roles[ids[2]]["capacity"], 2 * 10**12)
        self.assertEqual(roles[ids[2]]["tags"], ["s3-3"])
        health = self.garage.state()["cluster"]["health"]
        self.assertEqual(health["status"], "healthy")
        self.assertEqual((health["storageNodes"], health["storageNodesOk"]), (3, 3))

        # Buckets with their quota and website flag; one key each, allowed on its bucket.
        media = self.garage.bucket("mastodon-media")
        videos = self.garage.bucket("peertube-videos")
        self.assertIsNotNone(media)
        self.assertEqual(media["quotas"]["maxSize"], 10**9)
        self.assertTrue(videos["websiteAccess"])
        self.assertFalse(media["websiteAccess"])
        keys = self.garage.keys()
        self.assertEqual(len(keys), 2)

        # Each service machine holds exactly its own key, owner and mode as declared.
        web = self.secrets("web")
        self.assertEqual(sorted(web), ["mastodon-media-mastodon.env"])
        owner, group, mode, content = web["mastodon-media-mastodon.env"]
        self.assertEqual((owner, group, mode), ("www-data", "www-data", "400"))
        env = slib.read_env_file(content)
        self.assertEqual(set(env), {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "S3_ENDPOINT",
                                    "S3_REGION", "S3_BUCKET"})
        key = keys[env["AWS_ACCESS_KEY_ID"]]
        self.assertEqual(env["AWS_SECRET_ACCESS_KEY"], key["secretAccessKey"])
        self.assertEqual(env["S3_BUCKET"], "mastodon-media")
        self.assertEqual(env["S3_ENDPOINT"], "http://127.0.0.1:3900")
        self.assertEqual(env["S3_REGION"], "garage")
        perms = {b["id"]: b["permissions"] for b in key["buckets"]}
        self.assertEqual(perms, {media["id"]: {"read": True, "write": True, "owner": False}})
        video = self.secrets("video")
        self.assertEqual(sorted(video), ["peertube-videos-peertube.env"])
        self.assertEqual(video["peertube-videos-peertube.env"][:3], ("daemon", "daemon", "440"))
        self.assertNotEqual(slib.read_env_file(video["peertube-videos-peertube.env"][3])
                            ["AWS_ACCESS_KEY_ID"], env["AWS_ACCESS_KEY_ID"])
        for machine in STORAGE:
            self.assertEqual(self.secrets(machine), {})
        # No secret in the deploy's output; the state file is private.
        for secret in (k["secretAccessKey"] for k in keys.values()):
            self.assertNotIn(secret, r.stdout + r.stderr)
        state_file = os.path.join(self.dir, ".fedi", "state.json")
        self.assertEqual(os.stat(state_file).st_mode & 0o777, 0o600)
        with open(state_file) as f:
            recorded = json.load(f)["storage"]["buckets"]
        self.assertEqual(recorded["mastodon-media"]["id"], media["id"])

        # A re-run changes nothing: no admin API write, no new key, same files.
        self.garage.clear_requests()
        r, doc, res = self.deploy()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(slib.mutating_requests(self.garage), [])
        self.assertEqual(self.storage_changes(doc), [])
        self.assertEqual(sorted(self.garage.keys()), sorted(keys))
        self.assertEqual(self.secrets("web"), web)
        for name in STORAGE + SERVICES:
            self.assertEqual(res[name]["result"], "unchanged")

        # A bucket removed from the deployment is reported, not deleted.
        buckets = self.two_buckets()
        del buckets["peertube-videos"]
        self.write(buckets)
        self.garage.clear_requests()
        r, doc, res = self.deploy()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(slib.mutating_requests(self.garage), [])
        self.assertIsNotNone(self.garage.bucket("peertube-videos"))
        notes = doc["storage"]["undeclared"]
        self.assertEqual(len(notes), 1, notes)
        self.assertIn("peertube-videos", notes[0])
        self.assertIn("no longer declared", notes[0])
        self.assertIn("peertube-videos", r.stderr)
        self.assertEqual(self.secrets("video"), {})  # its key is no longer delivered

    def test_garage_error_reaches_user_and_fails_only_the_machine_needing_it(self):
        self.write()
        self.garage.control("POST", "faults", {"operation": "CreateKey", "count": 1,
                                               "status": 400, "code": "InvalidRequest",
                                               "message": "injected: key refused"})
        r, doc, res = self.deploy()
        self.assertEqual(r.returncode, 1)
        failed = [m for m in SERVICES if res[m]["result"] == "failed"]
        self.assertEqual(len(failed), 1, res)
        other = [m for m in SERVICES if m not in failed][0]
        self.assertEqual(res[other]["result"], "deployed")
        self.assertEqual(res[failed[0]]["failedPhase"], "storage")
        self.assertIn("InvalidRequest", res[failed[0]]["error"])
        self.assertIn("injected: key refused", res[failed[0]]["error"])
        bad = [b for b in doc["storage"]["buckets"] if not b["ok"]]
        self.assertEqual(len(bad), 1)
        self.assertIn("Garage CreateKey: InvalidRequest: injected: key refused", bad[0]["error"])
        self.assertIn("injected: key refused", r.stderr)
        # The failed machine was not touched: no activation, no secrets.
        self.assertEqual(self.secrets(failed[0]), {})
        # A second run creates the missing key and nothing else.
        r, doc, res = self.deploy()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(self.garage.keys()), 2)

    def test_wrong_admin_token_is_refused_with_garage_code(self):
        bad = lib.write_file(os.path.join(self.dir, "bad-token"), "not-the-token\n", 0o600)
        self.write(token_file=str(bad))
        r, doc, res = self.deploy("--on", "web", "--on", "video")
        self.assertEqual(r.returncode, 1)
        self.assertFalse(doc["storage"]["storages"][0]["ok"])
        self.assertIn("AccessDenied", doc["storage"]["storages"][0]["error"])
        for m in SERVICES:
            self.assertEqual(res[m]["result"], "failed")
            self.assertEqual(res[m]["failedPhase"], "storage")
        self.assertNotIn("not-the-token", r.stdout + r.stderr)
        self.assertEqual(self.garage.state()["buckets"], [])

    def test_dry_run_changes_nothing(self):
        self.write()
        r, doc, res = self.deploy("--dry-run")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(slib.mutating_requests(self.garage), [])
        # The plan (`fedi plan`'s document) says which buckets would be created.
        created = [i for i in doc["storage"]["items"]
                   if i["kind"] == "bucket" and i["action"] == "create"]
        self.assertTrue(created, doc["storage"])
        self.assertEqual(self.secrets("web"), {})
        self.assertFalse(os.path.exists(os.path.join(self.dir, ".fedi", "state.json")))

    def test_unhealthy_cluster_fails_the_storage_phase(self):
        self.write(buckets={})
        r, doc, res = self.deploy("--on", "s3-*")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(self.garage.state()["cluster"]["layout"]["roles"]), 3)
        # A node goes down: the next deploy waits for health, then gives up.
        self.garage.control("POST", "node-status", {"id": self.garage.info["nodes"][1]["id"],
                                                    "up": False})
        self.write()
        r, doc, res = self.deploy("--on", "web")
        self.assertEqual(r.returncode, 1)
        err = doc["storage"]["storages"][0]["error"]
        self.assertIn("not healthy after 5 s", err)
        self.assertIn("2 of 3 storage node(s) up", err)
        self.assertEqual(res["web"]["failedPhase"], "storage")
        self.assertEqual(self.garage.state()["buckets"], [])

class GarageDeployOn1x(GarageDeploy):
    """The same deployments against Garage 1.x's answers (admin API v1 only)."""
    GARAGE_VERSION = "1"


class GarageDeployOn09(GarageDeploy):
    """The same deployments against Garage 0.9's answers (admin API v1 only)."""
    GARAGE_VERSION = "0.9"


if __name__ == "__main__":
    unittest.main()
