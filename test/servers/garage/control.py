"""Test-only control API under /_test/ (no token): inspect state, inject errors, and
change what a client cannot (bucket contents, node reachability, extra nodes).

  GET    /_test/state           nodes, layout, health, buckets, keys (secrets included)
  GET    /_test/requests        admin API requests handled so far (method, path,
                                operation, status); DELETE clears the log
  POST   /_test/faults          {"operation", "count"=1, "status"=500,
                                 "code"="InternalError", "message"="injected failure"}:
                                the next `count` calls of that operation (v2 name, or
                                v1 document id) fail with this error; DELETE clears all
  POST   /_test/bucket-contents {"bucketId", "objects", "bytes"=0, "unfinishedUploads"=0}:
                                a bucket with objects or uploads cannot be deleted
  POST   /_test/nodes           {"addr", "hostname", "id"?, "known"=false}: add a node,
                                e.g. one that ConnectClusterNodes must introduce
  POST   /_test/node-status     {"id", "up"}: make a node reachable or not
"""

import json

import errors
from responses import json_response

PREFIX = "/_test/"


class Faults:
    def __init__(self):
        self.pending = []  # [operation, remaining, GarageError]

    def add(self, operation, count, error):
        self.pending.append([operation, count, error])

    def take(self, *names):
        for entry in self.pending:
            if entry[0] in names and entry[1] > 0:
                entry[1] -= 1
                return entry[2]
        return None

    def snapshot(self):
        return [{"operation": op, "remaining": n, "status": e.status, "code": e.code,
                 "message": e.message} for op, n, e in self.pending]


def handle(app, method, path, query_string, body):
    def reply(status, value):
        return json_response(status, value)

    try:
        data = json.loads(body.decode("utf-8")) if body.strip() else {}
    except ValueError as e:
        return reply(400, {"error": f"invalid JSON: {e}"})
    route = (method, path[len(PREFIX):].rstrip("/"))
    try:
        if route == ("GET", "state"):
            return reply(200, {"version": app.version, "cluster": app.cluster.snapshot(),
                               **app.store.snapshot(), "faults": app.faults.snapshot()})
        if route == ("GET", "requests"):
            return reply(200, app.requests)
        if route == ("DELETE", "requests"):
            app.requests.clear()
            return reply(200, {})
        if route == ("POST", "faults"):
            error = errors.GarageError(int(data.get("status", 500)),
                                       data.get("code", "InternalError"),
                                       data.get("message", "injected failure"))
            app.faults.add(data["operation"], int(data.get("count", 1)), error)
            return reply(200, {"faults": app.faults.snapshot()})
        if route == ("DELETE", "faults"):
            app.faults.pending.clear()
            return reply(200, {})
        if route == ("POST", "bucket-contents"):
            bucket = app.store.buckets[data["bucketId"]]
            bucket.objects = int(data["objects"])
            bucket.bytes = int(data.get("bytes", 0))
            bucket.unfinished_uploads = int(data.get("unfinishedUploads", 0))
            return reply(200, app.store.bucket_info(bucket))
        if route == ("POST", "nodes"):
            node = app.cluster.add_node(data.get("id"), data["addr"], data["hostname"],
                                        bool(data.get("known", False)))
            return reply(200, node.snapshot())
        if route == ("POST", "node-status"):
            node = app.cluster.node(data["id"])
            if node is None:
                return reply(404, {"error": f"no node {data['id']}"})
            node.up = bool(data["up"])
            return reply(200, node.snapshot())
    except (KeyError, ValueError, TypeError) as e:
        return reply(400, {"error": f"bad control request: {e!r}"})
    return reply(404, {"error": f"unknown control endpoint {method} {path}"})
