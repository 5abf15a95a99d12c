"""A validator for the subset of JSON Schema (draft 2020-12) that fedi's schemas use:
type, properties, required, additionalProperties, items, enum, $ref to #/$defs/NAME.

Python's standard library has no validator and the tests use nothing else. A schema
with any other validation keyword is refused (rather than the keyword being ignored), so
a schema cannot claim more than this checks.
"""

ANNOTATIONS = {"$schema", "$id", "$defs", "title", "description"}
KEYWORDS = {"type", "properties", "required", "additionalProperties", "items", "enum", "$ref"}


class SchemaError(Exception):
    """The schema itself uses something this validator does not check."""


def _is_type(value, name):
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "string":
        return isinstance(value, str)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    raise SchemaError(f"unknown type {name!r}")


class Validator:
    def __init__(self, schema):
        self.root = schema

    def errors(self, document):
        """Every way `document` breaks the schema, each as 'PATH: what' (PATH a JSON pointer)."""
        out = []
        self._check(self.root, document, "", out)
        return out

    def _resolve(self, ref):
        prefix = "#/$defs/"
        if not ref.startswith(prefix):
            raise SchemaError(f"unsupported $ref {ref!r} (only {prefix}NAME)")
        name = ref[len(prefix):]
        defs = self.root.get("$defs", {})
        if name not in defs:
            raise SchemaError(f"$ref {ref!r}: no such definition")
        return defs[name]

    def _check(self, schema, value, path, out):
        unknown = set(schema) - KEYWORDS - ANNOTATIONS
        if unknown:
            raise SchemaError(f"{path or '/'}: unsupported keywords {sorted(unknown)}")
        if "$ref" in schema:
            self._check(self._resolve(schema["$ref"]), value, path, out)
        if "type" in schema:
            types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            if not any(_is_type(value, t) for t in types):
                out.append(f"{path or '/'}: {value!r:.60} is not of type {' or '.join(types)}")
                return
        if "enum" in schema and value not in schema["enum"]:
            out.append(f"{path or '/'}: {value!r:.60} is not one of {schema['enum']}")
        if isinstance(value, dict):
            self._check_object(schema, value, path, out)
        if isinstance(value, list) and "items" in schema:
            for i, item in enumerate(value):
                self._check(schema["items"], item, f"{path}/{i}", out)

    def _check_object(self, schema, value, path, out):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                out.append(f"{path or '/'}: required property {name!r} is missing")
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            where = f"{path}/{name}"
            if name in properties:
                self._check(properties[name], item, where, out)
            elif extra is False:
                out.append(f"{path or '/'}: property {name!r} is not allowed")
            elif isinstance(extra, dict):
                self._check(extra, item, where, out)


def validate(schema, document):
    """The errors of `document` against `schema` (empty: valid)."""
    return Validator(schema).errors(document)
