"""Validation the way PVE::JSONSchema does it (check_prop, check_object,
parse_property_string), with the same error texts, so a client sees the
400 answers real Proxmox gives.

Values arrive as strings from form bodies (Perl sees every scalar as a string),
or typed from JSON bodies and from our own results; both are handled.
"""

import functools
import re

import pveformats
from pveformats import FormatError


def perl_str(value):
    """How Perl would print a scalar that came from JSON."""
    if value is True:
        return "1"
    if value is False:
        return "0"
    if isinstance(value, float):
        text = "%.15g" % value
        return text
    return str(value)


def is_number(text):
    return re.search(r"^[+-]?(\d+\.\d+|\d+\.|\.\d+|\d+)([eE][+-]?\d+)?$", text) is not None


def is_integer(text):
    return re.search(r"^[+-]?\d+$", text) is not None


def _ref_name(value):
    if isinstance(value, dict):
        return "HASH"
    if isinstance(value, list):
        return "ARRAY"
    return None


def add_error(errors, path, message):
    path = path or "_root"
    if path in errors:
        errors[path] = errors[path] + "\\n" + message  # Perl joins with a literal '\n'
    else:
        errors[path] = message


@functools.lru_cache(maxsize=None)
def _compiled(pattern):
    # Perl's (?^:...) is "default flags"; Python spells it (?:...).
    text = pattern.replace("(?^:", "(?:").replace("(?^i:", "(?i:")
    return re.compile("^" + text + "$")


def check_type(path, type_, value, errors):
    if not type_ or type_ == "any":
        return True
    if isinstance(type_, list):
        for t in type_:
            if check_type(path, t, value, {}):
                return True
        add_error(errors, path, f"type check ('{'|'.join(type_)}') failed")
        return False
    if type_ == "null":
        if value is not None:
            add_error(errors, path, f"type check ('{type_}') failed - value is not null")
            return False
        return True
    ref = _ref_name(value)
    if type_ == "array":
        if ref != "ARRAY":
            add_error(errors, path, f"type check ('{type_}') failed")
            return False
        return True
    if type_ == "object":
        if ref != "HASH":
            add_error(errors, path, f"type check ('{type_}') failed")
            return False
        return True
    if ref:
        add_error(errors, path, f"type check ('{type_}') failed - got {ref}")
        return False
    if type_ == "boolean":
        if isinstance(value, bool) or perl_str(value) in ("0", "1"):
            return True
        add_error(errors, path, f"type check ('{type_}') failed - got '{perl_str(value)}'")
        return False
    if type_ == "integer":
        if isinstance(value, bool) or not is_integer(perl_str(value)):
            add_error(errors, path, f"type check ('{type_}') failed - got '{perl_str(value)}'")
            return False
        return True
    if type_ == "number":
        if isinstance(value, bool) or not is_number(perl_str(value)):
            add_error(errors, path, f"type check ('{type_}') failed - got '{perl_str(value)}'")
            return False
        return True
    return True  # string, and types PVE does not verify


def check_format(fmt, value, path):
    """PVE::JSONSchema::check_format: raises FormatError; returns the parsed value."""
    if isinstance(fmt, dict):
        return parse_property_string(fmt, value, path)
    if fmt == "regex":
        return value
    m = re.search(r"^(.*?)(?:-(list|opt))?$", fmt)
    name, kind = m.group(1), m.group(2) or "none"
    if name in pveformats.HASH_FORMATS:
        if kind != "none":
            raise FormatError(f"'-{kind}' format must have code ref, not hash\n")
        return parse_property_string(pveformats.HASH_FORMATS[name], value, path)
    validator = pveformats.FORMATS.get(name)
    if validator is None:
        pveformats.UNCHECKED.add(fmt)
        return value
    if kind == "list":
        for item in pveformats.split_list(value):
            validator(item)
    elif kind == "opt":
        if value:
            validator(value)
    else:
        validator(value)
    return value


def parse_boolean(text):
    if re.search(r"^(1|on|yes|true)$", text, re.I):
        return "1"
    if re.search(r"^(0|off|no|false)$", text, re.I):
        return "0"
    return None


def parse_property_string(fmt, data, path=""):
    """Split 'virtio=AA:..,bridge=vmbr0' by the format's keys, default key and
    aliases, then check every key; raises FormatError like Perl does."""
    res = {}
    default_key = None
    for part in data.split(","):
        if re.search(r"^\s*$", part):
            continue
        m = re.search(r"^([^=]+)=(.+)$", part, re.S)
        if m:
            key, val = m.group(1), m.group(2)
            if key in res:
                raise FormatError(f"duplicate key in comma-separated list property: {key}\n")
            schema = fmt.get(key)
            if schema and schema.get("alias"):
                if schema.get("keyAlias"):
                    key_alias = schema["keyAlias"]
                    if key_alias in res:
                        raise FormatError(f"key alias '{key_alias}' is already defined\n")
                    res[key_alias] = key
                key = schema["alias"]
                schema = fmt.get(key)
            if not schema:
                raise FormatError(f"invalid key in comma-separated list property: {key}\n")
            if schema.get("type") == "boolean":
                val = parse_boolean(val) or val
            res[key] = val
        elif "=" not in part:
            if default_key:
                raise FormatError(f"duplicate key in comma-separated list property: {default_key}\n")
            for key, schema in fmt.items():
                if schema.get("default_key"):
                    default_key = key
                    if not res.get(key):
                        res[key] = part
                        break
                    raise FormatError(f"duplicate key in comma-separated list property: {key}\n")
            if not default_key:
                raise FormatError("value without key, but schema does not define a default key\n")
        else:
            raise FormatError("missing key in comma-separated list property\n")
    errors = {}
    check_object(path, fmt, res, 0, errors)
    if errors:
        raise FormatError("format error\n", errors)
    return res


def print_property_string(data, fmt):
    """PVE::JSONSchema::print_property_string: the default key first (combined
    with its key alias, as in 'virtio=MAC'), then required keys, then the rest,
    each group sorted."""
    default_key = next((k for k, s in fmt.items() if s.get("default_key")), None)
    key_alias_props = {s["keyAlias"]: s["alias"] for s in fmt.values() if s.get("keyAlias")}
    parts, done = [], set()

    def add(key, is_default=False):
        if key in done:
            return
        done.add(key)
        value = data.get(key)
        if value is None:
            return
        combine = key_alias_props.get(key)
        if combine and data.get(combine) is not None:
            parts.append(f"{value}={data[combine]}")
            done.add(combine)
            return
        parts.append(str(value) if is_default else f"{key}={value}")

    if default_key:
        add(default_key, True)
    for key in sorted(data):
        if key in fmt and not fmt[key].get("optional"):
            add(key)
    for key in sorted(data):
        add(key)
    return ",".join(parts)


def check_object(path, schema, value, additional, errors, resolve=None):
    """`resolve(key)` maps keys like 'net3' to their 'net[n]' schema (API params)."""
    if not isinstance(value, dict):
        add_error(errors, path, "an object is required")
        return
    for key in sorted(schema):
        if "[n]" in key:
            continue
        check_prop(value.get(key), schema[key], f"{path}.{key}" if path else key, errors)
    for key in sorted(value):
        newpath = f"{path}.{key}" if path else key
        sub = schema.get(key)
        if sub is None and resolve:
            sub = resolve(key)
            if sub is not None:
                check_prop(value[key], sub, newpath, errors)
        if sub is not None:
            requires = sub.get("requires")
            if isinstance(requires, str) and value.get(requires) is None:
                add_error(errors, f"{path}.{requires}" if path else requires,
                          f"missing property - '{newpath}' requires this property")
            continue
        if additional is not None and not isinstance(additional, dict) and not additional:
            add_error(errors, newpath, "property is not defined in schema and the schema "
                      "does not allow additional properties")
            continue
        if isinstance(additional, dict):
            check_prop(value[key], additional, newpath, errors)


def check_prop(value, schema, path, errors):
    if not isinstance(schema, dict):
        add_error(errors, path, "Invalid schema definition.")
        return
    if schema.get("oneOf") and value is not None:
        # Accept the first alternative that fits; report the first one's errors.
        first = None
        for alt in schema["oneOf"]:
            errs = {}
            check_prop(value, alt, path, errs)
            if not errs:
                return
            first = first if first is not None else errs
        errors.update(first or {})
        return
    if value is None:
        if schema.get("type") == "null":
            return
        if not (schema.get("optional") or schema.get("alias") or schema.get("group")
                or schema.get("oneOf")):
            add_error(errors, path, "property is missing and it is not optional")
        return
    if not check_type(path, schema.get("type"), value, errors):
        return
    if isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for i, el in enumerate(value):
                check_prop(el, items, f"{path}[{i}]", errors)
        return
    if isinstance(value, dict):
        if schema.get("properties") is not None or schema.get("additionalProperties"):
            check_object(path, schema.get("properties") or {}, value,
                         schema.get("additionalProperties"), errors)
        return
    text = perl_str(value)
    fmt = schema.get("format")
    if fmt:
        try:
            check_format(fmt, text, path)
        except FormatError as e:
            add_error(errors, path, f"invalid format - {e}")
            return
    pattern = schema.get("pattern")
    if pattern and not _compiled(pattern).search(text):
        add_error(errors, path, "value does not match the regex pattern")
        return
    if schema.get("maxLength") is not None and len(text) > int(schema["maxLength"]):
        add_error(errors, path, f"value may only be {schema['maxLength']} characters long")
        return
    if schema.get("minLength") is not None and len(text) < int(schema["minLength"]):
        add_error(errors, path, f"value must be at least {schema['minLength']} characters long")
        return
    if is_number(text):
        if schema.get("maximum") is not None and float(text) > float(schema["maximum"]):
            add_error(errors, path, f"value must have a maximum value of {schema['maximum']}")
            return
        if schema.get("minimum") is not None and float(text) < float(schema["minimum"]):
            add_error(errors, path, f"value must have a minimum value of {schema['minimum']}")
            return
    enum = schema.get("enum")
    if enum and text not in [perl_str(e) for e in enum]:
        add_error(errors, path, f"value '{text}' does not have a value in the enumeration '"
                  + ", ".join(perl_str(e) for e in enum) + "'")
