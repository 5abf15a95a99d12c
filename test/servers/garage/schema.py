"""Generic validation of JSON values against OpenAPI 3.0 / 3.1 schemas.

Covers what Garage's two documents use: $ref, allOf, oneOf/anyOf, type (a name or, in
3.1, a list of names), nullable (3.0), required, properties, additionalProperties,
items, enum, minimum/maximum, minLength/maxLength, pattern and the int32/int64/date-time
formats. Unknown object fields are accepted, as Garage's deserialiser ignores them.

oneOf is checked as "at least one alternative matches": Garage deserialises these with
untagged enums, which take the first variant that fits, and since unknown fields are
ignored several alternatives can fit the same object.
"""

import datetime
import re

_INT_RANGES = {"int64": (-(2**63), 2**63 - 1), "int32": (-(2**31), 2**31 - 1)}


class SchemaError(Exception):
    """A value does not match its schema; `where` is a path like `roles[0].capacity`."""

    def __init__(self, message, where=""):
        super().__init__(f"{message} at `{where}`" if where else message)
        self.where = where


class Validator:
    def __init__(self, document):
        self.document = document

    def resolve(self, schema):
        """Follows $ref (local references only) until a schema without one is reached."""
        seen = 0
        while isinstance(schema, dict) and "$ref" in schema:
            ref = schema["$ref"]
            if not ref.startswith("#/"):
                raise ValueError(f"non-local $ref {ref!r}")
            node = self.document
            for part in ref[2:].split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            schema = node
            seen += 1
            if seen > 64:
                raise ValueError(f"$ref loop at {ref!r}")
        return schema

    def validate(self, value, schema, where=""):
        schema = self.resolve(schema)
        if not isinstance(schema, dict) or not schema:
            return
        for sub in schema.get("allOf", []):
            self.validate(value, sub, where)
        alternatives = schema.get("oneOf") or schema.get("anyOf")
        if alternatives:
            self._validate_alternatives(value, alternatives, where)
        allowed = _allowed_types(schema)
        if value is None:
            if allowed is not None and "null" not in allowed:
                raise SchemaError(f"invalid type: null, expected {_describe(allowed)}", where)
            return
        if allowed is not None:
            actual = _json_type(value)
            if actual not in allowed and not (actual == "integer" and "number" in allowed):
                raise SchemaError(
                    f"invalid type: {_describe_value(value)}, expected {_describe(allowed)}",
                    where)
        if "enum" in schema and value not in schema["enum"]:
            raise SchemaError(
                f"unknown variant {_describe_value(value)}, expected one of "
                + ", ".join(repr(v) for v in schema["enum"]), where)
        if isinstance(value, bool):
            return
        if isinstance(value, (int, float)):
            self._check_number(value, schema, where)
        elif isinstance(value, str):
            self._check_string(value, schema, where)
        elif isinstance(value, list):
            if "minItems" in schema and len(value) < schema["minItems"]:
                raise SchemaError(f"expected at least {schema['minItems']} items", where)
            if "maxItems" in schema and len(value) > schema["maxItems"]:
                raise SchemaError(f"expected at most {schema['maxItems']} items", where)
            if "items" in schema:
                for index, item in enumerate(value):
                    self.validate(item, schema["items"], f"{where}[{index}]")
        elif isinstance(value, dict):
            self._check_object(value, schema, where)

    def _validate_alternatives(self, value, alternatives, where):
        errors = []
        for alternative in alternatives:
            try:
                self.validate(value, alternative, where)
                return
            except SchemaError as e:
                errors.append(str(e))
        raise SchemaError("data did not match any variant (" + "; ".join(errors) + ")", where)

    def _check_object(self, value, schema, where):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                raise SchemaError(f"missing field `{name}`", where)
        for name, item in value.items():
            path = f"{where}.{name}" if where else name
            if name in properties:
                self.validate(item, properties[name], path)
            elif isinstance(schema.get("additionalProperties"), dict):
                self.validate(item, schema["additionalProperties"], path)

    @staticmethod
    def _check_number(value, schema, where):
        fmt = schema.get("format")
        if fmt in _INT_RANGES:
            low, high = _INT_RANGES[fmt]
            if not low <= value <= high:
                raise SchemaError(f"invalid value: integer `{value}` out of {fmt} range", where)
        if "minimum" in schema and value < schema["minimum"]:
            raise SchemaError(
                f"invalid value: `{value}`, expected at least {schema['minimum']}", where)
        if "maximum" in schema and value > schema["maximum"]:
            raise SchemaError(
                f"invalid value: `{value}`, expected at most {schema['maximum']}", where)

    @staticmethod
    def _check_string(value, schema, where):
        if "minLength" in schema and len(value) < schema["minLength"]:
            raise SchemaError(f"string shorter than {schema['minLength']}", where)
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            raise SchemaError(f"string longer than {schema['maxLength']}", where)
        if "pattern" in schema and not re.search(schema["pattern"], value):
            raise SchemaError(f"string does not match {schema['pattern']!r}", where)
        if schema.get("format") == "date-time" and parse_datetime(value) is None:
            raise SchemaError(f"invalid RFC 3339 date-time {value!r}", where)

    def project(self, value, schema):
        """Keeps only what `schema` declares (properties and required names), recursively.

        Used to present one internal representation in the shape of an older document.
        """
        schema = self.resolve(schema)
        if not isinstance(schema, dict) or value is None:
            return value
        for key in ("oneOf", "anyOf"):
            for alternative in schema.get(key, []):
                try:
                    self.validate(value, alternative)
                except SchemaError:
                    continue
                return self.project(value, alternative)
        if isinstance(value, list) and "items" in schema:
            return [self.project(item, schema["items"]) for item in value]
        if isinstance(value, dict) and ("properties" in schema or "required" in schema):
            properties = schema.get("properties", {})
            keep = list(properties) + [n for n in schema.get("required", []) if n not in properties]
            return {name: self.project(value[name], properties.get(name, {}))
                    for name in keep if name in value}
        return value


def parse_datetime(text):
    """Parses an RFC 3339 date-time; returns an aware datetime or None."""
    m = re.fullmatch(
        r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", text)
    if not m:
        return None
    fraction = (m.group(3) or "")[:7].ljust(7, "0") if m.group(3) else ""
    zone = "+00:00" if m.group(4) in ("Z", "z") else m.group(4)
    try:
        return datetime.datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}{fraction}{zone}")
    except ValueError:
        return None


def _allowed_types(schema):
    if "type" not in schema:
        return None
    declared = schema["type"]
    allowed = set(declared if isinstance(declared, list) else [declared])
    if schema.get("nullable"):
        allowed.add("null")
    return allowed


def _json_type(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _describe(allowed):
    return " or ".join(sorted(allowed))


def _describe_value(value):
    kind = _json_type(value)
    if kind in ("object", "array"):
        return kind
    if kind == "string":
        return f'string "{value}"'
    return f"{kind} `{str(value).lower() if isinstance(value, bool) else value}`"
