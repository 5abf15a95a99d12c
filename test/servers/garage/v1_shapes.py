"""Garage 0.9 and 1.x answers to the v1 admin API, as their source serialises them.

operations.py answers in the v2 shapes; these functions cut each result down to the Rust
structs Garage 0.9.4 and 1.0.0-1.2.0 serialise (serde, camelCase), field for field. The
v1 OpenAPI document (test/data/garage/garage-admin-v1.yml) describes Garage 0.9 and is
stale for 1.x's GET /v1/status; where it and the source disagree, the source is followed.
"""


def present(op_id, result, release):
    """The v1 answer of operation `op_id` (the v1 document's id) on an api-1 release."""
    shape = SHAPES.get(op_id)
    if shape is None:  # DeleteKey, DeleteBucket: 204 No Content
        return None
    if op_id == "GetNodes":
        return shape(result, release)
    return shape(result)


def health(v):
    # src/api/admin/cluster.rs struct ClusterHealth (v0.9.4, v1.0.0-v1.2.0)
    keys = ("status", "knownNodes", "connectedNodes", "storageNodes", "storageNodesOk",
            "partitions", "partitionsQuorum", "partitionsAllOk")
    return {k: v[k] for k in keys}


def connect(v):
    # src/api/admin/cluster.rs struct ConnectClusterNodesResponse (v0.9.4, v1.0.0-v1.2.0)
    return [{"success": r["success"], "error": r["error"]} for r in v]


def role(r):
    # src/api/admin/cluster.rs struct NodeRoleResp (v0.9.4, v1.0.0-v1.2.0)
    return {"id": r["id"], "zone": r["zone"], "capacity": r["capacity"], "tags": r["tags"]}


def role_change(c):
    # src/api/admin/cluster.rs struct NodeRoleChange, #[serde(flatten)] over the untagged
    # NodeRoleChangeEnum: {id, remove: true} or {id, zone, capacity, tags}
    if c.get("remove"):
        return {"id": c["id"], "remove": True}
    return role(c)


def layout(v):
    # src/api/admin/cluster.rs struct GetClusterLayoutResponse (v0.9.4, v1.0.0-v1.2.0):
    # no parameters, partition size or staged parameters (those are v2's)
    return {"version": v["version"], "roles": [role(r) for r in v["roles"]],
            "stagedRoleChanges": [role_change(c) for c in v["stagedRoleChanges"]]}


def apply_layout(v):
    # src/api/admin/cluster.rs struct ApplyClusterLayoutResponse (v0.9.4, v1.0.0-v1.2.0)
    return {"message": v["message"], "layout": layout(v["layout"])}


def status(v, release):
    """GET /v1/status: src/api/admin/cluster.rs handle_get_cluster_status.

    The v1 document gives 0.9's shape for every release; 1.x changed it (source wins)."""
    head = {"node": v["node"], "garageVersion": release.tag,
            "garageFeatures": ["k2v", "lmdb", "sqlite", "metrics"], "rustVersion": "1.77.2",
            "dbEngine": "LMDB (using Heed crate)"}
    if release.name == "0.9":
        # v0.9.4 struct GetClusterStatusResponse: knownNodes (KnownNodeResp: id, addr,
        # isUp, lastSeenSecsAgo, hostname; connected nodes only) and the layout.
        known = [{"id": n["id"], "addr": n["addr"], "isUp": n["isUp"],
                  "lastSeenSecsAgo": n["lastSeenSecsAgo"], "hostname": n["hostname"]}
                 for n in v["nodes"] if n["addr"] is not None]
        return dict(head, knownNodes=known, layout=layout(v["layout"]))
    # v1.0.0-v1.2.0 struct GetClusterStatusResponse: layoutVersion and nodes (NodeResp:
    # connected nodes and nodes of the layout, each with its role or null).
    nodes = []
    for n in v["nodes"]:
        node = {"id": n["id"],
                "role": dict(role(dict(n["role"], id=n["id"]))) if n["role"] else None,
                "addr": n["addr"], "hostname": n["hostname"], "isUp": n["isUp"],
                "lastSeenSecsAgo": n["lastSeenSecsAgo"], "draining": n["draining"]}
        for k in ("dataPartition", "metadataPartition"):  # skip_serializing_if is_none
            if n.get(k) is not None:
                node[k] = n[k]
        nodes.append(node)
    return dict(head, layoutVersion=v["layoutVersion"], nodes=nodes)


def bucket_info(v):
    # src/api/admin/bucket.rs struct GetBucketInfoResult (v0.9.4, v1.0.0-v1.2.0): no
    # `created` (v2 added it)
    website = v["websiteConfig"]
    return {
        "id": v["id"], "globalAliases": v["globalAliases"], "websiteAccess": v["websiteAccess"],
        "websiteConfig": None if website is None else {
            "indexDocument": website["indexDocument"],
            "errorDocument": website.get("errorDocument")},
        "keys": [{"accessKeyId": k["accessKeyId"], "name": k["name"],
                  "permissions": k["permissions"], "bucketLocalAliases": k["bucketLocalAliases"]}
                 for k in v["keys"]],
        "objects": v["objects"], "bytes": v["bytes"],
        "unfinishedUploads": v["unfinishedUploads"],
        "unfinishedMultipartUploads": v["unfinishedMultipartUploads"],
        "unfinishedMultipartUploadParts": v["unfinishedMultipartUploadParts"],
        "unfinishedMultipartUploadBytes": v["unfinishedMultipartUploadBytes"],
        "quotas": {"maxSize": v["quotas"]["maxSize"], "maxObjects": v["quotas"]["maxObjects"]},
    }


def bucket_list(v):
    # src/api/admin/bucket.rs struct ListBucketResultItem (v0.9.4, v1.0.0-v1.2.0)
    return [{"id": b["id"], "globalAliases": b["globalAliases"],
             "localAliases": b["localAliases"]} for b in v]


def key_info(v):
    # src/api/admin/key.rs struct GetKeyInfoResult (v0.9.4, v1.0.0-v1.2.0):
    # secretAccessKey is skip_serializing_if is_default (absent, not null, when not shown)
    out = {"name": v["name"], "accessKeyId": v["accessKeyId"]}
    if v.get("secretAccessKey") is not None:
        out["secretAccessKey"] = v["secretAccessKey"]
    out["permissions"] = {"createBucket": v["permissions"]["createBucket"]}
    out["buckets"] = [{"id": b["id"], "globalAliases": b["globalAliases"],
                       "localAliases": b["localAliases"], "permissions": b["permissions"]}
                      for b in v["buckets"]]
    return out


def key_list(v):
    # src/api/admin/key.rs struct ListKeyResultItem (v0.9.4, v1.0.0-v1.2.0)
    return [{"id": k["id"], "name": k["name"]} for k in v]


SHAPES = {
    "GetNodes": status,
    "GetHealth": health,
    "AddNode": connect,
    "GetLayout": layout,
    "AddLayout": layout,
    "RevertLayout": layout,
    "ApplyLayout": apply_layout,
    "ListKeys": key_list,
    "AddKey": key_info,
    "GetKey": key_info,
    "UpdateKey": key_info,
    "ImportKey": key_info,
    "ListBuckets": bucket_list,
    "CreateBucket": bucket_info,
    "GetBucketInfo": bucket_info,
    "UpdateBucket": bucket_info,
    "AllowBucketKey": bucket_info,
    "DenyBucketKey": bucket_info,
    "PutBucketGlobalAlias": bucket_info,
    "DeleteBucketGlobalAlias": bucket_info,
    "PutBucketLocalAlias": bucket_info,
    "DeleteBucketLocalAlias": bucket_info,
}
