"""The request pipeline of the Garage test double, independent of the HTTP plumbing.

Order as in Garage: route (unknown endpoint -> 400), parse and check query and body
(-> 400), check the bearer token (-> 403), then run the operation. Injected faults
take effect after the token check, where Garage's own runtime errors occur.
"""

import threading
import urllib.parse

import bucket_key_state
import cluster_state
import control
import errors
import openapi
import operations
import releases
import router
import v1_compat
import v1_shapes
from responses import Response, json_response


class App:
    def __init__(self, reference_dir, admin_token, release, node_count, replication_factor,
                 isolated=False, region="garage"):
        self.release = releases.get(release)
        self.version = self.release.api  # the admin API generation: 1 or 2
        version = self.version
        self.admin_token = admin_token
        self.region = region
        self.lock = threading.Lock()
        v1_document = openapi.load_v1(reference_dir)
        v2_document = openapi.load_v2(reference_dir)
        self.router = router.Router(v1_document, v2_document, version)
        self.cluster = cluster_state.Cluster(node_count, replication_factor, isolated,
                                             self.release.tag)
        self.store = bucket_key_state.Store()
        self.backend = operations.Backend(self.cluster, self.store)
        self.faults = control.Faults()
        self.requests = []  # log of handled admin API requests, for the control API

    def handle(self, method, target, headers, body):
        parsed = urllib.parse.urlsplit(target)
        path = parsed.path
        if path.startswith(control.PREFIX):
            with self.lock:
                return control.handle(self, method, path, parsed.query, body)
        with self.lock:
            entry = {"method": method, "path": path, "query": parsed.query, "operation": None}
            try:
                response = self._handle_api(method, path, parsed.query, headers, body, entry)
            except errors.GarageError as e:
                response = json_response(e.status, e.body(self.region, path))
            except Exception as e:  # a bug in the double: answer, and say so
                failure = errors.internal(f"test server failure: {e!r}")
                response = json_response(500, failure.body(self.region, path))
            entry["status"] = response.status
            self.requests.append(entry)
            return response

    def _handle_api(self, method, path, query_string, headers, body, entry):
        if method == "OPTIONS":
            allow = {"Allow": "OPTIONS, GET, POST", "Access-Control-Allow-Methods":
                     "OPTIONS, GET, POST", "Access-Control-Allow-Origin": "*"}
            return Response(204, headers=allow)
        query = router.parse_query(query_string)
        op = self.router.route(method, path, query)
        entry["operation"] = op.id
        entry["api"] = op.api
        values = router.check_query(op, query)
        payload = self._check_body(op, body)
        name, values, payload = self._convert(op, values, payload)
        if op.auth_required:
            self._check_token(headers.get("Authorization"))
        fault = self.faults.take(op.id, name)
        if fault is not None:
            raise fault
        if op.id == "Health":
            status, text = self.backend.health_text(self.release)
            return Response(status, text, "text/plain")
        if op.id == "CheckDomain":
            return Response(200, self.backend.check_domain(values["domain"]), "text/plain")
        if op.id == "Metrics":
            return Response(200, "# Garage test server: no metrics\n", "text/plain")
        if name in operations.NOT_MODELLED:
            raise errors.not_implemented(name)
        result = self.backend.call(name, values, payload)
        return self._respond(op, result)

    def _check_body(self, op, body):
        # v1 RevertLayout: the v1 document wants {"version"}, which only Garage 0.9 reads
        # (v0.9.4 src/api/admin/cluster.rs handle_revert_cluster_layout); 1.x and 2.x take
        # no body (v1.0.0-v1.2.0 cluster.rs, v2.0.0 router_v2.rs from_v1). Source wins.
        if op.id == "RevertLayout" and self.release.name != "0.9":
            return None
        return router.check_body(op, body)

    def _convert(self, op, values, payload):
        """v1 requests become v2 ones; the converted body must fit the v2 schema too."""
        if op.api != "v1":
            return op.id, values, payload
        if op.id == "RevertLayout" and self.release.name == "0.9":
            return "V09RevertLayout", values, payload
        name, values, payload = v1_compat.convert(op.id, values, payload)
        target = next((o for o in self.router.v2.values() if o.id == name), None)
        if target is not None and target.body_schema is not None and payload is not None:
            router.check_value(target.validator, payload, target.body_schema)
        return name, values, payload

    def _check_token(self, header):
        if self.version >= 2:
            # v2.0.0 src/api/admin/api_server.rs verify_authorization
            if header is None:
                raise errors.forbidden("Bearer token must be provided in Authorization header")
            if not header.startswith("Bearer "):
                raise errors.forbidden("Invalid Authorization header")
            if header[len("Bearer "):].strip() != self.admin_token:
                raise errors.forbidden("Invalid bearer token")
        else:
            # src/api/admin/api_server.rs handle and verify_bearer_token (v0.9.4,
            # v1.0.0-v1.2.0): "Bearer " stripped, the rest trimmed, else one message
            if header is None:
                raise errors.forbidden("Authorization token must be provided")
            if (not header.startswith("Bearer ")
                    or header[len("Bearer "):].strip() != self.admin_token):
                raise errors.forbidden("Invalid authorization token")

    def _respond(self, op, result):
        status = self.router.success_status(op)
        if status == 204:
            return Response(204)
        if op.api == "v1" and self.version < 2:
            result = v1_shapes.present(op.id, result, self.release)
            if result is None:
                return Response(status)
        return json_response(status, result)
