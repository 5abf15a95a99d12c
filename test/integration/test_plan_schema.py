"""doc/plan.schema.json and the validator the plan tests check documents with
(test/tools/json_schema_subset.py): the schema describes every field, and the validator
rejects what the schema forbids (so a test that finds a document valid means something).
"""
import json
import os
import sys
import unittest

SOURCE = os.environ.get("FEDI_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SOURCE, "test", "tools"))

import json_schema_subset as jss  # noqa: E402

SCHEMA_FILE = os.path.join(SOURCE, "doc", "plan.schema.json")


def load_schema():
    with open(SCHEMA_FILE) as f:
        return json.load(f)


def change(what="memory", frm="1", to="2"):
    return {"what": what, "from": frm, "to": to}


def sample_plan():
    """A plan document as fedi writes it, with one of everything."""
    machine = {
        "name": "web", "changes": True,
        "provision": {"action": "update", "provider": "pve", "type": "proxmox", "id": "105",
                      "changes": [change()], "fixed": [], "why": ""},
        "system": {"system": "/nix/store/b-system", "current": "/nix/store/a-system",
                   "profile": "/nix/store/a-system", "generation": 4, "observed": True,
                   "activation": "activate",
                   "packages": [{"name": "firefox", "from": ["119.0"], "to": ["120.0"],
                                 "sizeDelta": 2202009}],
                   "pathsTotal": 340, "pathsToSend": 12, "bytesToSend": 432013312},
        "secrets": [{"name": "db", "action": "create", "origin": "secrets.db", "reasons": []}],
        "accounts": [{"kind": "account", "name": "admin", "machine": "web", "action": "create",
                      "reasons": ["does not exist"]}],
        "errors": [],
    }
    return {
        "schemaVersion": 1, "deployment": "/srv/deployment.nix", "goal": "switch", "on": [],
        "created": "2026-12-07T12:00:00Z", "changes": True, "ok": True, "machines": [machine],
        "destroyed": [], "errors": [],
        "storage": {"items": [{"storage": "s3", "kind": "bucket", "name": "media",
                               "action": "create", "changes": [change("quota", "", "1 GiB")]}],
                    "undeclared": []},
        "directory": [{"kind": "directory", "name": "uid=a,dc=x", "machine": "",
                       "action": "create", "reasons": []}],
        "observed": {"machine.web.system": "/nix/store/b-system", "machine.web.generation": "4"},
    }


class ValidatorTest(unittest.TestCase):
    def setUp(self):
        self.schema = load_schema()

    def errors(self, doc):
        return jss.validate(self.schema, doc)

    def test_a_plan_as_fedi_writes_it_is_valid(self):
        self.assertEqual(self.errors(sample_plan()), [])

    def broken(self, edit):
        doc = sample_plan()
        edit(doc)
        errors = self.errors(doc)
        self.assertTrue(errors, "the validator accepted a wrong document")
        return "\n".join(errors)

    def test_missing_required_field(self):
        out = self.broken(lambda d: d["machines"][0]["system"].pop("bytesToSend"))
        self.assertIn("/machines/0/system: required property 'bytesToSend' is missing", out)

    def test_unknown_field(self):
        out = self.broken(lambda d: d["machines"][0]["secrets"][0].update(value="hunter2"))
        self.assertIn("/machines/0/secrets/0: property 'value' is not allowed", out)

    def test_wrong_type(self):
        out = self.broken(lambda d: d["machines"][0]["system"].update(generation="4"))
        self.assertIn("/machines/0/system/generation", out)
        out = self.broken(lambda d: d["machines"][0]["system"].update(pathsTotal=True))
        self.assertIn("is not of type integer", out)
        self.assertIn("/", self.broken(lambda d: d.update(on="web")))

    def test_the_document_fedi_writes_for_every_kind_of_change_is_valid(self):
        # Written by the unit test "plan json: the document of every kind of change".
        with open(os.path.join(SOURCE, "test", "data", "golden", "plan", "full.json")) as f:
            doc = json.load(f)
        self.assertEqual(self.errors(doc), [])
        kinds = {m["provision"]["action"] for m in doc["machines"]}
        self.assertTrue({"none", "create", "update"} <= kinds, kinds)

    def test_null_generation_is_allowed(self):
        doc = sample_plan()
        doc["machines"][0]["system"]["generation"] = None
        self.assertEqual(self.errors(doc), [])

    def test_enum(self):
        out = self.broken(lambda d: d["storage"]["items"][0].update(action="explode"))
        self.assertIn("/storage/items/0/action: 'explode' is not one of", out)
        self.broken(lambda d: d.update(schemaVersion=2))
        self.broken(lambda d: d["machines"][0]["system"].update(activation="reboot"))

    def test_items_and_additional_properties_schema(self):
        self.assertIn("/machines/0/errors/0",
                      self.broken(lambda d: d["machines"][0]["errors"].append(3)))
        self.assertIn("/observed/vm.web",
                      self.broken(lambda d: d["observed"].update({"vm.web": 7})))

    def test_ref_is_followed(self):
        out = self.broken(lambda d: d["machines"][0]["provision"]["changes"][0].pop("to"))
        self.assertIn("/machines/0/provision/changes/0: required property 'to'", out)

    def test_unsupported_keywords_are_refused(self):
        with self.assertRaises(jss.SchemaError):
            jss.validate({"type": "string", "minLength": 3}, "ab")
        with self.assertRaises(jss.SchemaError):
            jss.validate({"$ref": "other.json#/x"}, 1)


class SchemaTest(unittest.TestCase):
    def test_it_is_draft_2020_12_and_versioned(self):
        schema = load_schema()
        self.assertEqual(schema["$schema"], "https://json-schema.org/draft/2020-12/schema")
        self.assertEqual(schema["properties"]["schemaVersion"]["enum"], [1])

    def test_every_field_is_described(self):
        schema = load_schema()
        missing = []

        def walk(node, path):
            for name, prop in node.get("properties", {}).items():
                target = prop
                if "$ref" in prop and "description" not in prop:
                    target = schema["$defs"][prop["$ref"].split("/")[-1]]
                if "description" not in target:
                    missing.append(f"{path}/{name}")
                walk(prop, f"{path}/{name}")

        walk(schema, "")
        for name, d in schema["$defs"].items():
            if "description" not in d:
                missing.append(f"$defs/{name}")
            walk(d, f"$defs/{name}")
        self.assertEqual(missing, [])


if __name__ == "__main__":
    unittest.main()
