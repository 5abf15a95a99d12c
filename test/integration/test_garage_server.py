"""Behaviour of the Garage admin API test server over HTTP.

Garage cannot run here, so test/servers/garage/garage_test_server.py is a test double
built from Garage's official OpenAPI documents (test/data/garage/) plus the real
server's behaviour those documents leave out (listed in test/data/README.md). fedi's
Garage client is tested against it; these tests check the double itself: it rejects what
the documents reject, with Garage's error shape and status, keeps state as Garage does,
answers in the documents' response shapes, and serves v1/v2 as Garage 1.x/2.x do.
"""

import json
import os
import select
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.request

SOURCE_DIR = os.environ.get("FEDI_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVER_DIR = os.path.join(SOURCE_DIR, "test", "servers", "garage")
SERVER = os.path.join(SERVER_DIR, "garage_test_server.py")
sys.path.insert(0, SERVER_DIR)

import mini_yaml  # noqa: E402
import openapi  # noqa: E402
from schema import Validator  # noqa: E402

TOKEN = "test-admin-token-4f1c"
with open(os.path.join(openapi.default_reference_dir(), openapi.V2_FILE)) as _f:
    V2_DOC = json.load(_f)
with open(os.path.join(openapi.default_reference_dir(), openapi.V1_FILE)) as _f:
    V1_DOC = mini_yaml.load(_f.read())
ERROR_FIELDS = {"code", "message", "region", "path"}


class GarageServer:
    """One server process; `call` checks v2 successes against the v2 document."""

    def __init__(self, *args):
        self.tmp = tempfile.TemporaryDirectory()
        token_file = os.path.join(self.tmp.name, "token")
        with open(token_file, "w") as f:
            f.write(TOKEN + "\n")
        self.process = subprocess.Popen(
            [sys.executable, SERVER, "--port", "0", "--admin-token-file", token_file, *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.process.stdout], [], [], 15)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            self.stop()
            raise RuntimeError("server did not start: " + self.process.stderr.read())
        self.info = json.loads(line)
        self.base = self.info["adminEndpoint"]
        self.v2_validator = Validator(V2_DOC)

    def stop(self):
        self.process.kill()
        self.process.wait()
        self.process.stdout.close()
        self.process.stderr.close()
        self.tmp.cleanup()

    def call(self, method, path, body=None, token=TOKEN, raw=None, headers=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                            else None)
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read().decode()
        try:
            value = json.loads(text) if text else None
        except ValueError:
            value = text
        if 200 <= status < 300 and path.startswith("/v2/"):
            op = V2_DOC["paths"][path.split("?")[0]][method.lower()]
            schema = op["responses"][str(status)].get("content", {}).get(
                "application/json", {}).get("schema")
            if schema is not None:
                self.v2_validator.validate(value, schema)
        return status, value

    def control(self, method, path, body=None):
        return self.call(method, "/_test/" + path, body, token=None)


class ServerTestCase(unittest.TestCase):
    server_args = ("--nodes", "3")

    def setUp(self):
        self.server = GarageServer(*self.server_args)
        self.addCleanup(self.server.stop)
        self.call = self.server.call

    def assertGarageError(self, reply, status, code, message_part=""):
        got_status, body = reply
        self.assertEqual(got_status, status, body)
        self.assertIsInstance(body, dict, body)
        self.assertEqual(set(body), ERROR_FIELDS)
        self.assertEqual(body["code"], code)
        self.assertEqual(body["region"], "garage")
        self.assertIn(message_part, body["message"])

    def ok(self, method, path, body=None):
        status, value = self.call(method, path, body)
        self.assertEqual(status, 200, value)
        return value


class RequestChecking(ServerTestCase):
    def test_missing_required_body_fields_are_rejected_per_document(self):
        key = self.ok("POST", "/v2/CreateKey", {"name": "k"})
        bucket = self.ok("POST", "/v2/CreateBucket", {"globalAlias": "bucket-one"})
        valid = {
            "/v2/ImportKey": {"accessKeyId": "GK" + "ab" * 12, "secretAccessKey": "cd" * 32},
            "/v2/AllowBucketKey": {"bucketId": bucket["id"], "accessKeyId": key["accessKeyId"],
                                   "permissions": {"read": True}},
            "/v2/ApplyClusterLayout": {"version": 1},
            "/v2/CleanupIncompleteUploads": {"bucketId": bucket["id"], "olderThanSecs": 1},
        }
        schemas = V2_DOC["components"]["schemas"]
        for path, body in valid.items():
            ref = V2_DOC["paths"][path]["post"]["requestBody"]["content"]["application/json"][
                "schema"]["$ref"]
            schema = schemas[ref.split("/")[-1]]
            while "$ref" in schema:
                schema = schemas[schema["$ref"].split("/")[-1]]
            self.assertTrue(schema["required"])
            for field in schema["required"]:
                with self.subTest(path=path, field=field):
                    partial = {k: v for k, v in body.items() if k != field}
                    self.assertGarageError(self.call("POST", path, partial), 400,
                                           "InvalidRequest", f"missing field `{field}`")

    def test_wrong_types_and_enums_are_rejected(self):
        cases = [
            ("/v2/CreateBucket", {"globalAlias": 12}),
            ("/v2/ApplyClusterLayout", {"version": "1"}),
            ("/v2/UpdateClusterLayout", {"parameters": {"zoneRedundancy": "minimum"}}),
            ("/v2/UpdateClusterLayout", {"roles": [{"id": "ab" * 32, "zone": "z",
                                                    "capacity": "big", "tags": []}]}),
            ("/v2/CreateKey", {"allow": {"createBucket": "yes"}}),
            ("/v2/CreateKey", {"expiration": "next week"}),
        ]
        for path, body in cases:
            with self.subTest(path=path, body=body):
                self.assertGarageError(self.call("POST", path, body), 400, "InvalidRequest",
                                       "Invalid JSON")
        self.assertGarageError(self.call("POST", "/v2/CreateKey", raw=b"{not json"), 400,
                               "InvalidRequest", "Invalid JSON")
        # The body is required even when all its fields are optional.
        self.assertGarageError(self.call("POST", "/v2/CreateKey", raw=b""), 400,
                               "InvalidRequest", "Invalid JSON")
        self.assertGarageError(self.call("GET", "/v2/GetKeyInfo?search=x&showSecretKey=yes"),
                               400, "InvalidRequest", "Failed to parse query parameter")

    def test_required_query_parameters(self):
        self.assertGarageError(self.call("POST", "/v2/DeleteBucket"), 400, "InvalidRequest",
                               "Missing argument `id`")
        self.assertGarageError(self.call("POST", "/v2/UpdateKey", {}), 400, "InvalidRequest",
                               "Missing argument `id`")
        self.assertGarageError(self.call("GET", "/v2/GetKeyInfo?id=GK1&id=GK2"), 400,
                               "InvalidRequest", "repeated")

    def test_unknown_fields_are_ignored(self):
        key = self.ok("POST", "/v2/CreateKey", {"name": "k", "colour": "blue",
                                                "allow": {"createBucket": True, "x": 1}})
        self.assertEqual(key["name"], "k")
        self.assertTrue(key["permissions"]["createBucket"])

    def test_unknown_endpoint_or_method_is_400(self):
        self.assertGarageError(self.call("GET", "/v2/NoSuchOperation"), 400, "InvalidRequest",
                               "Unknown API endpoint: GET /v2/NoSuchOperation")
        self.assertGarageError(self.call("GET", "/v2/CreateBucket"), 400, "InvalidRequest",
                               "Unknown API endpoint")
        self.assertGarageError(self.call("POST", "/v2/ListKeys", {}), 400, "InvalidRequest",
                               "Unknown API endpoint")
        self.assertGarageError(self.call("GET", "/nothing/here"), 400, "InvalidRequest",
                               "Unknown API endpoint")

    def test_token(self):
        for token in (None, "wrong", ""):
            with self.subTest(token=token):
                status, body = self.call("GET", "/v2/ListBuckets", token=token)
                self.assertGarageError((status, body), 403, "AccessDenied", "Forbidden")
                self.assertEqual(body["path"], "/v2/ListBuckets")
        self.assertGarageError(
            self.call("GET", "/v2/ListBuckets", token=None, headers={"Authorization": TOKEN}),
            403, "AccessDenied")
        # Unauthenticated endpoints stay open.
        status, text = self.call("GET", "/health", token=None)
        self.assertEqual(status, 200)
        self.assertEqual(text, "Garage is fully operational\nConsult the full health check API "
                               "endpoint at /v2/GetClusterHealth for more details\n")

    def test_not_modelled_operations_are_refused_plainly(self):
        self.assertGarageError(self.call("GET", "/v2/ListWorkers?node=self"), 400,
                               "InvalidRequest", "Unknown API endpoint")  # it is a POST
        status, body = self.call("POST", "/v2/ListWorkers?node=self", {})
        self.assertEqual(status, 501, body)


class Layout(ServerTestCase):
    def roles(self, capacity=10**9):
        return [{"id": n["id"], "zone": f"dc{i + 1}", "capacity": capacity, "tags": ["s3"]}
                for i, n in enumerate(self.server.info["nodes"])]

    def test_fresh_cluster_is_healthy_without_a_layout(self):
        health = self.ok("GET", "/v2/GetClusterHealth")
        self.assertEqual(health["status"], "healthy")
        self.assertEqual((health["knownNodes"], health["connectedNodes"]), (3, 3))
        self.assertEqual((health["storageNodes"], health["partitions"]), (0, 0))
        layout = self.ok("GET", "/v2/GetClusterLayout")
        self.assertEqual((layout["version"], layout["roles"]), (0, []))
        status = self.ok("GET", "/v2/GetClusterStatus")
        self.assertEqual(sorted(n["id"] for n in status["nodes"]),
                         sorted(n["id"] for n in self.server.info["nodes"]))
        self.assertTrue(all(n["role"] is None and n["isUp"] for n in status["nodes"]))

    def test_three_node_layout_staged_applied_and_healthy(self):
        staged = self.ok("POST", "/v2/UpdateClusterLayout", {"roles": self.roles()})
        self.assertEqual(staged["version"], 0)
        self.assertEqual(len(staged["stagedRoleChanges"]), 3)
        preview = self.ok("POST", "/v2/PreviewClusterLayoutChanges")
        self.assertEqual(preview["newLayout"]["version"], 1)
        for wrong in (0, 2, 7):
            with self.subTest(version=wrong):
                self.assertGarageError(self.call("POST", "/v2/ApplyClusterLayout",
                                                 {"version": wrong}),
                                       500, "InternalError", "Invalid new layout version")
        applied = self.ok("POST", "/v2/ApplyClusterLayout", {"version": 1})
        layout = applied["layout"]
        self.assertEqual(layout["version"], 1)
        self.assertEqual(layout["stagedRoleChanges"], [])
        self.assertEqual(sorted(r["zone"] for r in layout["roles"]), ["dc1", "dc2", "dc3"])
        # Replication 3 on 3 nodes: every node stores every partition.
        self.assertEqual({r["storedPartitions"] for r in layout["roles"]}, {256})
        health = self.ok("GET", "/v2/GetClusterHealth")
        self.assertEqual(health, {"status": "healthy", "knownNodes": 3, "connectedNodes": 3,
                                  "storageNodes": 3, "storageNodesOk": 3, "partitions": 256,
                                  "partitionsQuorum": 256, "partitionsAllOk": 256})
        status = self.ok("GET", "/v2/GetClusterStatus")
        self.assertEqual(status["layoutVersion"], 1)
        self.assertTrue(all(n["role"]["capacity"] == 10**9 for n in status["nodes"]))
        history = self.ok("GET", "/v2/GetClusterLayoutHistory")
        self.assertEqual([v["version"] for v in history["versions"]], [1, 0])

        # One node down: degraded (quorum 2 of 3 holds); two down: unavailable.
        nodes = self.server.info["nodes"]
        self.server.control("POST", "node-status", {"id": nodes[1]["id"], "up": False})
        health = self.ok("GET", "/v2/GetClusterHealth")
        self.assertEqual((health["status"], health["storageNodesOk"],
                          health["partitionsQuorum"], health["partitionsAllOk"]),
                         ("degraded", 2, 256, 0))
        self.server.control("POST", "node-status", {"id": nodes[2]["id"], "up": False})
        self.assertEqual(self.ok("GET", "/v2/GetClusterHealth")["status"], "unavailable")
        status, _ = self.call("GET", "/health", token=None)
        self.assertEqual(status, 503)

    def test_role_and_parameter_checks(self):
        self.assertGarageError(self.call("POST", "/v2/UpdateClusterLayout",
                                         {"roles": self.roles(capacity=1023)}),
                               400, "InvalidRequest", "1024")
        self.ok("POST", "/v2/UpdateClusterLayout", {"roles": self.roles(capacity=1024)})
        self.assertGarageError(self.call("POST", "/v2/UpdateClusterLayout",
                                         {"roles": [{"id": "nothex", "remove": True}]}),
                               400, "InvalidRequest", "Invalid node identifier")
        self.assertGarageError(self.call("POST", "/v2/UpdateClusterLayout", {
            "parameters": {"zoneRedundancy": {"atLeast": 4}}}), 400, "InvalidRequest",
            "replication factor (3)")
        staged = self.ok("POST", "/v2/UpdateClusterLayout",
                         {"parameters": {"zoneRedundancy": {"atLeast": 2}}})
        self.assertEqual(staged["stagedParameters"], {"zoneRedundancy": {"atLeast": 2}})
        reverted = self.ok("POST", "/v2/RevertClusterLayout")
        self.assertEqual((reverted["stagedRoleChanges"], reverted["stagedParameters"],
                          reverted["version"]), ([], None, 0))

    def test_apply_needs_enough_storage_nodes(self):
        gateway = dict(self.roles()[2], capacity=None)
        self.ok("POST", "/v2/UpdateClusterLayout", {"roles": self.roles()[:2] + [gateway]})
        self.assertGarageError(self.call("POST", "/v2/ApplyClusterLayout", {"version": 1}),
                               500, "InternalError", "replication factor")
        self.assertEqual(self.ok("GET", "/v2/GetClusterLayout")["version"], 0)


class IsolatedNodes(ServerTestCase):
    server_args = ("--nodes", "3", "--isolated")

    def test_connect_cluster_nodes(self):
        nodes = self.server.info["nodes"]
        self.assertEqual(len(self.ok("GET", "/v2/GetClusterStatus")["nodes"]), 1)
        results = self.ok("POST", "/v2/ConnectClusterNodes", [
            f"{nodes[1]['id']}@{nodes[1]['addr']}",
            f"{nodes[2]['id']}@10.9.9.9:3901",
            "not-a-peer"])
        self.assertEqual([r["success"] for r in results], [True, False, False])
        self.assertIsNone(results[0]["error"])
        self.assertTrue(results[1]["error"])
        self.assertEqual(len(self.ok("GET", "/v2/GetClusterStatus")["nodes"]), 2)
        self.assertEqual(self.ok("GET", "/v2/GetClusterHealth")["knownNodes"], 2)


class Buckets(ServerTestCase):
    def test_create_info_update_delete(self):
        created = self.ok("POST", "/v2/CreateBucket", {"globalAlias": "media"})
        bucket_id = created["id"]
        self.assertEqual(len(bucket_id), 64)
        self.assertEqual(created["globalAliases"], ["media"])
        self.assertEqual((created["objects"], created["bytes"]), (0, 0))
        self.assertEqual(self.ok("GET", f"/v2/GetBucketInfo?id={bucket_id}"), created)
        self.assertEqual(self.ok("GET", "/v2/GetBucketInfo?globalAlias=media")["id"], bucket_id)
        self.assertGarageError(self.call("POST", "/v2/CreateBucket", {"globalAlias": "media"}),
                               409, "BucketAlreadyExists")
        self.assertGarageError(self.call("POST", "/v2/CreateBucket", {"globalAlias": "Bad_Name"}),
                               400, "InvalidRequest")
        self.assertGarageError(self.call("GET", "/v2/GetBucketInfo?globalAlias=nothing"),
                               404, "NoSuchBucket")

        updated = self.ok("POST", f"/v2/UpdateBucket?id={bucket_id}", {
            "quotas": {"maxSize": 500 * 10**9, "maxObjects": None},
            "websiteAccess": {"enabled": True, "indexDocument": "index.html"}})
        self.assertEqual(updated["quotas"], {"maxSize": 500 * 10**9, "maxObjects": None})
        self.assertTrue(updated["websiteAccess"])
        self.assertEqual(updated["websiteConfig"]["indexDocument"], "index.html")
        self.assertGarageError(self.call("POST", f"/v2/UpdateBucket?id={bucket_id}",
                                         {"websiteAccess": {"enabled": True}}),
                               400, "InvalidRequest", "indexDocument")
        # Quotas are replaced together: an absent one is removed.
        updated = self.ok("POST", f"/v2/UpdateBucket?id={bucket_id}",
                          {"quotas": {"maxObjects": 10}})
        self.assertEqual(updated["quotas"], {"maxSize": None, "maxObjects": 10})
        self.assertEqual(updated["websiteConfig"]["indexDocument"], "index.html")

        self.server.control("POST", "bucket-contents", {"bucketId": bucket_id, "objects": 3,
                                                        "bytes": 1000})
        self.assertEqual(self.ok("GET", f"/v2/GetBucketInfo?id={bucket_id}")["objects"], 3)
        self.assertGarageError(self.call("POST", f"/v2/DeleteBucket?id={bucket_id}"), 409,
                               "BucketNotEmpty")
        self.server.control("POST", "bucket-contents", {"bucketId": bucket_id, "objects": 0})
        status, _ = self.call("POST", f"/v2/DeleteBucket?id={bucket_id}")
        self.assertEqual(status, 200)
        self.assertGarageError(self.call("GET", f"/v2/GetBucketInfo?id={bucket_id}"), 404,
                               "NoSuchBucket")
        self.assertEqual(self.ok("GET", "/v2/ListBuckets"), [])
        # The alias is free again.
        self.ok("POST", "/v2/CreateBucket", {"globalAlias": "media"})

    def test_aliases(self):
        bucket = self.ok("POST", "/v2/CreateBucket", {"globalAlias": "one"})
        key = self.ok("POST", "/v2/CreateKey", {"name": "app"})
        info = self.ok("POST", "/v2/AddBucketAlias", {"bucketId": bucket["id"],
                                                      "globalAlias": "two"})
        self.assertEqual(info["globalAliases"], ["one", "two"])
        info = self.ok("POST", "/v2/AddBucketAlias", {
            "bucketId": bucket["id"], "localAlias": "mine", "accessKeyId": key["accessKeyId"]})
        self.assertEqual(info["keys"][0]["bucketLocalAliases"], ["mine"])
        listed = self.ok("GET", "/v2/ListBuckets")
        self.assertEqual(listed[0]["localAliases"],
                         [{"accessKeyId": key["accessKeyId"], "alias": "mine"}])
        info = self.ok("POST", "/v2/RemoveBucketAlias", {"bucketId": bucket["id"],
                                                         "globalAlias": "one"})
        self.assertEqual(info["globalAliases"], ["two"])
        self.ok("POST", "/v2/RemoveBucketAlias", {"bucketId": bucket["id"], "globalAlias": "two"})
        self.assertGarageError(self.call("POST", "/v2/RemoveBucketAlias", {
            "bucketId": bucket["id"], "localAlias": "mine", "accessKeyId": key["accessKeyId"]}),
            400, "InvalidRequest", "other aliases")

    def test_injected_faults(self):
        self.server.control("POST", "faults", {"operation": "CreateBucket", "count": 2,
                                               "status": 503, "code": "ServiceUnavailable",
                                               "message": "Quorum not reached"})
        for _ in range(2):
            self.assertGarageError(self.call("POST", "/v2/CreateBucket", {"globalAlias": "flaky"}),
                                   503, "ServiceUnavailable", "Quorum not reached")
        self.ok("POST", "/v2/CreateBucket", {"globalAlias": "flaky"})
        # Faults apply after request checking and the token.
        self.server.control("POST", "faults", {"operation": "ListKeys"})
        self.assertGarageError(self.call("GET", "/v2/ListKeys", token="bad"), 403,
                               "AccessDenied")
        self.assertGarageError(self.call("GET", "/v2/ListKeys"), 500, "InternalError")
        self.ok("GET", "/v2/ListKeys")
        _, log = self.server.control("GET", "requests")
        self.assertEqual([e["status"] for e in log if e["operation"] == "CreateBucket"],
                         [503, 503, 200])


class Keys(ServerTestCase):
    def test_create_info_import_delete(self):
        created = self.ok("POST", "/v2/CreateKey", {"name": "app"})
        key_id, secret = created["accessKeyId"], created["secretAccessKey"]
        self.assertRegex(key_id, r"^GK[0-9a-f]{24}$")
        self.assertRegex(secret, r"^[0-9a-f]{64}$")
        info = self.ok("GET", f"/v2/GetKeyInfo?id={key_id}")
        # skip_serializing_if is_default (v2.0.0 src/api/admin/api.rs GetKeyInfoResponse):
        # absent, not null
        self.assertNotIn("secretAccessKey", info)
        self.assertEqual(info["name"], "app")
        info = self.ok("GET", f"/v2/GetKeyInfo?id={key_id}&showSecretKey=true")
        self.assertEqual(info["secretAccessKey"], secret)
        self.assertEqual(self.ok("GET", "/v2/GetKeyInfo?search=app")["accessKeyId"], key_id)
        renamed = self.ok("POST", f"/v2/UpdateKey?id={key_id}", {
            "name": "renamed", "allow": {"createBucket": True}})
        self.assertEqual((renamed["name"], renamed["permissions"]["createBucket"]),
                         ("renamed", True))
        self.assertNotIn("secretAccessKey", renamed)

        imported_id, imported_secret = "GK" + "1a" * 12, "2b" * 32
        imported = self.ok("POST", "/v2/ImportKey", {
            "accessKeyId": imported_id, "secretAccessKey": imported_secret, "name": "old"})
        self.assertEqual(imported["accessKeyId"], imported_id)
        self.assertNotIn(imported_secret, json.dumps(imported))
        shown = self.ok("GET", f"/v2/GetKeyInfo?id={imported_id}&showSecretKey=true")
        self.assertEqual(shown["secretAccessKey"], imported_secret)
        self.assertGarageError(self.call("POST", "/v2/ImportKey", {
            "accessKeyId": imported_id, "secretAccessKey": imported_secret}),
            409, "KeyAlreadyExists")
        self.assertGarageError(self.call("POST", "/v2/ImportKey", {
            "accessKeyId": "AKIA123", "secretAccessKey": imported_secret}),
            400, "InvalidRequest")
        self.assertEqual(sorted(k["id"] for k in self.ok("GET", "/v2/ListKeys")),
                         sorted([key_id, imported_id]))

        status, _ = self.call("POST", f"/v2/DeleteKey?id={key_id}")
        self.assertEqual(status, 200)
        self.assertGarageError(self.call("GET", f"/v2/GetKeyInfo?id={key_id}"), 404,
                               "NoSuchAccessKey")
        self.assertGarageError(self.call("POST", f"/v2/DeleteKey?id={key_id}"), 404,
                               "NoSuchAccessKey")
        # A deleted key's id stays taken.
        self.assertGarageError(self.call("POST", "/v2/ImportKey", {
            "accessKeyId": key_id, "secretAccessKey": secret}), 409, "KeyAlreadyExists")

    def test_allow_sets_only_true_flags_and_deny_clears_only_true_flags(self):
        bucket = self.ok("POST", "/v2/CreateBucket", {"globalAlias": "perm"})
        key = self.ok("POST", "/v2/CreateKey", {"name": "k"})
        ids = {"bucketId": bucket["id"], "accessKeyId": key["accessKeyId"]}

        def perms(path, flags):
            info = self.ok("POST", path, dict(ids, permissions=flags))
            [entry] = [k for k in info["keys"] if k["accessKeyId"] == key["accessKeyId"]]
            return entry["permissions"]

        self.assertEqual(perms("/v2/AllowBucketKey", {"read": True, "write": False}),
                         {"read": True, "write": False, "owner": False})
        self.assertEqual(perms("/v2/AllowBucketKey", {"read": False, "write": True}),
                         {"read": True, "write": True, "owner": False})
        self.assertEqual(perms("/v2/DenyBucketKey", {"read": True, "write": False,
                                                     "owner": False}),
                         {"read": False, "write": True, "owner": False})
        self.assertEqual(perms("/v2/AllowBucketKey", {"owner": True}),
                         {"read": False, "write": True, "owner": True})
        key_info = self.ok("GET", f"/v2/GetKeyInfo?id={key['accessKeyId']}")
        self.assertEqual(key_info["buckets"][0]["permissions"],
                         {"read": False, "write": True, "owner": True})
        self.assertEqual(key_info["buckets"][0]["globalAliases"], ["perm"])
        self.assertGarageError(self.call("POST", "/v2/AllowBucketKey", dict(
            ids, accessKeyId="GK" + "0" * 24, permissions={"read": True})),
            404, "NoSuchAccessKey")


class V1OnGarage2(ServerTestCase):
    def test_v1_served_except_what_2x_dropped(self):
        health = self.ok("GET", "/v1/health")
        self.assertEqual(health["status"], "healthy")
        key = self.ok("POST", "/v1/key", {"name": "v1key"})
        self.assertTrue(key["secretAccessKey"])
        self.assertIn("expired", key)  # 2.x answers v1 calls with v2 results
        self.assertEqual(self.ok("GET", f"/v1/key?id={key['accessKeyId']}")["name"], "v1key")
        self.assertEqual([k["id"] for k in self.ok("GET", "/v1/key")], [key["accessKeyId"]])
        bucket = self.ok("POST", "/v1/bucket", {"globalAlias": "legacy"})
        self.assertEqual(self.ok("GET", "/v1/bucket?globalAlias=legacy")["id"], bucket["id"])
        info = self.ok("PUT", f"/v1/bucket/alias/global?id={bucket['id']}&alias=second")
        self.assertEqual(info["globalAliases"], ["legacy", "second"])
        for method, path, name in (
                ("DELETE", f"/v1/bucket?id={bucket['id']}", "DeleteBucket"),
                ("DELETE", f"/v1/key?id={key['accessKeyId']}", "DeleteKey"),
                ("GET", "/v1/status", "GetClusterStatus"),
                ("POST", "/v1/layout", "UpdateClusterLayout")):
            with self.subTest(path=path):
                self.assertGarageError(self.call(method, path, [] if method == "POST" else None),
                                       400, "InvalidRequest",
                                       f"v1/ endpoint is no longer supported: {name}")
        self.ok("GET", f"/v1/bucket?id={bucket['id']}")  # still there
        # v1 bodies are checked against the v1 document.
        self.assertGarageError(self.call("POST", "/v1/bucket/allow", {
            "bucketId": bucket["id"], "accessKeyId": key["accessKeyId"],
            "permissions": {"read": True}}), 400, "InvalidRequest", "missing field `write`")
        self.assertGarageError(self.call("GET", f"/v1/key?id={key['accessKeyId']}"
                                                "&showSecretKey=maybe"),
                               400, "InvalidRequest", "showSecretKey")


class Garage1(ServerTestCase):
    server_args = ("--nodes", "3", "--version", "1")

    def v1_schema(self, path, method, status="200"):
        response = V1_DOC["paths"][path][method]["responses"][status]
        return response["content"]["application/json"]["schema"]

    def check_status(self, status):
        # Garage 1.x (src/api/admin/cluster.rs, v1.0.0-v1.2.0), not the v1 document's
        # 0.9 shape: every node with its role, no knownNodes/layout.
        self.assertEqual(status["garageVersion"], "v1.2.0")
        self.assertNotIn("knownNodes", status)
        self.assertNotIn("layout", status)
        self.assertEqual(status["layoutVersion"], 0)
        self.assertEqual(len(status["nodes"]), 3)
        for node in status["nodes"]:
            self.assertEqual(
                list(node)[:7],
                ["id", "role", "addr", "hostname", "isUp", "lastSeenSecsAgo", "draining"])
            self.assertIsNone(node["role"])

    def test_v2_is_unknown_and_v1_is_complete(self):
        self.assertGarageError(self.call("GET", "/v2/GetClusterHealth"), 400,
                               "InvalidRequest", "Unknown API endpoint")
        v1 = Validator(V1_DOC)
        self.check_status(self.ok("GET", "/v1/status"))

        nodes = self.server.info["nodes"]
        layout = self.ok("POST", "/v1/layout", [
            {"id": n["id"], "zone": "dc1", "capacity": 2 * 10**9, "tags": []} for n in nodes])
        v1.validate(layout, self.v1_schema("/layout", "post"))
        self.assertEqual(len(layout["stagedRoleChanges"]), 3)
        self.assertNotIn("partitionSize", layout)  # v1 shape only
        self.assertGarageError(self.call("POST", "/v1/layout", [
            {"id": nodes[0]["id"], "zone": "dc1", "tags": []}]), 400, "InvalidRequest",
            "did not match any variant")  # v1 requires capacity (null for a gateway)
        self.assertGarageError(self.call("POST", "/v1/layout/apply", {"version": 3}), 500,
                               "InternalError")
        applied = self.ok("POST", "/v1/layout/apply", {"version": 1})
        v1.validate(applied, self.v1_schema("/layout/apply", "post"))
        self.assertEqual(applied["layout"]["version"], 1)
        status = self.ok("GET", "/v1/status")
        self.assertEqual(status["layoutVersion"], 1)
        self.assertEqual(sorted(n["role"]["id"] for n in status["nodes"]),
                         sorted(n["id"] for n in nodes))
        self.assertEqual(status["nodes"][0]["role"]["zone"], "dc1")
        # Revert takes no body on 1.x and keeps the version (src/rpc/layout/history.rs).
        self.assertEqual(self.ok("POST", "/v1/layout/revert")["version"], 1)
        health = self.ok("GET", "/v1/health")
        self.assertEqual((health["status"], health["storageNodes"], health["partitions"]),
                         ("healthy", 3, 256))

        key = self.ok("POST", "/v1/key", {"name": None})
        v1.validate(key, self.v1_schema("/key?list", "post"))
        self.assertNotIn("expired", key)
        bucket = self.ok("POST", "/v1/bucket", {"globalAlias": "old"})
        v1.validate(bucket, self.v1_schema("/bucket", "post"))
        self.assertNotIn("created", bucket)
        self.assertEqual(self.ok("GET", "/v1/bucket"), [
            {"id": bucket["id"], "globalAliases": ["old"], "localAliases": []}])
        self.assertEqual(self.ok("GET", "/v1/key"), [
            {"id": key["accessKeyId"], "name": "Unnamed key"}])
        status, body = self.call("DELETE", f"/v1/key?id={key['accessKeyId']}")
        self.assertEqual((status, body), (204, None))
        status, body = self.call("DELETE", f"/v1/bucket?id={bucket['id']}")
        self.assertEqual((status, body), (204, None))

    def test_token_on_1x(self):
        self.assertGarageError(self.call("GET", "/v1/health", token=None), 403, "AccessDenied",
                               "Authorization token must be provided")
        self.assertGarageError(self.call("GET", "/v1/health", token="nope"), 403,
                               "AccessDenied", "Forbidden: Invalid authorization token")
        status, text = self.call("GET", "/health", token=None)
        self.assertEqual(status, 200)
        self.assertIn("endpoint at /v1/health for more details", text)


class Garage09(ServerTestCase):
    server_args = ("--nodes", "3", "--version", "0.9")

    def test_status_has_known_nodes_and_layout_and_revert_makes_a_version(self):
        # v0.9.4 src/api/admin/cluster.rs: the v1 document's shape
        v1 = Validator(V1_DOC)
        status = self.ok("GET", "/v1/status")
        v1.validate(status, V1_DOC["paths"]["/status"]["get"]["responses"]["200"]["content"]
                    ["application/json"]["schema"])
        self.assertEqual(status["garageVersion"], "v0.9.4")
        self.assertEqual(len(status["knownNodes"]), 3)
        self.assertNotIn("nodes", status)
        self.assertEqual(status["layout"], {"version": 0, "roles": [], "stagedRoleChanges": []})
        nodes = self.server.info["nodes"]
        self.ok("POST", "/v1/layout", [{"id": nodes[0]["id"], "zone": "dc1",
                                        "capacity": 10**9, "tags": []}])
        # 0.9's revert wants the next version and makes it (src/rpc/layout.rs).
        self.assertGarageError(self.call("POST", "/v1/layout/revert"), 400, "InvalidRequest",
                               "Invalid JSON")
        self.assertGarageError(self.call("POST", "/v1/layout/revert", {"version": 5}), 500,
                               "InternalError", "Invalid new layout version")
        reverted = self.ok("POST", "/v1/layout/revert", {"version": 1})
        self.assertEqual((reverted["version"], reverted["stagedRoleChanges"]), (1, []))
        self.assertEqual(self.ok("GET", "/v1/status")["layout"]["version"], 1)
        self.assertNotIn("layoutVersion", self.ok("GET", "/v1/status"))


if __name__ == "__main__":
    unittest.main()
