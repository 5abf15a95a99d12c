"""Request routing and generic request checks for the Garage test double.

Which operation a request names, and whether its query and body satisfy the documents,
is decided here from the operation tables. The facts below come from Garage's routers
rather than from the documents, which cannot express them.
"""

import json
import urllib.parse

import errors
import openapi
from schema import SchemaError

# Unknown routes: router_match! ("Unknown API endpoint: {} {}", a bad request) in
# src/api/router_macros.rs at v0.9.4 and v1.0.0, src/api/common/router_macros.rs from
# v1.1.0 to v2.0.0.
# Garage's v1 router (src/api/admin/router_v1.rs) matches these only when one of the listed query
# parameters is present (otherwise GET /v1/key is ListKeys, POST /v1/key CreateKey...).
V1_GUARDS = {
    "GetKey": ("id", "search"),
    "UpdateKey": ("id",),
    "DeleteKey": ("id",),
    "GetBucketInfo": ("id", "globalAlias"),
    "DeleteBucket": ("id",),
    "UpdateBucket": ("id",),
}

# v1 operations that Garage 2.x refuses, with the names its refusal message uses
# (v2.0.0 src/api/admin/router_v2.rs from_v1).
V1_DROPPED_IN_2X = {
    "GetNodes": "GetClusterStatus",
    "AddLayout": "UpdateClusterLayout",
    "DeleteBucket": "DeleteBucket",
    "DeleteKey": "DeleteKey",
}

# Success statuses where Garage differs from the v1 document (which says 200 for v1
# DeleteKey; Garage 0.9 and 1.x answer 204 No Content, as for DeleteBucket:
# src/api/admin/key.rs handle_delete_key, v0.9.4 and v1.0.0-v1.2.0). Source wins.
V1_STATUS_OVERRIDES = {"DeleteKey": 204}

# Unauthenticated endpoints served by both versions (only the v2 document lists them).
SPECIAL_PATHS = ("/health", "/check", "/metrics")


class Router:
    def __init__(self, v1_document, v2_document, version):
        self.version = version
        self.v1 = openapi.v1_operations(v1_document)
        self.v2 = openapi.v2_operations(v2_document)

    def route(self, method, path, query):
        """The Operation a request names; raises Garage's 400 errors otherwise."""
        if path in SPECIAL_PATHS:
            op = self.v2.get((method, path))
        elif path.startswith("/v1/"):
            op = self._route_v1(method, path, query)
            if op is not None and self.version >= 2 and op.id in V1_DROPPED_IN_2X:
                raise errors.bad_request(
                    f"v1/ endpoint is no longer supported: {V1_DROPPED_IN_2X[op.id]}")
        elif self.version >= 2:
            op = self.v2.get((method, path))
        else:
            op = None
        if op is None:
            raise errors.bad_request(f"Unknown API endpoint: {method} {path}")
        return op

    def _route_v1(self, method, path, query):
        candidates = self.v1.get((method, path), [])
        for op in sorted(candidates, key=lambda o: o.list_variant):
            guard = V1_GUARDS.get(op.id)
            if guard is None or any(name in query for name in guard):
                return op
        return None

    def success_status(self, op):
        if op.api == "v1":
            return V1_STATUS_OVERRIDES.get(op.id, op.success_status)
        return op.success_status


def parse_query(query_string):
    """Query parameters as Garage reads them: empty values ignored, repeats refused."""
    result = {}
    for name, value in urllib.parse.parse_qsl(query_string, keep_blank_values=True):
        if value == "":
            continue
        if name in result:
            raise errors.bad_request(f"Query parameter repeated: '{name}'")
        result[name] = value
    return result


def check_query(op, query):
    """Typed values of the operation's declared query parameters."""
    values = {}
    for param in op.query_params:
        name = param["name"]
        schema = op.validator.resolve(param.get("schema", {}))
        if name not in query:
            if param.get("required"):
                raise errors.bad_request(f"Missing argument `{name}` for endpoint")
            continue
        try:
            value = _coerce(query[name], schema)
            op.validator.validate(value, schema, name)
        except (ValueError, SchemaError) as e:
            raise errors.bad_request(f"Failed to parse query parameter `{name}`: {e}")
        values[name] = value
    return values


def _coerce(raw, schema):
    declared = schema.get("type", "string")
    kinds = [declared] if isinstance(declared, str) else [t for t in declared if t != "null"]
    kind = kinds[0] if kinds else "string"
    if kind == "boolean":
        if raw not in ("true", "false"):
            raise ValueError(f"expected true or false, got {raw!r}")
        return raw == "true"
    if kind == "integer":
        return int(raw)
    if kind == "number":
        return float(raw)
    return raw


def check_body(op, raw):
    """The request body as JSON, checked against the operation's schema."""
    if op.body_schema is None:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.bad_request("Invalid JSON: body is not valid UTF-8")
    if not text.strip():
        if op.body_required:
            raise errors.bad_request("Invalid JSON: EOF while parsing a value at line 1 column 0")
        return None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except ValueError as e:
        raise errors.bad_request(f"Invalid JSON: {e}")
    check_value(op.validator, value, op.body_schema)
    return value


def check_value(validator, value, schema):
    try:
        validator.validate(value, schema)
    except SchemaError as e:
        raise errors.bad_request(f"Invalid JSON: {e}")


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")
