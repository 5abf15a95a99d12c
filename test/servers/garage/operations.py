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
        # v2.0.0 src/api/admin/cluster.rs GetClusterHealthRequest (shape: api.rs)
        # v0.9.4, v1.0.0-v1.2.0 src/api/admin/cluster.rs handle_get_cluster_health (shape: v1_shapes.py)
        return self.cluster.health()

    def op_GetClusterStatus(self, query, body):
        # v2.0.0 src/api/admin/cluster.rs GetClusterStatusRequest (shape: api.rs)
        return {"layoutVersion": self.cluster.version,
                "nodes": [self.cluster.node_status(i) for i in self.cluster.status_node_ids()]}

    def op_ConnectClusterNodes(self, query, body):
        # v2.0.0 src/api/admin/cluster.rs ConnectClusterNodesRequest (shape: api.rs)
        # v0.9.4, v1.0.0-v1.2.0 src/api/admin/cluster.rs handle_connect_cluster_nodes (shape: v1_shapes.py)
        results = []
        for peer in body:
            success, error = self.cluster.connect(peer)
            results.append({"success": success, "error": error})
        return results

    def op_GetClusterStatistics(self, query, body):
        # v2.0.0 src/api/admin/cluster.rs GetClusterStatisticsRequest (shape: api.rs)
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
        # v2.0.0 src/api/admin/layout.rs GetClusterLayoutRequest (shape: api.rs)
        # v0.9.4, v1.0.0-v1.2.0 src/api/admin/cluster.rs handle_get_cluster_layout (shape: v1_shapes.py)
        return self.layout()

    def op_GetClusterLayoutHistory(self, query, body):
        # v2.0.0 src/api/admin/layout.rs GetClusterLayoutHistoryRequest (shape: api.rs)
        versions = []
        for entry in reversed(self.cluster.history):
            status = "Current" if entry["version"] == self.cluster.version else "Historical"
            versions.append(dict(entry, status=status))
        return {"currentVersion": self.cluster.version, "minAck": self.cluster.version,
                "versions": versions, "updateTrackers": None}

    def op_UpdateClusterLayout(self, query, body):
        # v2.0.0 src/api/admin/layout.rs UpdateClusterLayoutRequest (shape: api.rs)
        # v0.9.4, v1.0.0-v1.2.0 src/api/admin/cluster.rs handle_update_cluster_layout (shape: v1_shapes.py)
        if body.get("parameters") is not None:
            self.cluster.stage_parameters(body["parameters"])
        self.cluster.stage_roles(body.get("roles") or [])
        return self.layout()

    def op_PreviewClusterLayoutChanges(self, query, body):
        # v2.0.0 src/api/admin/layout.rs PreviewClusterLayoutChangesRequest (shape: api.rs)
        c = self.cluster
        try:
            state, message = c.compute_next()
        except errors.GarageError as e:
            return {"error": e.message.removeprefix("Internal error: ")}
        new_layout = _layout_view(c, c.version + 1, state["roles"], state["parameters"],
                                  state["assignment"], state["partition_size"], [], None)
        return {"message": message, "newLayout": new_layout}

    def op_ApplyClusterLayout(self, query, body):
        # v2.0.0 src/api/admin/layout.rs ApplyClusterLayoutRequest (shape: api.rs)
        # v0.9.4, v1.0.0-v1.2.0 src/api/admin/cluster.rs handle_apply_cluster_layout (shape: v1_shapes.py)
        message = self.cluster.apply(body["version"])
        return {"message": message, "layout": self.layout()}

    def op_RevertClusterLayout(self, query, body):
        # v2.0.0 src/api/admin/layout.rs RevertClusterLayoutRequest (shape: api.rs)
        # v0.9.4, v1.0.0-v1.2.0 src/api/admin/cluster.rs handle_revert_cluster_layout (shape: v1_shapes.py)
        self.cluster.revert()
        return self.layout()

    def op_ClusterLayoutSkipDeadNodes(self, query, body):
        # v2.0.0 src/api/admin/layout.rs ClusterLayoutSkipDeadNodesRequest (shape: api.rs)
        # The double keeps a single live layout version (no data migration to track).
        raise errors.bad_request(
            "This command cannot be called when there is only one live cluster layout version")

    # ---- buckets ----

    def op_ListBuckets(self, query, body):
        # v2.0.0 src/api/admin/bucket.rs ListBucketsRequest (shape: api.rs)
        # v0.9.4, v1.0.0-v1.2.0 src/api/admin/bucket.rs handle_list_buckets (shape: v1_shapes.py)
        return self.store.bucket_list()

    def op_GetBucketInfo(self, query, body):
        # v2.0.0 src/api/admin/bucket.rs GetBucketInfoRequest (shape: api.rs)
        # v0.9.4, v1.0.0-v1.2.0 src/api/admin/bucket.rs handle_get_bucket_info (shape: v1_shapes.py)
        bucket = self.store.find_bucket(query.get("id"), query.get("globalAlias"),
                                        query.get("search"))
        return self.store.bucket_info(bucket)

    def op_CreateBucket(self, query, body):
        # v2.0.0 src/api/admin/bucket.rs CreateBucketRequest (shape: api.rs)
        # v0.9.4, v1.0.0-v1.2.0 src/api/admin/bucket.rs handle_create_bucket (shape: v1_shapes.py)
        bucket = self.store.create_bucket(body.get("globalAlias"), body.get("localAlias"))
        return self.store.bucket_info(bucket)

    def op_UpdateBucket(self, query, body):
        # v2.0.0 src/api/admin/bucket.rs UpdateBucketRequest (shape: api.rs)
        # v0.9.4, v1.0.0-v1.2.0 src/api/admin/bucket.rs handle_update_bucket (shape: v1_shapes.py)
        bucket = self.store.bucket(query["id"])
        self.store.update_bucket(bucket, body.get("websiteAccess"), body.get("quotas"))
        return self.store.bucket_info(bucket)

    def op_DeleteBucket(self, query, body):
        # v2.0.0 src/api/admin/bucket.rs DeleteBucketRequest (shape: api.rs)
        # v0.9.4, v1.0.0-v1.2.0 src/api/admin/bucket.rs handle_delete_bucket (shape: v1_shapes.py)
        self.store.delete_bucket(self.store.bucket(query["id"]))
        return None

    def op_CleanupIncompleteUploads(self, query, body):
        # v2.0.0 src/api/admin/bucket.rs CleanupIncompleteUploadsRequest (shape: api.rs)
        bucket = self.store.bucket(body["bucketId"])
        deleted, bucket.unfinished_uploads = bucket.unfinished_uploads, 0
        return {"uploadsDeleted": deleted}

    def op_AddBucketAlias(self, query, body):
        # v2.0.0 src/api/admin/bucket.rs AddBucketAliasRequest (shape: api.rs)
        # v0.9.4, v1.0.0-v1.2.0 src/api/admin/bucket.rs handle_global_alias_bucket / handle_local_alias_bucket (shape: v1_shapes.py)
        bucket = self.store.bucket(body["bucketId"])
        if "globalAlias" in body:
            self.store.add_global_alias(bucket, body["globalAlias"])
        else:
            self.store.add_local_alias(bucket, body["accessKeyId"], body["localAlias"])
        return self.store.bucket_info(bucket)

    def op_RemoveBucketAlias(self, query, body):
        # v2.0.0 src/api/admin/bucket.rs RemoveBucketAliasRequest (shape: api.rs)
        # v0.9.4, v1.0.0-v1.2.0 src/api/admin/bucket.rs handle_global_unalias_bucket / handle_local_unalias_bucket (shape: v1_shapes.py)
        bucket = self.store.bucket(body["bucketId"])
        if "globalAlias" in body:
            self.store.remove_global_alias(bucket, body["globalAlias"])
        else:
            self.store.remove_local_alias(bucket, body["accessKeyId"], body["localAlias"])
        return self.store.bucket_info(bucket)

    def op_AllowBucketKey(self, query, body):
        # v2.0.0 src/api/admin/bucket.rs AllowBucketKeyRequest (shape: api.rs)
        # v0.9.4, v1.0.0-v1.2.0 src/api/admin/bucket.rs handle_bucket_change_key_perm (shape: v1_shapes.py)
        return self._change_permissions(body, True)

    def op_DenyBucketKey(self, query, body):
        # v2.0.0 src/api/admin/bucket.rs DenyBucketKeyRequest (shape: api.rs)
        # v0.9.4, v1.0.0-v1.2.0 src/api/admin/bucket.rs handle_bucket_change_key_perm (shape: v1_shapes.py)
        return self._change_permissions(body, False)

    def _change_permissions(self, body, allow):
        bucket = self.store.bucket(body["bucketId"])
        key = self.store.key(body["accessKeyId"])
        self.store.change_permissions(bucket, key, body["permissions"], allow)
        return self.store.bucket_info(bucket)

    # ---- keys ----

    def op_ListKeys(self, query, body):
        # v2.0.0 src/api/admin/key.rs ListKeysRequest (shape: api.rs)
        # v0.9.4, v1.0.0-v1.2.0 src/api/admin/key.rs handle_list_keys (shape: v1_shapes.py)
        return self.store.key_list()

    def op_GetKeyInfo(self, query, body):
        # v2.0.0 src/api/admin/key.rs GetKeyInfoRequest (shape: api.rs)
        # v0.9.4, v1.0.0-v1.2.0 src/api/admin/key.rs handle_get_key_info (shape: v1_shapes.py)
        key = self.store.find_key(query.get("id"), query.get("search"))
        return self.store.key_info(key, bool(query.get("showSecretKey")))

    def op_CreateKey(self, query, body):
        # v2.0.0 src/api/admin/key.rs CreateKeyRequest (shape: api.rs)
        # v0.9.4, v1.0.0-v1.2.0 src/api/admin/key.rs handle_create_key (shape: v1_shapes.py)
        key = self.store.create_key(body.get("name"))
        self.store.update_key(key, {k: v for k, v in body.items() if k != "name"})
        return self.store.key_info(key, True)

    def op_ImportKey(self, query, body):
        # v2.0.0 src/api/admin/key.rs ImportKeyRequest (shape: api.rs)
        # v0.9.4, v1.0.0-v1.2.0 src/api/admin/key.rs handle_import_key (shape: v1_shapes.py)
        key = self.store.import_key(body["accessKeyId"], body["secretAccessKey"],
                                    body.get("name"))
        return self.store.key_info(key, False)

    def op_UpdateKey(self, query, body):
        # v2.0.0 src/api/admin/key.rs UpdateKeyRequest (shape: api.rs)
        # v0.9.4, v1.0.0-v1.2.0 src/api/admin/key.rs handle_update_key (shape: v1_shapes.py)
        key = self.store.key(query["id"])
        self.store.update_key(key, body)
        return self.store.key_info(key, False)

    def op_DeleteKey(self, query, body):
        # v2.0.0 src/api/admin/key.rs DeleteKeyRequest (shape: api.rs)
        # v0.9.4, v1.0.0-v1.2.0 src/api/admin/key.rs handle_delete_key (shape: v1_shapes.py)
        self.store.delete_key(self.store.key(query["id"]))
        return None

    # ---- Garage 0.9 and 1.x: GET /v1/status (v1_shapes.status gives each its shape) ----

    def op_V1Status(self, query, body):
        # src/api/admin/cluster.rs handle_get_cluster_status (v0.9.4, v1.0.0-v1.2.0)
        c = self.cluster
        return {"node": c.nodes[0].id, "layoutVersion": c.version, "layout": self.layout(),
                "nodes": [c.node_status(i) for i in c.status_node_ids()]}

    def op_V09RevertLayout(self, query, body):
        # v0.9.4 src/api/admin/cluster.rs handle_revert_cluster_layout parses
        # {"version"}; src/rpc/layout.rs revert_staged_changes wants current + 1 (else
        # "Invalid new layout version", a 500) and makes that the new version.
        self.cluster.revert(new_version=body["version"])
        return self.layout()

    # ---- special endpoints (plain text) ----

    def health_text(self, release):
        # GET /health: src/api/admin/api_server.rs handle_health (v0.9.4, v1.0.0-v1.2.0),
        # src/api/admin/special.rs HealthRequest (v2.0.0): one line, then where the full
        # health check is, as text/plain.
        status = self.cluster.health()["status"]
        if status == "unavailable":
            code, line = 503, ("Quorum is not available for some/all partitions, reads and "
                               "writes will fail")
        elif status == "degraded":
            code, line = 200, "Garage is operational but some storage nodes are unavailable"
        else:
            code, line = 200, "Garage is fully operational"
        full = "/v2/GetClusterHealth" if release.api >= 2 else "/v1/health"
        return code, f"{line}\nConsult the full health check API endpoint at {full} for more details\n"

    def check_domain(self, domain):
        # GET /check?domain=: check_domain in src/api/admin/api_server.rs (v0.9.4,
        # v1.0.0-v1.2.0) and special.rs (v2.0.0). With no root domains configured (as
        # here) the domain is a bucket's global alias that must have website access.
        bucket = self.store.bucket_by_global_alias(domain)
        if bucket is None or bucket.website is None:
            raise errors.bad_request(f"Domain '{domain}' is not managed by Garage")
        return f"Domain '{domain}' is managed by Garage"


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

