"""Cluster nodes, layout and health of the Garage test double.

Semantics follow Garage: role changes are staged, then applied as version current+1
(any other version is an internal error, HTTP 500) or reverted; a role's capacity is at
least 1024 bytes or null (gateway); zone redundancy is at most the replication factor,
which is fixed at start (it is configuration in Garage, not an API parameter). The
partition assignment is a simple zone-interleaved round robin, not Garage's optimiser:
it gives consistent counts, not Garage's exact placement or partition size.
"""

import hashlib
import re

import errors

PARTITIONS = 256
_NODE_ID = re.compile(r"[0-9a-fA-F]{64}\Z")
_DISK_TOTAL = 500 * 10**9
_DISK_AVAILABLE = 420 * 10**9


class Node:
    def __init__(self, node_id, addr, hostname, known, up=True):
        self.id = node_id
        self.addr = addr
        self.hostname = hostname
        self.known = known  # in this node's peer list
        self.up = up  # reachable when connected

    def snapshot(self):
        return {"id": self.id, "addr": self.addr, "hostname": self.hostname,
                "known": self.known, "up": self.up}


def make_node_id(index):
    return hashlib.sha256(f"garage-test-server-node-{index}".encode()).hexdigest()


class Cluster:
    def __init__(self, node_count, replication_factor, isolated, garage_version):
        self.replication_factor = replication_factor
        self.garage_version = garage_version
        self.nodes = []
        for index in range(node_count):
            self.nodes.append(Node(make_node_id(index), f"10.44.0.{index + 1}:3901",
                                   f"garage-{index + 1}", known=(index == 0 or not isolated)))
        self.version = 0
        self.roles = {}  # node id -> {"zone", "capacity", "tags"}
        self.parameters = {"zoneRedundancy": "maximum"}
        self.staged_roles = {}  # node id -> role dict, or None to remove the role
        self.staged_parameters = None
        self.assignment = []  # per partition, the ids of the nodes storing it
        self.partition_size = 0
        self.history = [self._history_entry()]

    # ---- nodes ----

    def node(self, node_id):
        return next((n for n in self.nodes if n.id == node_id), None)

    def is_up(self, node_id):
        node = self.node(node_id)
        return node is not None and node.known and node.up

    def add_node(self, node_id, addr, hostname, known):
        if node_id is None:
            node_id = make_node_id(len(self.nodes))
        if not _NODE_ID.match(node_id) or self.node(node_id) is not None:
            raise ValueError(f"invalid or duplicate node id {node_id!r}")
        node = Node(node_id.lower(), addr, hostname, known)
        self.nodes.append(node)
        return node

    def connect(self, peer):
        """One ConnectClusterNodes entry, `<node id>@<address>`: (success, error)."""
        node_id, sep, addr = peer.partition("@")
        if not sep or not _NODE_ID.match(node_id) or not addr:
            return False, f"Invalid peer string: {peer}"
        node = self.node(node_id.lower())
        if node is None or node.addr != addr:
            return False, f"Could not connect to {addr}: connection refused"
        if not node.up:
            return False, f"Could not connect to {addr}: connection timed out"
        node.known = True
        return True, None

    # ---- layout ----

    def stage_roles(self, changes):
        """Stages role changes: dicts with `id` and either `remove: true` or a role."""
        staged = dict(self.staged_roles)
        for change in changes:
            node_id = change["id"]
            if not _NODE_ID.match(node_id):
                raise errors.bad_request("Invalid node identifier")
            node_id = node_id.lower()
            if change.get("remove") is True:
                staged[node_id] = None
            elif "zone" in change and "tags" in change:
                capacity = change.get("capacity")
                if capacity is not None and capacity < 1024:
                    raise errors.bad_request("Capacity should be at least 1K (1024)")
                staged[node_id] = {"zone": change["zone"], "capacity": capacity,
                                   "tags": list(change["tags"])}
            else:
                raise errors.bad_request("Invalid layout change")
        self.staged_roles = staged

    def stage_parameters(self, parameters):
        redundancy = parameters["zoneRedundancy"]
        if isinstance(redundancy, dict):
            wanted = redundancy["atLeast"]
            if wanted > self.replication_factor:
                raise errors.bad_request(
                    "The zone redundancy must be smaller or equal to the replication "
                    f"factor ({self.replication_factor}).")
            if wanted < 1:
                raise errors.bad_request("The zone redundancy must be at least 1.")
        self.staged_parameters = {"zoneRedundancy": redundancy}

    def revert(self, new_version=None):
        """Drops the staged changes; Garage 0.9 also makes `new_version` (current + 1)."""
        if new_version is not None and new_version != self.version + 1:
            raise errors.internal("Invalid new layout version")
        self.staged_roles = {}
        self.staged_parameters = None
        if new_version is not None:
            self.version = new_version
            self.history.append(self._history_entry())

    def compute_next(self):
        """The layout that applying the staged changes gives: (state dict, message lines).

        Raises an internal error (as Garage's assignment does) when it cannot be built.
        """
        roles = {k: v for k, v in self.roles.items()}
        for node_id, role in self.staged_roles.items():
            if role is None:
                roles.pop(node_id, None)
            else:
                roles[node_id] = role
        parameters = self.staged_parameters or self.parameters
        storage = sorted(k for k, v in roles.items() if v["capacity"] is not None)
        rf = self.replication_factor
        if len(storage) < rf:
            raise errors.internal(
                f"The number of nodes with positive capacity ({len(storage)}) is smaller "
                f"than the replication factor ({rf}).")
        zones = sorted({roles[k]["zone"] for k in storage})
        redundancy = parameters["zoneRedundancy"]
        wanted_zones = min(rf, len(zones)) if redundancy == "maximum" else redundancy["atLeast"]
        if len(zones) < wanted_zones:
            raise errors.internal(
                f"The number of zones with non-zero capacity ({len(zones)}) is smaller than "
                f"the redundancy parameter ({wanted_zones}).")
        ring = _interleave_by_zone(storage, roles)
        assignment = [sorted(ring[(p + j) % len(ring)] for j in range(rf))
                      for p in range(PARTITIONS)]
        stored = {k: sum(k in nodes for nodes in assignment) for k in storage}
        partition_size = min(roles[k]["capacity"] // stored[k] for k in storage if stored[k])
        total = sum(roles[k]["capacity"] for k in storage)
        message = [
            "==== COMPUTATION OF A NEW PARTITION ASSIGNATION ====",
            "",
            f"Partitions are replicated {rf} times on at least {wanted_zones} distinct zones.",
            "",
            f"Optimal partition size:                     {partition_size} B",
            f"Usable capacity / total cluster capacity:   "
            f"{partition_size * PARTITIONS * rf} B / {total} B",
        ]
        state = {"roles": roles, "parameters": parameters, "assignment": assignment,
                 "partition_size": partition_size}
        return state, message

    def apply(self, version):
        if version != self.version + 1:
            raise errors.internal("Invalid new layout version")
        state, message = self.compute_next()
        self.version = version
        self.roles = state["roles"]
        self.parameters = state["parameters"]
        self.assignment = state["assignment"]
        self.partition_size = state["partition_size"]
        self.staged_roles = {}
        self.staged_parameters = None
        self.history.append(self._history_entry())
        return message

    def stored_partitions(self, node_id, assignment=None):
        assignment = self.assignment if assignment is None else assignment
        if not assignment:
            return None
        return sum(node_id in nodes for nodes in assignment)

    def staged_changes(self):
        """Staged role changes that differ from the current layout, as the API lists them."""
        changes = []
        for node_id in sorted(self.staged_roles):
            role = self.staged_roles[node_id]
            if role == self.roles.get(node_id):
                continue
            if role is None:
                changes.append({"id": node_id, "remove": True})
            else:
                changes.append({"id": node_id, **role})
        return changes

    def _history_entry(self):
        return {"version": self.version,
                "storageNodes": sum(r["capacity"] is not None for r in self.roles.values()),
                "gatewayNodes": sum(r["capacity"] is None for r in self.roles.values())}

    # ---- health ----

    def write_quorum(self):
        rf = self.replication_factor
        return rf - (rf + 1) // 2 + 1

    def health(self):
        known = [n for n in self.nodes if n.known]
        storage = [k for k, v in self.roles.items() if v["capacity"] is not None]
        storage_ok = sum(self.is_up(k) for k in storage)
        quorum = self.write_quorum()
        partitions_quorum = partitions_all_ok = 0
        for nodes in self.assignment:
            up = sum(self.is_up(k) for k in nodes)
            partitions_quorum += up >= quorum
            partitions_all_ok += up == len(nodes)
        partitions = len(self.assignment)
        if partitions_quorum == partitions and storage_ok == len(storage):
            status = "healthy"
        elif partitions_quorum == partitions:
            status = "degraded"
        else:
            status = "unavailable"
        return {"status": status, "knownNodes": len(known),
                "connectedNodes": sum(n.up for n in known),
                "storageNodes": len(storage), "storageNodesOk": storage_ok,
                "partitions": partitions, "partitionsQuorum": partitions_quorum,
                "partitionsAllOk": partitions_all_ok}

    def node_status(self, node_id):
        """A NodeResp-shaped description of one node (known or only in the layout)."""
        node = self.node(node_id)
        role = self.roles.get(node_id)
        visible = node is not None and node.known
        status = {
            "id": node_id,
            "garageVersion": self.garage_version if visible and node.up else None,
            "addr": node.addr if visible else None,
            "hostname": node.hostname if visible else None,
            "isUp": bool(visible and node.up),
            "lastSeenSecsAgo": (0 if node.up else 120) if visible else None,
            "role": dict(role) if role else None,
            "draining": False,
        }
        # v2.0.0 src/api/admin/api.rs NodeResp (and v1.x cluster.rs): the partitions are
        # skip_serializing_if is_none, absent rather than null (the v2 document says
        # nullable; the source wins).
        if visible and node.up:
            status["dataPartition"] = {"available": _DISK_AVAILABLE, "total": _DISK_TOTAL}
            status["metadataPartition"] = {"available": _DISK_AVAILABLE, "total": _DISK_TOTAL}
        return status

    def status_node_ids(self):
        ids = {n.id for n in self.nodes if n.known} | set(self.roles)
        return sorted(ids)

    def snapshot(self):
        return {"replicationFactor": self.replication_factor,
                "nodes": [n.snapshot() for n in self.nodes],
                "layout": {"version": self.version, "roles": self.roles,
                           "parameters": self.parameters, "stagedRoles": self.staged_roles,
                           "stagedParameters": self.staged_parameters,
                           "partitionSize": self.partition_size},
                "health": self.health()}


def _interleave_by_zone(storage, roles):
    """Storage node ids ordered so that consecutive entries alternate between zones."""
    by_zone = {}
    for node_id in storage:
        by_zone.setdefault(roles[node_id]["zone"], []).append(node_id)
    queues = [by_zone[zone] for zone in sorted(by_zone)]
    ring = []
    while any(queues):
        for queue in queues:
            if queue:
                ring.append(queue.pop(0))
    return ring
