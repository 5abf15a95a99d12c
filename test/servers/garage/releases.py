"""The Garage releases the test double answers as (--version, or GARAGE_TEST_SERVER_VERSION).

Each was read from Garage's source (github.com/deuxfleurs-org/garage) at its tags:

- "0.9": v0.9.4. Admin API v1 only (src/api/admin/router_v1.rs). GET /v1/status is
  {node, garageVersion, garageFeatures, rustVersion, dbEngine, knownNodes, layout}
  (src/api/admin/cluster.rs); POST /v1/layout/revert needs {"version": current + 1} and
  makes a new layout version (src/rpc/layout.rs revert_staged_changes).
- "1": v1.0.0 to v1.2.0 (their src/api/admin/ differ only in crate paths and punycode
  bucket names). Admin API v1 only. GET /v1/status is {node, garageVersion, ...,
  layoutVersion, nodes: [{id, role, addr, hostname, isUp, lastSeenSecsAgo, draining,
  dataPartition?, metadataPartition?}]} (src/api/admin/cluster.rs); revert takes no body
  (src/rpc/layout/history.rs revert_staged_changes keeps the version).
- "2": v2.0.0. Admin API v2 (src/api/admin/router_v2.rs, api.rs) and v1 except the
  endpoints whose semantics changed (router_v2.rs from_v1).

Buckets and keys answer alike in 0.9 and 1.x (src/api/admin/bucket.rs and key.rs differ
only in how the layout is read).
"""

import os


class Release:
    def __init__(self, name, tag, api):
        self.name = name
        self.tag = tag  # the source tag the answers were taken from
        self.api = api  # the newest admin API generation it serves

    def __repr__(self):
        return f"<Garage {self.name} ({self.tag})>"


RELEASES = {
    "0.9": Release("0.9", "v0.9.4", 1),
    "1": Release("1", "v1.2.0", 1),
    "2": Release("2", "v2.0.0", 2),
}

ENV = "GARAGE_TEST_SERVER_VERSION"


def default_name():
    return os.environ.get(ENV) or "2"


def get(name):
    """A Release by name; "1.x", "v1" and "1.2" mean "1", "0.9.4" means "0.9"."""
    text = str(name).strip().lower().lstrip("v").removesuffix(".x")
    if text in RELEASES:
        return RELEASES[text]
    major = text.split(".")[0]
    if major == "0" and text.startswith("0.9"):
        return RELEASES["0.9"]
    if major in ("1", "2"):
        return RELEASES[major]
    raise ValueError(f"unknown Garage version {name!r}; one of: {', '.join(RELEASES)}")
