"""Named string formats of the Proxmox VE API schema ("pve-vmid", "disk-size", ...).

The schema only names most formats; their rules live in Proxmox's Perl code
(PVE::JSONSchema, PVE::Storage, qemu-server). These validators follow those rules
and die with the same messages. Formats not listed here are not checked; their
names are collected in UNCHECKED so the README can say so.
"""

import ipaddress
import re


class FormatError(Exception):
    """A value that does not fit its format. `errors` holds per-key messages of a
    property string, as PVE::Exception does; str() is Perl's stringification."""

    def __init__(self, message, errors=None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}

    def __str__(self):
        text = self.message if self.message.endswith("\n") else self.message + "\n"
        for key in sorted(self.errors):
            text += f"{key}: {self.errors[key]}\n"
        return text


UNCHECKED = set()


def split_list(text):
    """PVE::Tools::split_list: NUL-separated, else split on commas, semicolons, blanks."""
    text = text or ""
    if "\0" in text:
        return text.split("\0")
    return re.sub(r"[,;]", " ", text).split()


def _match(regex, value, message):
    if not re.search(regex, value):
        raise FormatError(message)


def _ipv4(value):
    try:
        ipaddress.IPv4Address(value)
        return True
    except ValueError:
        return False


def _ipv6(value):
    try:
        ipaddress.IPv6Address(value)
        return True
    except ValueError:
        return False


def _dns_name(value):
    name = r"([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)"
    return re.search(rf"^({name}\.)*{name}$", value) is not None


def _cidr(value, check_ip, low, high):
    m = re.search(r"^(.+)/(\d+)$", value)
    return bool(m) and check_ip(m.group(1)) and low < int(m.group(2)) <= high


def parse_size(value):
    """PVE::JSONSchema::parse_size: '10G' -> bytes, None if not a size."""
    m = re.search(r"^(\d+(\.\d+)?)([KMGT])?$", value)
    if not m:
        return None
    factor = {None: 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}[m.group(3)]
    return int(float(m.group(1)) * factor)


def format_size(size):
    """PVE::JSONSchema::format_size: the largest unit that divides the size."""
    size = int(size)
    for unit, shift in (("T", 40), ("G", 30), ("M", 20), ("K", 10)):
        if size % (1 << shift) == 0 and size >= (1 << shift):
            return f"{size >> shift}{unit}"
    return str(size)


CONFIGID_RE = r"^[a-z][a-z0-9_-]+$"
DRIVE_RE = r"^(ide|sata|scsi|virtio)\d+$|^efidisk0$|^tpmstate0$"
VOLUME_ID_RE = r"^([a-zA-Z][a-zA-Z0-9\-_.]*[a-zA-Z0-9]):(.+)$"


def v_vmid(v):
    _match(r"^[1-9][0-9]{2,8}$", v, "value does not look like a valid VM ID\n")


def v_node(v):
    _match(r"^([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)$", v,
           "value does not look like a valid node name\n")


def v_storage_id(v):
    _match(r"^[a-zA-Z][a-zA-Z0-9\-_.]*[a-zA-Z0-9]$", v,
           f"storage ID '{v}' contains illegal characters\n")


def v_configid(v):
    if not re.search(CONFIGID_RE, v, re.I):
        raise FormatError(f"invalid configuration ID '{v}'\n")


def v_urlencoded(v):
    _match(r"^[-%a-zA-Z0-9_.!~*'()]*$", v, f"invalid urlencoded string: {v}\n")


def v_bridge_id(v):
    _match(r"^[-_.\w\d]+$", v, f"invalid bridge ID '{v}'\n")


def v_mac(v):
    if not re.search(r"^[a-f0-9][02468ace](?::[a-f0-9]{2}){5}$", v, re.I):
        raise FormatError("value does not look like a valid unicast MAC address\n")


def v_ipv4(v):
    if not _ipv4(v):
        raise FormatError("value does not look like a valid IPv4 address\n")


def v_ipv6(v):
    if not _ipv6(v):
        raise FormatError("value does not look like a valid IPv6 address\n")


def v_ip(v):
    if not (_ipv4(v) or _ipv6(v)):
        raise FormatError("value does not look like a valid IP address\n")


def v_cidrv4(v):
    if not _cidr(v, _ipv4, 7, 32):
        raise FormatError("value does not look like a valid IPv4 CIDR network\n")


def v_cidrv6(v):
    if not _cidr(v, _ipv6, 7, 128):
        raise FormatError("value does not look like a valid IPv6 CIDR network\n")


def v_cidr(v):
    if not (_cidr(v, _ipv4, 7, 32) or _cidr(v, _ipv6, 7, 128)):
        raise FormatError("value does not look like a valid CIDR network\n")


def v_ipv4_config(v):
    if not (v in ("dhcp", "manual") or _cidr(v, _ipv4, 7, 32)):
        raise FormatError("value does not look like a valid ipv4 network configuration\n")


def v_ipv6_config(v):
    if not (v in ("auto", "dhcp", "manual") or _cidr(v, _ipv6, 7, 128)):
        raise FormatError("value does not look like a valid ipv6 network configuration\n")


def v_dns_name(v):
    if not _dns_name(v):
        raise FormatError("value does not look like a valid DNS name\n")


def v_address(v):
    if not (_ipv4(v) or _ipv6(v) or _dns_name(v)):
        raise FormatError(f"value does not look like a valid address: {v}\n")


def v_ip_or_cidr(v):
    if not (_ipv4(v) or _ipv6(v) or _cidr(v, _ipv4, -1, 32) or _cidr(v, _ipv6, -1, 128)):
        raise FormatError("value does not look like a valid IP address or CIDR network\n")


def v_email(v):
    _match(r"^[\w\+\-\~]+(\.[\w\+\-\~]+)*@[a-zA-Z0-9\-]+(\.[a-zA-Z0-9\-]+)*$", v,
           "value does not look like a valid email address\n")


def v_iface(v):
    if not re.search(r"^[a-z][a-z0-9_]{1,20}([:\.]\d+)?$", v, re.I):
        raise FormatError(f"invalid network interface name '{v}'\n")


def v_disk_size(v):
    if parse_size(v) is None:
        raise FormatError(f"value does not look like a valid disk size: {v}\n")


def v_startup_order(v):
    for part in v.split(","):
        if re.search(r"^\s*$", part):
            continue
        if not re.search(r"^(order=)?\d+$|^up=\d+$|^down=\d+$", part):
            raise FormatError("unable to parse startup options\n")


def v_tag(v):
    if not re.search(r"^[a-z0-9_][a-z0-9_\-\+\.]*$", v, re.I):
        raise FormatError("invalid characters in tag\n")


def v_volume_id(v):
    if not re.search(VOLUME_ID_RE, v):
        raise FormatError(f"unable to parse volume ID '{v}'\n")


def v_volume_id_or_absolute_path(v):
    if not v.startswith("/"):
        v_volume_id(v)


def v_volume_id_or_qm_path(v):
    if v not in ("none", "cdrom"):
        v_volume_id_or_absolute_path(v)


CONTENT_TYPES = ("images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import")


def v_storage_content(v):
    if v not in CONTENT_TYPES:
        raise FormatError(f"invalid content type '{v}'\n")


def v_poolid(v):
    _match(r"^[A-Za-z0-9\.\-_]+(?:/[A-Za-z0-9\.\-_]+){0,2}$", v,
           f"invalid pool ID '{v}'\n")


USER_RE = r"[^\s:/]+"
REALM_RE = r"[A-Za-z][A-Za-z0-9\.\-_]+"
TOKEN_SUBID_RE = r"[A-Za-z][A-Za-z0-9\.\-_]+"


def v_userid(v):
    if len(v) > 64 or not re.search(rf"^{USER_RE}@{REALM_RE}$", v):
        raise FormatError(f"value '{v}' does not look like a valid user name\n")


def v_tokenid(v):
    if not re.search(rf"^{USER_RE}@{REALM_RE}!{TOKEN_SUBID_RE}$", v):
        raise FormatError(f"value '{v}' does not look like a valid token ID\n")


def v_realm(v):
    _match(rf"^{REALM_RE}$", v, f"value '{v}' does not look like a valid realm\n")


def v_bootdisk(v):
    if not re.search(r"^(ide|sata|scsi|virtio|efidisk|tpmstate)\d+$", v):
        raise FormatError(f"invalid boot disk '{v}'\n")


def v_bootdev(v):
    special = v.startswith("efidisk") or v.startswith("tpmstate")
    if re.search(DRIVE_RE, v) and not special:
        return
    if re.search(r"^(net|usb|hostpci)\d+$", v):
        return
    raise FormatError(f"invalid boot device '{v}'\n")


def v_cpuset(v):
    for part in v.split(","):
        m = re.search(r"^(\d+)(?:-(\d+))?$", part)
        if not m or (m.group(2) and int(m.group(2)) < int(m.group(1))):
            raise FormatError(f"invalid format entry '{part}'\n")


def v_storage_pair(v):
    if v == "1":
        return
    ids = v.split(":") if ":" in v else [v]
    if len(ids) > 2 or not all(re.search(r"^[a-zA-Z][a-zA-Z0-9\-_.]*[a-zA-Z0-9]$", i) for i in ids):
        raise FormatError(f"entry '{v}' contains invalid ID - storage ID '{v}' contains illegal characters\n")


def v_ipv4mask(v):
    masks = {str(ipaddress.IPv4Network(f"0.0.0.0/{n}").netmask) for n in range(33)}
    if v not in masks:
        raise FormatError("value does not look like a valid IP netmask\n")


def v_email_or_username(v):
    if not (re.search(r"^[\w\+\-\~]+(\.[\w\+\-\~]+)*@[a-zA-Z0-9\-]+(\.[a-zA-Z0-9\-]+)*$", v)
            or re.search(r"^[\w\+\-\~]+(\.[\w\+\-\~]+)*$", v)):
        raise FormatError("value does not look like a valid email address or user name\n")


def v_task_status_type(v):
    if not re.search(r"^(ok|error|warning|unknown)$", v, re.I):
        raise FormatError(f"invalid status '{v}'\n")


def v_vlan_id_or_range(v):
    m = re.search(r"^(\d+)(?:-(\d+))?$", v)
    if not m:
        raise FormatError(f"invalid VLAN configuration '{v}'\n")
    for tag in (m.group(1), m.group(2)):
        if tag and not 2 <= int(tag) <= 4094:
            raise FormatError(f"invalid VLAN tag '{tag}'\n")
    if m.group(2) and int(m.group(1)) >= int(m.group(2)):
        raise FormatError(f"VLAN range must go from lower to higher tag '{v}'\n")


def v_hotplug_features(v):
    features = ("network", "disk", "cpu", "memory", "usb", "cloudinit")
    if v not in ("0", "1") and not all(f in features for f in v.split(",")):
        raise FormatError("unable to parse hotplug option\n")


def v_simple_id(v):
    _match(r"^[A-Za-z0-9\.\-_]+$", v, f"invalid ID '{v}'\n")


FORMATS = {
    "string": lambda v: None,
    "urlencoded": v_urlencoded,
    "pve-configid": v_configid,
    "pve-storage-id": v_storage_id,
    "pve-bridge-id": v_bridge_id,
    "pve-vmid": v_vmid,
    "pve-node": v_node,
    "mac-addr": v_mac,
    "ipv4": v_ipv4,
    "ipv6": v_ipv6,
    "ip": v_ip,
    "CIDRv4": v_cidrv4,
    "CIDRv6": v_cidrv6,
    "CIDR": v_cidr,
    "IPorCIDR": v_ip_or_cidr,
    "pve-ipv4-config": v_ipv4_config,
    "pve-ipv6-config": v_ipv6_config,
    "email": v_email,
    "dns-name": v_dns_name,
    "address": v_address,
    "pve-iface": v_iface,
    "disk-size": v_disk_size,
    "pve-startup-order": v_startup_order,
    "pve-tag": v_tag,
    "pve-volume-id": v_volume_id,
    "pve-volume-id-or-absolute-path": v_volume_id_or_absolute_path,
    "pve-volume-id-or-qm-path": v_volume_id_or_qm_path,
    "pve-storage-content": v_storage_content,
    "pve-poolid": v_poolid,
    "pve-userid": v_userid,
    "pve-tokenid": v_tokenid,
    "pve-realm": v_realm,
    "pve-qm-bootdisk": v_bootdisk,
    "pve-qm-bootdev": v_bootdev,
    "pve-cpuset": v_cpuset,
    "storage-pair": v_storage_pair,
    "ipv4mask": v_ipv4mask,
    "email-or-username": v_email_or_username,
    "pve-task-status-type": v_task_status_type,
    "pve-vlan-id-or-range": v_vlan_id_or_range,
    "pve-hotplug-features": v_hotplug_features,
    "pve-groupid": v_simple_id,
    "pve-roleid": v_simple_id,
}

# Formats registered in Perl as property-string schemas (only their names are in
# the API schema). Written here in the schema's own notation.
HASH_FORMATS = {
    "pve-qm-ipconfig": {
        "ip": {"type": "string", "format": "pve-ipv4-config", "optional": 1},
        "gw": {"type": "string", "format": "ipv4", "optional": 1},
        "ip6": {"type": "string", "format": "pve-ipv6-config", "optional": 1},
        "gw6": {"type": "string", "format": "ipv6", "optional": 1},
    },
    "pve-qm-boot": {
        "legacy": {"type": "string", "pattern": "[acdn]{1,4}", "optional": 1, "default_key": 1},
        "order": {"type": "string", "format": "pve-qm-bootdev-list", "optional": 1},
    },
}
