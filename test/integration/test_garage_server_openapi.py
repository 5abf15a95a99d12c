"""Checks the pieces the Garage admin API test server is built from.

Garage cannot run here, so fedi's Garage client is tested against a test double built
from Garage's official OpenAPI documents (test/servers/garage/). These tests check that
it reads those documents faithfully: the small YAML loader against independent counts
of the v1 file (and against PyYAML when installed), the schema validator on the
documents' own schemas, and the operation tables against the documents.
"""

import json
import os
import re
import sys
import unittest

SOURCE_DIR = os.environ.get("FEDI_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(SOURCE_DIR, "test", "servers", "garage"))

import mini_yaml  # noqa: E402
import openapi  # noqa: E402
import operations  # noqa: E402
import router  # noqa: E402
import v1_compat  # noqa: E402
from schema import SchemaError, Validator  # noqa: E402

REFERENCE_DIR = openapi.default_reference_dir()


def read(name):
    with open(os.path.join(REFERENCE_DIR, name), encoding="utf-8") as f:
        return f.read()


class YamlLoaderOnTheV1Document(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.text = read(openapi.V1_FILE)
        cls.doc = mini_yaml.load(cls.text)

    def test_paths_and_operations_match_a_line_count_of_the_file(self):
        # Independent of the loader: in this file, paths sit at indent 2 under "paths:",
        # methods at indent 4, and every operation has one operationId line.
        section = self.text.split("\npaths:", 1)[1].split("\ncomponents:", 1)[0]
        paths = re.findall(r"^  (\S[^:]*|\"[^\"]+\"):\s*$", section, re.M)
        methods = re.findall(r"^    (get|put|post|delete):\s*$", section, re.M)
        op_ids = re.findall(r"operationId:\s*\"?(\w+)\"?", self.text)
        self.assertEqual(len(self.doc["paths"]), len(paths))
        self.assertEqual(sum(len(v) for v in self.doc["paths"].values()), len(methods))
        loaded_ids = [op["operationId"] for item in self.doc["paths"].values()
                      for op in item.values()]
        self.assertEqual(sorted(loaded_ids), sorted(op_ids))
        self.assertIn("/key?list", self.doc["paths"])
        self.assertEqual(len(op_ids), 24)

    def test_schemas_and_scalars(self):
        schemas = self.doc["components"]["schemas"]
        self.assertEqual(schemas["LayoutVersion"]["required"], ["version"])
        self.assertEqual(schemas["NodeRoleUpdate"]["required"], ["id", "zone", "capacity", "tags"])
        self.assertIs(schemas["NodeRoleUpdate"]["properties"]["capacity"]["nullable"], True)
        self.assertEqual(schemas["NodeRoleChange"]["oneOf"][0],
                         {"$ref": "#/components/schemas/NodeRoleRemove"})
        health = self.doc["paths"]["/health"]["get"]["responses"]["200"]
        props = health["content"]["application/json"]["schema"]["properties"]
        self.assertEqual(props["partitions"]["example"], 256)
        key_params = self.doc["paths"]["/key"]["get"]["parameters"]
        secret = next(p for p in key_params if p["name"] == "showSecretKey")
        self.assertEqual(secret["schema"]["enum"], ["true", "false"])
        self.assertEqual(self.doc["servers"][0]["url"], "http://localhost:3903/v1/")
        # A literal block keeps its line breaks, blank lines and one final newline.
        description = self.doc["paths"]["/layout"]["post"]["description"]
        self.assertIn("`POST /layout/revert` to clear all of the staged changes in the "
                      "layout.\n\nSetting the capacity", description)
        self.assertTrue(description.endswith("(and not KiB, MiB, GiB that assume "
                                             "1KiB = 1024 bytes).\n"))

    def test_same_structure_as_pyyaml_when_installed(self):
        try:
            import yaml
        except ImportError:
            self.skipTest("PyYAML (python3-yaml) not installed")
        self.assertEqual(self.doc, yaml.safe_load(self.text))


class YamlLoaderSubset(unittest.TestCase):
    def test_constructs(self):
        text = (
            "a: 1\n"
            "b: -2.5\n"
            "c: ~\n"
            "d:\n"
            "e: 'it''s'\n"
            "f: \"tab\\there \\u00e9\"\n"
            "\"g?x\": [ one, \"two, three\", 4 ]  # comment\n"
            "h:\n"
            "- x\n"
            "- k: v\n"
            "  l:\n"
            "    - 1\n"
            "-  - nested\n"
            "i: |\n"
            "  line one\n"
            "\n"
            "    indented\n"
            "j: |-\n"
            "  stripped\n"
            "k: [ ]\n"
            "l: v0.9.0\n"
            "m: true\n")
        self.assertEqual(mini_yaml.load(text), {
            "a": 1, "b": -2.5, "c": None, "d": None, "e": "it's", "f": "tab\there \u00e9",
            "g?x": ["one", "two, three", 4],
            "h": ["x", {"k": "v", "l": [1]}, ["nested"]],
            "i": "line one\n\n  indented\n", "j": "stripped", "k": [], "l": "v0.9.0",
            "m": True})

    def test_refuses_what_it_does_not_support(self):
        for text in ("a: {b: 1}\n", "a: >\n  folded\n", "a: plain\n  continued\n",
                     "a: &anchor 1\n", "a:\n\t- 1\n", "a: 1\na: 2\n", "- a\nb: 1\n"):
            with self.subTest(text=text), self.assertRaises(mini_yaml.YamlError):
                mini_yaml.load(text)


class ValidatorOnTheDocumentSchemas(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.v2 = json.loads(read(openapi.V2_FILE))
        cls.v1 = mini_yaml.load(read(openapi.V1_FILE))

    def check(self, document, name, value):
        Validator(document).validate(value, {"$ref": f"#/components/schemas/{name}"})

    def rejects(self, document, name, value, fragment):
        with self.assertRaises(SchemaError) as caught:
            self.check(document, name, value)
        self.assertIn(fragment, str(caught.exception))

    def test_required_and_types(self):
        self.check(self.v2, "ImportKeyRequest", {"accessKeyId": "GK1", "secretAccessKey": "s"})
        self.rejects(self.v2, "ImportKeyRequest", {"accessKeyId": "GK1"},
                     "missing field `secretAccessKey`")
        self.rejects(self.v2, "ApplyClusterLayoutRequest", {"version": "1"}, "invalid type")
        self.rejects(self.v2, "ApplyClusterLayoutRequest", {"version": True}, "invalid type")
        self.rejects(self.v2, "ApplyClusterLayoutRequest", {"version": 1.5}, "invalid type")
        self.rejects(self.v2, "ApplyClusterLayoutRequest", {"version": -1}, "at least 0")
        self.rejects(self.v2, "ApplyClusterLayoutRequest", {"version": 2**64}, "int64")

    def test_unknown_fields_are_ignored(self):
        self.check(self.v2, "ApplyClusterLayoutRequest", {"version": 1, "extra": [1]})

    def test_nullable_in_both_dialects(self):
        self.check(self.v2, "CreateBucketRequest", {"globalAlias": None, "localAlias": None})
        self.rejects(self.v2, "BucketKeyPermChangeRequest",
                     {"bucketId": None, "accessKeyId": "GK", "permissions": {}}, "null")
        self.check(self.v1, "NodeRoleUpdate", {"id": "x", "zone": "z", "capacity": None,
                                               "tags": []})
        self.rejects(self.v1, "NodeRoleUpdate", {"id": "x", "zone": "z", "tags": []},
                     "missing field `capacity`")

    def test_one_of_all_of_and_enum(self):
        change = {"roles": [{"id": "n", "remove": True}, {"id": "m", "zone": "a", "tags": []}],
                  "parameters": {"zoneRedundancy": {"atLeast": 2}}}
        self.check(self.v2, "UpdateClusterLayoutRequest", change)
        self.check(self.v2, "UpdateClusterLayoutRequest",
                   {"parameters": {"zoneRedundancy": "maximum"}})
        self.rejects(self.v2, "UpdateClusterLayoutRequest",
                     {"parameters": {"zoneRedundancy": "minimum"}}, "did not match any variant")
        self.rejects(self.v2, "UpdateClusterLayoutRequest", {"roles": [{"id": "n"}]},
                     "did not match any variant")
        self.rejects(self.v2, "UpdateClusterLayoutRequest",
                     {"roles": [{"remove": True}]}, "missing field `id`")
        self.rejects(self.v2, "AddBucketAliasRequest", {"bucketId": "b", "localAlias": "x"},
                     "did not match any variant")

    def test_date_time_format(self):
        self.check(self.v2, "UpdateKeyRequestBody", {"expiration": "2030-01-02T03:04:05Z"})
        self.rejects(self.v2, "UpdateKeyRequestBody", {"expiration": "tomorrow"}, "date-time")


class OperationTables(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.v2_doc = json.loads(read(openapi.V2_FILE))
        cls.v1_doc = mini_yaml.load(read(openapi.V1_FILE))

    def test_every_v2_operation_is_in_the_table(self):
        table = openapi.v2_operations(self.v2_doc)
        expected = {(m.upper(), p) for p, item in self.v2_doc["paths"].items() for m in item}
        self.assertEqual(set(table), expected)
        delete_bucket = table[("POST", "/v2/DeleteBucket")]
        self.assertEqual([p["name"] for p in delete_bucket.query_params], ["id"])
        self.assertFalse(table[("GET", "/health")].auth_required)
        self.assertFalse(table[("GET", "/metrics")].auth_required)
        self.assertTrue(table[("GET", "/v2/ListKeys")].auth_required)

    def test_every_v2_operation_is_handled_or_refused_on_purpose(self):
        special = {"Health", "CheckDomain", "Metrics"}
        backend = operations.Backend(None, None)
        for op in openapi.v2_operations(self.v2_doc).values():
            with self.subTest(op=op.id):
                modelled = hasattr(backend, "op_" + op.id)
                self.assertTrue(modelled or op.id in special
                                or op.id in operations.NOT_MODELLED)
                self.assertFalse(modelled and op.id in operations.NOT_MODELLED)

    def test_every_v1_operation_is_routed_and_converted(self):
        table = openapi.v1_operations(self.v1_doc)
        ops = [op for candidates in table.values() for op in candidates]
        self.assertEqual(len(ops), 24)
        self.assertEqual({op.id for op in ops}, set(v1_compat.CONVERSIONS))
        r = router.Router(self.v1_doc, self.v2_doc, version=1)
        self.assertEqual(r.route("GET", "/v1/key", {}).id, "ListKeys")
        self.assertEqual(r.route("GET", "/v1/key", {"search": "x"}).id, "GetKey")
        self.assertEqual(r.route("POST", "/v1/key", {}).id, "AddKey")
        self.assertEqual(r.route("POST", "/v1/key", {"id": "GK"}).id, "UpdateKey")
        self.assertEqual(r.route("GET", "/v1/bucket", {"globalAlias": "a"}).id,
                         "GetBucketInfo")
        self.assertEqual(r.route("GET", "/v1/bucket", {}).id, "ListBuckets")


if __name__ == "__main__":
    unittest.main()
