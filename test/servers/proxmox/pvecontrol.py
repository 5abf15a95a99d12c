"""Control API for tests, under /_test/ on the same port (no authentication;
real Proxmox answers these paths 501). Bodies and answers are plain JSON.

  GET    /_test/state      nodes, storages, volumes, VMs (config, running, guest),
                           tasks, armed faults, config locks held
  GET    /_test/requests   API calls received so far (?since=N skips the first N)
  POST   /_test/inject     arm a fault (see pvefaults); DELETE /_test/inject disarms all
  POST   /_test/storage    {"storage": ID, "shared"/"disable"/"active": 0|1,
                            "content": "images,rootdir", "nodes": [..], "total": bytes}
  POST   /_test/guest      {"vmid": N, "agent": "up"|"down"|"auto"} the guest agent
  POST   /_test/vm         {"vmid": N, "node": NODE, "config": {...}, "running": bool}
"""

import json
import urllib.parse

import pveformats
from pvestate import PveError


class Control:
    def __init__(self, api):
        self.api = api
        self.app = None  # set once the App exists (it owns the request log)

    def handle(self, h, method, path, query, body):
        try:
            doc = json.loads(body) if body else {}
            status, answer = 200, self.route(method, path.rstrip("/"), query, doc)
        except PveError as e:
            status, answer = e.status, {"error": e.message.strip()}
        except (ValueError, KeyError, TypeError) as e:
            status, answer = 400, {"error": f"bad control request: {e!r}"}
        data = json.dumps(answer, indent=1).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def route(self, method, path, query, doc):
        api, c = self.api, self.api.cluster
        if (method, path) == ("GET", "/_test/state"):
            state = c.dump()
            state["tasks"] = [t.status_dict() for t in api.tasks.all()]
            state["faults"] = api.faults.pending()
            state["uncheckedFormats"] = sorted(pveformats.UNCHECKED)
            return state
        if (method, path) == ("GET", "/_test/requests"):
            since = int(urllib.parse.parse_qs(query).get("since", ["0"])[0])
            return self.app.request_log[since:]
        if (method, path) == ("POST", "/_test/inject"):
            return {"armed": api.faults.add(doc), "pending": api.faults.pending()}
        if (method, path) == ("DELETE", "/_test/inject"):
            api.faults.clear()
            return {"pending": []}
        if (method, path) == ("POST", "/_test/storage"):
            with c.lock:
                s = c.storages.get(doc["storage"])
                if s is None:
                    raise PveError(f"no such storage '{doc['storage']}'\n", 404)
                for key in ("shared", "disable", "active", "total"):
                    if key in doc:
                        s[key] = int(doc[key])
                if "content" in doc:
                    s["content"] = sorted(pveformats.split_list(doc["content"]))
                if "nodes" in doc:
                    s["nodes"] = doc["nodes"] or None
                return dict(s)
        if (method, path) == ("POST", "/_test/guest"):
            with c.lock:
                vm = c.vms.get(int(doc["vmid"]))
                if vm is None:
                    raise PveError(f"no such VM {doc['vmid']}\n", 404)
                vm.agent_forced = {"up": True, "down": False, "auto": None}[doc["agent"]]
                return {"vmid": vm.vmid, "agentRunning": vm.agent_running()}
        if (method, path) == ("POST", "/_test/vm"):
            vm = api.qemu.create_vm(int(doc["vmid"]), doc["node"], doc.get("config", {}),
                                    bool(doc.get("running")))
            return {"vmid": vm.vmid, "node": vm.node, "config": vm.config}
        raise PveError(f"no control endpoint {method} {path}\n", 404)
