"""What each admin API operation does to the test double's state.

Handlers are keyed by v2 operation name and take already checked query values and
body; they return a JSON value in the v2 document's shapes. v1 requests are converted
to their v2 equivalents first (see v1_compat.py), as Garage 2.x itself does.
"""

import errors

# v2 operations outside what fedi drives (workers, blocks, admin tokens, repairs...):
# requests are checked against the document, then refused with 501 rather than
# answered with invented data.
NOT_MODELLED = (
    "CreateAdminToken", "DeleteAdminToken", "GetAdminTokenInfo", "ListAdminTokens",
    "UpdateAdminToken", "GetBlockInfo", "ListBlockErrors", "PurgeBlocks", "RetryBlockResync",
    "CreateMetadataSnapshot", "GetNodeInfo", "GetNodeStatistics", "GetWorkerInfo",
    "GetWorkerVariable", "ListWorkers", "SetWorkerVariable", "LaunchRepairOperation",
    "InspectObject",
)


class Backend:
    def __init__(self, cluster, store):
        self.cluster = cluster
        self.store = store

    def call(self, name, query, body):
        handler = getattr(self, "op_" + name, None)
        if handler is None:
            raise errors.not_implemented(name)
        return handler(query, body or {})

    # ---- cluster ----

    def op_GetClusterHealth(self, query, body):
        return self.cluster.health()

    def op_GetClusterStatus(self, query, body):
        return {"layoutVersion": self.cluster.version,
                "nodes": [self.cluster.node_status(i) for i in self.cluster.status_node_ids()]}

    def op_ConnectClusterNodes(self, query, body):
        results = []
        for peer in body:
            success, error = self.cluster.connect(peer)
            results.append({"success": success, "error": error})
        return results

    def op_GetClusterStatistics(self, query, body):
        health = self.cluster.health()
        return {"freeform": (
            f"Garage test server: {health['knownNodes']} known nodes, layout version "
            f"{self.cluster.version}, {len(self.store.buckets)} buckets, "
            f"{len(self.store.keys)} keys\n")}

    # ---- layout ----

    def layout(self):
        c = self.cluster
        return _layout_view(c, c.version, c.roles, c.parameters, c.assignment,
                            c.partition_size, c.staged_changes(), c.staged_parameters)

    def op_GetClusterLayout(self, query, body):
        return self.layout()

    def op_GetClusterLayoutHistory(self, query, body):
        versions = []
        for entry in reversed(self.cluster.history):
            status = "Current" if entry["version"] == self.cluster.version else "Historical"
            versions.append(dict(entry, status=status))
        return {"currentVersion": self.cluster.version, "minAck": self.cluster.version,
                "versions": versions, "updateTrackers": None}

    def op_UpdateClusterLayout(self, query, body):
        if body.get("parameters") is not None:
            self.cluster.stage_parameters(body["parameters"])
        self.cluster.stage_roles(body.get("roles") or [])
        return self.layout()

    def op_PreviewClusterLayoutChanges(self, query, body):
        c = self.cluster
        try:
            state, message = c.compute_next()
        except errors.GarageError as e:
            return {"error": e.message.removeprefix("Internal error: ")}
        new_layout = _layout_view(c, c.version + 1, state["roles"], state["parameters"],
                                  state["assignment"], state["partition_size"], [], None)
        return {"message": message, "newLayout": new_layout}

    def op_ApplyClusterLayout(self, query, body):
        message = self.cluster.apply(body["version"])
        return {"message": message, "layout": self.layout()}

    def op_RevertClusterLayout(self, query, body):
        self.cluster.revert()
        return self.layout()

    def op_ClusterLayoutSkipDeadNodes(self, query, body):
        # The double keeps a single live layout version (no data migration to track).
        raise errors.bad_request(
            "This command cannot be called when there is only one live cluster layout version")

    # ---- buckets ----

    def op_ListBuckets(self, query, body):
        return self.store.bucket_list()

    def op_GetBucketInfo(self, query, body):
        bucket = self.store.find_bucket(query.get("id"), query.get("globalAlias"),
                                        query.get("search"))
        return self.store.bucket_info(bucket)

    def op_CreateBucket(self, query, body):
        bucket = self.store.create_bucket(body.get("globalAlias"), body.get("localAlias"))
        return self.store.bucket_info(bucket)

    def op_UpdateBucket(self, query, body):
        bucket = self.store.bucket(query["id"])
        self.store.update_bucket(bucket, body.get("websiteAccess"), body.get("quotas"))
        return self.store.bucket_info(bucket)

    def op_DeleteBucket(self, query, body):
        self.store.delete_bucket(self.store.bucket(query["id"]))
        return None

    def op_CleanupIncompleteUploads(self, query, body):
        bucket = self.store.bucket(body["bucketId"])
        deleted, bucket.unfinished_uploads = bucket.unfinished_uploads, 0
        return {"uploadsDeleted": deleted}

    def op_AddBucketAlias(self, query, body):
        bucket = self.store.bucket(body["bucketId"])
        if "globalAlias" in body:
            self.store.add_global_alias(bucket, body["globalAlias"])
        else:
            self.store.add_local_alias(bucket, body["accessKeyId"], body["localAlias"])
        return self.store.bucket_info(bucket)

    def op_RemoveBucketAlias(self, query, body):
        bucket = self.store.bucket(body["bucketId"])
        if "globalAlias" in body:
            self.store.remove_global_alias(bucket, body["globalAlias"])
        else:
            self.store.remove_local_alias(bucket, body["accessKeyId"], body["localAlias"])
        return self.store.bucket_info(bucket)

    def op_AllowBucketKey(self, query, body):
        return self._change_permissions(body, True)

    def op_DenyBucketKey(self, query, body):
        return self._change_permissions(body, False)

    def _change_permissions(self, body, allow):
        bucket = self.store.bucket(body["bucketId"])
        key = self.store.key(body["accessKeyId"])
        self.store.change_permissions(bucket, key, body["permissions"], allow)
        return self.store.bucket_info(bucket)

    # ---- keys ----

    def op_ListKeys(self, query, body):
        return self.store.key_list()

    def op_GetKeyInfo(self, query, body):
        key = self.store.find_key(query.get("id"), query.get("search"))
        return self.store.key_info(key, bool(query.get("showSecretKey")))

    def op_CreateKey(self, query, body):
        key = self.store.create_key(body.get("name"))
        self.store.update_key(key, {k: v for k, v in body.items() if k != "name"})
        return self.store.key_info(key, True)

    def op_ImportKey(self, query, body):
        key = self.store.import_key(body["accessKeyId"], body["secretAccessKey"],
                                    body.get("name"))
        return self.store.key_info(key, False)

    def op_UpdateKey(self, query, body):
        key = self.store.key(query["id"])
        self.store.update_key(key, body)
        return self.store.key_info(key, False)

    def op_DeleteKey(self, query, body):
        self.store.delete_key(self.store.key(query["id"]))
        return None

    # ---- Garage 1.x only: GET /v1/status ----

    def op_V1Status(self, query, body):
        c = self.cluster
        known = []
        for node in c.nodes:
            if node.known:
                known.append({"id": node.id, "addr": node.addr, "isUp": node.up,
                              "lastSeenSecsAgo": 0 if node.up else 120,
                              "hostname": node.hostname})
        return {"node": c.nodes[0].id, "garageVersion": c.garage_version,
                "garageFeatures": ["k2v", "lmdb", "sqlite", "metrics"],
                "rustVersion": "1.77.0", "dbEngine": "LMDB (using Heed crate)",
                "knownNodes": known, "layout": self.layout()}

    # ---- special endpoints (plain text) ----

    def health_text(self):
        status = self.cluster.health()["status"]
        if status == "unavailable":
            return 503, ("Quorum is not available for some/all partitions, reads and writes "
                         "will fail\n")
        if status == "degraded":
            return 200, "Garage is operational but some storage nodes are unavailable\n"
        return 200, "Garage is fully operational\n"

    def check_domain(self, domain):
        bucket = self.store.bucket_by_global_alias(domain)
        if bucket is None:
            raise errors.no_such_bucket(domain)
        if bucket.website is None:
            raise errors.bad_request("Bucket is not authorized for website hosting")
        return "Domain is authorized for website hosting\n"


def _layout_view(cluster, version, roles, parameters, assignment, partition_size,
                 staged_changes, staged_parameters):
    listed = []
    for node_id in sorted(roles):
        role = roles[node_id]
        stored = cluster.stored_partitions(node_id, assignment) if assignment else None
        stored = stored if role["capacity"] is not None else None
        listed.append({"id": node_id, "zone": role["zone"], "capacity": role["capacity"],
                       "storedPartitions": stored,
                       "usableCapacity": stored * partition_size if stored is not None
                       else None,
                       "tags": list(role["tags"])})
    return {"version": version, "roles": listed, "parameters": dict(parameters),
            "partitionSize": partition_size, "stagedRoleChanges": staged_changes,
            "stagedParameters": dict(staged_parameters) if staged_parameters else None}

