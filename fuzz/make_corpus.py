#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/TARGET/ (small, committed): answers shaped as
the unit tests and test servers give them, so each target starts from inputs that reach
deep into its parser. Run it again after changing a seed here."""
import json
import os
import struct

here = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    elif not isinstance(data, bytes):
        data = json.dumps(data, indent=1).encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- state ---------------------------------------------------------------------------
write("fuzz_state", "empty", {})
write("fuzz_state", "full", {
    "version": 1,
    "machines": {
        "web": {"hostKeys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB web"],
                "generations": [
                    {"system": "/nix/store/bbbb-web", "time": "2026-11-27T02:25:09Z",
                     "goal": "switch", "number": 3},
                    {"system": "/nix/store/cccc-web", "time": "2026-11-28T02:25:09Z",
                     "goal": "boot"}]},
        "db": {"generations": []}},
    "buckets": {"media": {"id": "b1"}},
    "future": [1, 2.5, None, True]})
write("fuzz_state", "records", {
    "version": 1, "machines": {},
    "provisioned": {"s3-1": {
        "provider": "pve", "type": "proxmox", "id": "pve1/105",
        "data": {"vmid": 105, "node": "pve1", "name": "s3-1", "template": 9000, "full": True},
        "outputs": {"host": "10.0.0.5", "port": 22, "user": "root",
                    "hostKeys": ["ssh-ed25519 AAAA s3-1"], "identityFile": "/k/id", "mac": "bc"},
        "created": "2026-11-27T02:25:09Z", "complete": True, "protect": False}},
    "secrets": {"api": {"value": "x", "created": "2026-11-27T02:25:09Z"}},
    "accounts": {"masto": {"service": "mastodon", "machine": "web", "username": "owner",
                           "password": "p", "present": True, "created": "c",
                           "passwordChanged": "d"}},
    "identity": {"dir": {"users.alice": {"dn": "uid=alice,dc=example,dc=org",
                                         "password": "p", "present": True}}},
    "storage": {"buckets": {"media": {"storage": "garage", "id": "afa8", "ownerUser": "",
                                      "adhoc": False,
                                      "keys": {"app": {"id": "GK1", "secret": "s",
                                                       "adhoc": True}}}}}})
write("fuzz_state", "damaged", '{"version": 1, "machines": {"web": {"generations": [{}]}}}')

# --- evaluated model -----------------------------------------------------------------


def drv(name):
    return {"__fedi": "derivation", "drvPath": f"/nix/store/aaaa-{name}.drv",
            "outputPath": f"/nix/store/bbbb-{name}", "name": name}


def machine(name):
    return {"ssh": {"host": "10.0.0.1", "port": 2222}, "system": drv(name), "tags": ["web"]}


m = {"machines": {"web": machine("web"), "db": machine("db")}}
m["machines"]["web"]["after"] = ["db"]
m["machines"]["web"]["ssh"]["hostKey"] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB"
m["machines"]["web"]["ssh"]["identityFile"] = {"__fedi": "path", "value": "/k/id"}
write("fuzz_deployment", "machines", m)

s = {"machines": {n: machine(n) for n in ("s1", "s2", "web")}}
s["storage"] = {"garage": {"type": "garage", "machines": ["s1", "s2"],
                           "adminEndpoint": "http://10.0.0.1:3903/",
                           "adminTokenFile": "/run/garage-token",
                           "s3Endpoint": "http://10.0.0.1:3900",
                           "nodes": {"s2": {"zone": "dc2", "capacity": "2Ti"}}}}
s["buckets"] = {"media": {"storage": "garage", "quota": {"maxSize": "500G"},
                          "keys": {"app": {"write": True, "deliverTo": {
                              "machine": "web", "owner": "mastodon", "mode": "0440"}}}}}
write("fuzz_deployment", "storage", s)

a = {"machines": {"web": machine("web"), "db": machine("db")}}
a["secrets"] = {
    "api": {"machine": "web", "owner": "nobody", "mode": "0440",
            "source": {"generate": {"length": 20}}},
    "token": {"machines": ["web", "db"], "name": "token.txt",
              "source": {"file": {"__fedi": "path", "value": "/k/t"}}},
    "cmd": {"machine": "db", "source": {"command": "pass show x"}},
    "adm": {"machine": "web", "environmentVariable": "ADMIN_PASSWORD",
            "source": {"fromAccount": "masto"}},
    "ldap": {"machine": "web",
             "source": {"fromIdentity": {"directory": "dir", "service": "mastodon"}}}}
a["accounts"] = {"masto": {"machine": "web", "service": "mastodon", "username": "owner",
                           "email": "o@example.org"},
                 "pt": {"machine": "db", "service": "peertube"}}
a["identity"] = {"dir": {"type": "ldap", "url": "ldaps://ldap:636", "baseDN": "dc=example,dc=org",
                         "bindDN": "cn=admin,dc=example,dc=org", "bindPasswordFile": "/k/ldap",
                         "users": {"alice": {"email": "a@example.org"}},
                         "services": ["mastodon"]}}
write("fuzz_deployment", "accounts", a)

write("fuzz_deployment", "provision", {
    "providers": {"pve": {"type": "proxmox", "endpoint": "https://pve1:8006", "node": "pve1",
                          "tokenFile": "/run/secrets/pve"}},
    "machines": {"s3-1": {"provision": {
        "provider": "pve", "template": 9000, "cores": 2, "memory": 4096, "storage": "linstor",
        "shared": True, "sshKeys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMxxxx ops"],
        "disks": [{"size": "200G", "mount": "/var/lib/garage"}]},
        "system": drv("s3-1")}}})

# --- what machines print -------------------------------------------------------------
write("fuzz_host_output", "secret-list",
      "root root 400 /var/lib/fedi/secrets/media-app.env\n"
      "mastodon mastodon 440 /var/lib/fedi/secrets/token.txt\n")
write("fuzz_host_output", "secret-sync",
      "written media-app.env\nunchanged token.txt\npending api\nremoved old.env\n")
write("fuzz_host_output", "system-status",
      "profile=/nix/store/bbbb-web\nlink=system-12-link\ncurrent=/nix/store/bbbb-web\n")
write("fuzz_host_output", "tootctl",
      "OK\nNew password: 5f0e3c9a8b7d6e5f4a3b2c1d0e9f8a7b\n")

# --- serve protocol replies (first byte: the transfer method) -------------------------


def u64(v):
    return struct.pack("<Q", v)


hello = u64(0x5452eecb)
for method, version in ((0, 0x207), (1, 0x205), (2, 0x204)):
    reply = hello + u64(version) + u64(0) + u64(0) + u64(1) + u64(1) + u64(0)
    write("fuzz_serve_replies", f"push-{method}-{version:x}", bytes([method]) + reply)
write("fuzz_serve_replies", "wrong-magic", b"\0" + b"Welcome!\n" + u64(0x207))
write("fuzz_serve_replies", "closed", b"\0" + hello + u64(0x207))

# --- nix-store --dump-db -------------------------------------------------------------
write("fuzz_dump_db", "one-path",
      "/nix/store/5klx9pxl1c90q0j01ph753cpfm5dz3as-hello.txt\n"
      "10551daed7fa467d0b58826e7eb9a0f2af7d693de319f2ef775fffcda244b9f6\n120\n\n0\n")
write("fuzz_dump_db", "references",
      "/nix/store/aaaa-a\nsha256:1\n120\n\n1\n/nix/store/aaaa-a\n"
      "/nix/store/bbbb-b\nsha256:2\n256\n/nix/store/cccc-b.drv\n2\n/nix/store/aaaa-a\n"
      "/nix/store/bbbb-b\n")

# --- S3 XML --------------------------------------------------------------------------
write("fuzz_s3_xml", "list-buckets", """<?xml version="1.0" encoding="UTF-8"?>
<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Owner><ID>o</ID></Owner>
  <Buckets>
    <Bucket><Name>one</Name><CreationDate>2019-12-11T23:32:47+00:00</CreationDate></Bucket>
    <Bucket ><Name>two&amp;more</Name><CreationDate/></Bucket>
  </Buckets>
</ListAllMyBucketsResult>""")
write("fuzz_s3_xml", "list-objects", """<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>media</Name><Prefix></Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys>
  <IsTruncated>true</IsTruncated><NextContinuationToken>1ueGcxLPRx1Tr</NextContinuationToken>
  <Contents><Key>a&#233;&#x1F600;.png</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>
    <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size></Contents>
  <Contents><Key>b</Key><Size>0</Size></Contents>
</ListBucketResult>""")
write("fuzz_s3_xml", "error", """<?xml version="1.0" encoding="UTF-8"?>
<Error>
  <Code>NoSuchKey</Code>
  <Message>The resource you requested does not exist</Message>
  <Resource>/mybucket/myfoto.jpg</Resource>
  <RequestId>4442587FB7D0A2F9</RequestId>
</Error>""")

# --- Garage admin API ----------------------------------------------------------------
write("fuzz_garage", "health", {"status": "healthy", "knownNodes": 3, "connectedNodes": 3,
                                "storageNodes": 3, "storageNodesOk": 3, "partitions": 256,
                                "partitionsQuorum": 256, "partitionsAllOk": 256})
write("fuzz_garage", "layout", {"version": 2, "roles": [
    {"id": "ec79480e0ce52ae26fd00c9da684e4fa56658d9c64cdcecb094e936de0bfe71f", "zone": "dc1",
     "capacity": 10000000000, "tags": ["s1"]}],
    "stagedRoleChanges": [{"id": "e6a8", "remove": True},
                          {"id": "f1", "zone": "dc2", "capacity": None, "tags": []}]})
write("fuzz_garage", "cluster-status", {"layoutVersion": 2, "nodes": [
    {"id": "ec79", "addr": "10.0.0.1:3901", "hostname": "s1", "isUp": True,
     "role": {"zone": "dc1", "capacity": 1000, "tags": []}}]})
write("fuzz_garage", "bucket-info", {
    "id": "afa8f0a22b40b1247ccd0affb869b0af5cff980924a20e4b5e0720a44deb8d39",
    "globalAliases": ["media"], "websiteAccess": True,
    "websiteConfig": {"indexDocument": "index.html", "errorDocument": None},
    "keys": [{"accessKeyId": "GK31c2f218a2e44f485b94239e", "name": "app",
              "permissions": {"read": True, "write": True, "owner": False},
              "bucketLocalAliases": []}],
    "objects": 7, "bytes": 5000, "unfinishedUploads": 0,
    "quotas": {"maxSize": 500000000000, "maxObjects": None}})
write("fuzz_garage", "key-info", {
    "accessKeyId": "GK31c2f218a2e44f485b94239e", "name": "app",
    "secretAccessKey": "b892c0665f0ada8a4755dae98baa3b133590e11dae3bcc1f9d769d67f16c3835",
    "permissions": {"createBucket": False},
    "buckets": [{"id": "afa8", "globalAliases": ["media"], "localAliases": [],
                 "permissions": {"read": True, "write": False, "owner": False}}]})
write("fuzz_garage", "list-buckets", [{"id": "afa8", "globalAliases": ["media"],
                                       "localAliases": [{"accessKeyId": "GK1", "alias": "m"}]}])
write("fuzz_garage", "error", {"code": "AccessDenied",
                               "message": "Forbidden: token fuzz-admin-token is invalid",
                               "region": "garage", "path": "/v2/ListBuckets"})

# --- Ceph RGW admin ops --------------------------------------------------------------
write("fuzz_rgw", "user", {"tenant": "", "user_id": "alice", "display_name": "Alice",
                           "email": "", "suspended": 1, "max_buckets": 1000, "subusers": [],
                           "keys": [{"user": "alice", "access_key": "AK1", "secret_key": "SK1"}],
                           "swift_keys": [], "caps": [], "system": "false"})
write("fuzz_rgw", "bucket", {"bucket": "media", "id": "z.1", "owner": "alice",
                             "usage": {"rgw.main": {"size": 5100, "size_actual": 8192,
                                                    "num_objects": 2}}})
write("fuzz_rgw", "keys", [{"user": "alice", "access_key": "AK1", "secret_key": "SK1"}])
write("fuzz_rgw", "buckets", ["media", "static"])
write("fuzz_rgw", "error-json", {"Code": "NoSuchUser", "Message": "", "RequestId": "tx1",
                                 "HostId": "1-default"})
write("fuzz_rgw", "error-xml", '<?xml version="1.0"?><Error><Code>AccessDenied</Code>'
      '<Message>no caps</Message></Error>')

# --- Proxmox VE API ------------------------------------------------------------------
write("fuzz_proxmox", "error", {"data": None, "message": "Parameter verification failed.\n",
                                "errors": {"newid": "VM 105 already exists\n"}})
write("fuzz_proxmox", "upid", {"data": "UPID:pve1:000C1F2A:0A2B3C4D:6740A1B2:qmclone:9000:"
                                       "root@pam!fedi:"})
write("fuzz_proxmox", "agent-interfaces", {"result": [
    {"name": "lo", "hardware-address": "00:00:00:00:00:00",
     "ip-addresses": [{"ip-address": "127.0.0.1", "ip-address-type": "ipv4", "prefix": 8}]},
    {"name": "eth0", "hardware-address": "BC:24:11:AA:BB:CC",
     "ip-addresses": [{"ip-address": "10.0.0.5", "ip-address-type": "ipv4", "prefix": "24"},
                      {"ip-address": "fe80::be24:11ff:feaa:bbcc", "ip-address-type": "ipv6",
                       "prefix": 64}]}]})
write("fuzz_proxmox", "status", {"data": {"status": "running", "qmpstatus": "running",
                                          "agent": 1, "lock": "", "cpus": 2.0,
                                          "maxmem": 4294967296, "template": "0"}})
write("fuzz_proxmox", "sshkeys", "ssh-ed25519%20AAAAC3NzaC1lZDI1NTE5AAAAIMxx%20ops%0A"
      "ssh-rsa%20AAAAB3Nza%20two")
write("fuzz_proxmox", "net0", "virtio=BC:24:11:00:90:00,bridge=vmbr0,firewall=1")

# --- activation follow output, pending confirmations, prune listing -------------------
TOKEN = "Zq8v2LmK4xT9bW3nR7yC1dF6gH5jP0sA"  # fuzz_activation.cpp's token
write("fuzz_activation", "follow", "\n".join([
    "| activating the configuration /nix/store/aaaa-nixos-system-web (switch) on web...",
    "| fedi: waiting 30s for confirmation",
    f"@{TOKEN} tick",
    f"@{TOKEN} waiting 30",
    f"@{TOKEN} fallback /run/fedi/activations",
    f"@{TOKEN} result ok",
    f"@{TOKEN} result-empty 98% used",
    f"@{TOKEN} unknown",
    "@wrongtoken result ok",
]) + "\n")
write("fuzz_activation", "pending", "2026-12-07T03:48:02Z-22892-0 27\n2026-12-07T03:40:00Z-1-0 -3\n")
write("fuzz_activation", "prune", "\n".join([
    "profile system-12-link",
    "gen system-10-link /nix/store/aaaa-nixos-system-web-10",
    "gen system-11-link /nix/store/bbbb-nixos-system-web-11",
    "gen system-12-link /nix/store/cccc-nixos-system-web-12",
    "running /nix/store/bbbb-nixos-system-web-11",
    "booted /nix/store/aaaa-nixos-system-web-10",
    "act done /var/lib/fedi/activations 2026-12-01T00:00:00Z-1-0",
    "act running /run/fedi/activations 2026-12-07T00:00:00Z-2-0",
]) + "\n")
