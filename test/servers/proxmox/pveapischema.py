"""The official Proxmox VE API schema (pve-docs apidata.js as JSON): finding the
method for a path the way PVE::RESTHandler does, and checking parameters and
results against it.

The schema collapses numbered options (net0..net31) into one entry 'net[n]'; the
highest index comes from the entry's description ("n is 0 to 30") or, where the
description does not say, from the constants in qemu-server / pve-container.
"""

import json
import re

from pvejsonschema import check_object, check_prop

# Where the schema's description does not give the range: MAX_NETS, MAX_HOSTPCI_DEVICES,
# MAX_NUMA, MAX_UNUSED_DISKS, max_virtiofs (qemu-server); mount points and devices
# (pve-container); corosync links; ACME domains.
INDEX_COUNT = {
    "net": 32, "ipconfig": 32, "hostpci": 16, "numa": 8, "unused": 256, "virtiofs": 10,
    "mp": 256, "dev": 256, "link": 8, "acmedomain": 5, "usb": 15,
}


def _index_count(family, schema):
    text = schema.get("description") or ""
    counts = [int(n) + 1 for n in re.findall(r"n (?:is 0 to|can be up to) (\d+)", text)]
    counts += [int(n) + 1 for n in re.findall(rf"{family}0\.\.{family}(\d+)", text)]
    if counts:
        return max(counts)
    return INDEX_COUNT.get(family, 256)


class _Node:
    def __init__(self, path):
        self.path = path
        self.info = {}
        self.literal = {}
        self.var = None  # (name, _Node)


class ApiSchema:
    def __init__(self, filename):
        with open(filename, encoding="utf-8") as f:
            data = json.load(f)
        self.root = _Node("/")
        self._add(self.root, data)

    def _add(self, parent, nodes):
        for entry in nodes:
            last = entry["path"].rstrip("/").split("/")[-1]
            node = _Node(entry["path"])
            node.info = entry.get("info") or {}
            m = re.fullmatch(r"\{(.+)\}", last)
            if m:
                parent.var = (m.group(1), node)
            else:
                parent.literal[last] = node
            self._add(node, entry.get("children") or [])

    def lookup(self, method, rel_uri):
        """-> (path template, method info, uri params) or None."""
        node = self.root
        params = {}
        for comp in [c for c in rel_uri.split("/") if c]:
            if comp in node.literal:
                node = node.literal[comp]
            elif node.var:
                params[node.var[0]] = comp
                node = node.var[1]
            else:
                return None
        info = node.info.get(method)
        if info is None:
            return None
        return node.path, info, params

    def info(self, method, template):
        node = self.root
        for comp in [c for c in template.split("/") if c]:
            if comp in node.literal:
                node = node.literal[comp]
            elif node.var:
                node = node.var[1]
            else:
                raise KeyError(template)
        return node.info[method]


def indexed_resolver(props):
    """For schema properties with 'name[n]' families: key -> schema or None."""
    families = {}
    for key, schema in props.items():
        m = re.fullmatch(r"(.+)\[n\]", key)
        if m:
            families[m.group(1)] = (schema, _index_count(m.group(1), schema))

    def resolve(key):
        m = re.fullmatch(r"([a-z_\-]+?)(\d+)", key)
        if not m or m.group(1) not in families:
            return None
        schema, count = families[m.group(1)]
        if str(int(m.group(2))) != m.group(2) or int(m.group(2)) >= count:
            return None
        return schema

    return resolve


def option_schema(props, key):
    """The schema of one option, including numbered families."""
    if key in props and "[n]" not in key:
        return props[key]
    return indexed_resolver(props)(key)


def validate_params(params, param_schema):
    """-> errors dict (empty when the parameters pass)."""
    errors = {}
    props = param_schema.get("properties") or {}
    check_object("", props, params, param_schema.get("additionalProperties"), errors,
                 indexed_resolver(props))
    return errors


def validate_result(result, returns):
    errors = {}
    if returns:
        _check_returns(result, returns, "", errors)
    return errors


def _check_returns(value, schema, path, errors):
    if isinstance(value, dict) and isinstance(schema.get("properties"), dict):
        props = schema["properties"]
        if any("[n]" in k for k in props):
            check_object(path, props, value, schema.get("additionalProperties"), errors,
                         indexed_resolver(props))
            return
    check_prop(value, schema, path, errors)
