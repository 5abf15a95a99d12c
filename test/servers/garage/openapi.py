"""Operation tables built from Garage's official OpenAPI documents.

Each operation carries what the server needs to check a request generically: method and
path, query parameters (name, required, schema), request body schema, whether a token
is required, the success status and the response schema. Nothing here is written per
operation; the few routing facts the documents cannot express live in router.py.
"""

import json
import os

import mini_yaml
from schema import Validator

V1_FILE = "garage-admin-v1.yml"
V2_FILE = "garage-admin-v2.json"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


class Operation:
    def __init__(self, api, path, method, spec, document):
        self.api = api
        self.id = spec["operationId"]
        self.method = method.upper()
        self.path = path
        self.validator = Validator(document)
        template_names = {p.split("}")[0] for p in path.split("{")[1:]}
        # Parameters the v2 document marks `in: path` on paths without a template
        # (e.g. DeleteBucket's id) are query parameters on the real server.
        self.query_params = [p for p in spec.get("parameters", [])
                             if p.get("in") == "query"
                             or (p.get("in") == "path" and p["name"] not in template_names)]
        body = spec.get("requestBody")
        self.body_schema = None
        self.body_required = False
        if body is not None:
            self.body_schema = body.get("content", {}).get("application/json", {}).get("schema")
            self.body_required = bool(body.get("required", False))
        codes = sorted(int(c) for c in spec.get("responses", {}) if str(c).startswith("2"))
        self.success_status = codes[0] if codes else 200
        success = spec.get("responses", {}).get(str(self.success_status), {})
        self.response_schema = success.get("content", {}).get("application/json", {}).get(
            "schema")
        security = spec.get("security", document.get("security", []))
        self.auth_required = bool(security) and {} not in security

    def __repr__(self):
        return f"<{self.api} {self.method} {self.path} {self.id}>"


def default_reference_dir():
    """test/data/garage (Garage's documents, vendored), derived from this file's location."""
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(os.path.dirname(os.path.dirname(here)), "data", "garage")


def load_v1(reference_dir):
    with open(os.path.join(reference_dir, V1_FILE), encoding="utf-8") as f:
        return mini_yaml.load(f.read())


def load_v2(reference_dir):
    with open(os.path.join(reference_dir, V2_FILE), encoding="utf-8") as f:
        return json.load(f)


def v2_operations(document):
    """{(METHOD, path): Operation} for every operation of the v2 document."""
    table = {}
    for path, item in document["paths"].items():
        for method, spec in item.items():
            if method in METHODS:
                table[(method.upper(), path)] = Operation("v2", path, method, spec, document)
    return table


def v1_operations(document):
    """{(METHOD, /v1 path): [Operation, ...]} for the v1 document.

    Its paths are relative to the `/v1/` server URL; two of them carry `?list`
    ("/key?list", "/bucket?list"), the variant served when no identifying query
    parameter is given. Several operations may share a method and path.
    """
    table = {}
    for path, item in document["paths"].items():
        base, _, marker = path.partition("?")
        for method, spec in item.items():
            if method not in METHODS:
                continue
            op = Operation("v1", "/v1" + base, method, spec, document)
            op.list_variant = marker == "list"
            table.setdefault((op.method, op.path), []).append(op)
    return table
