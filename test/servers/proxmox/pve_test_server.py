#!/usr/bin/env python3
"""Proxmox VE REST API test server (a test double: Proxmox cannot run here).

Built from the official API schema (pve-docs apidata.js) vendored in test/data/proxmox
folder: every request is checked against it, and the emulated methods behave as
Proxmox's own code does (see README.md in this folder for what is emulated and
what was chosen where).

  pve_test_server.py --port 0 --state-dir DIR [--token USER@REALM!ID=SECRET] ...

prints one JSON line when ready:
  {"url", "apiUrl", "port", "fingerprint", "publicKeyPin", "caFile", "certFile", "token",
   "controlUrl", "stateDir"}
and serves until SIGTERM/SIGINT (then runs the VM hook's 'stop' for running VMs).
"""

import argparse
import json
import os
import signal
import sys
import threading
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import pveapischema  # noqa: E402
import pvecontrol  # noqa: E402
import pvefaults  # noqa: E402
import pveguest  # noqa: E402
import pvehandlers  # noqa: E402
import pvehttp  # noqa: E402
import pvestate  # noqa: E402
import pvetasks  # noqa: E402
import pvetls  # noqa: E402


def default_schema():
    """test/data/proxmox/pve-api-schema.json (vendored from pve-docs); FEDI_PVE_SCHEMA overrides."""
    if os.environ.get("FEDI_PVE_SCHEMA"):
        return os.environ["FEDI_PVE_SCHEMA"]
    return os.path.normpath(os.path.join(HERE, "..", "..", "data", "proxmox", "pve-api-schema.json"))


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback)")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--state-dir", required=True, help="certificates, hook log and server.json go here")
    ap.add_argument("--token", action="append", default=[],
                    help="accepted API token USER@REALM!TOKENID=SECRET (repeatable); "
                         "default: one random token for root@pam!fedi")
    ap.add_argument("--schema", default=default_schema(), help="pve-api-schema.json")
    ap.add_argument("--fixture", default=os.path.join(HERE, "default-fixture.json"),
                    help="initial nodes, storages and VMs (JSON)")
    ap.add_argument("--vm-hook", help="program run as 'PROGRAM start VMID NAME' / 'PROGRAM stop VMID'")
    ap.add_argument("--hook-timeout", type=float, default=120.0)
    ap.add_argument("--task-delay", type=float, default=0.2,
                    help="seconds a worker task takes (clone, start, ...)")
    ap.add_argument("--boot-delay", type=float, default=1.0,
                    help="seconds after a start until the guest agent answers")
    ap.add_argument("--unauth-delay", type=float, default=0.0,
                    help="delay before a 401 (real pveproxy: 3 s)")
    ap.add_argument("--inject", action="append", default=[],
                    help="fault to arm at start, as JSON (see pvefaults.py); repeatable")
    ap.add_argument("--pve-version", default="9.1.1")
    ap.add_argument("--http-server-version", default="6.0.5",
                    help="libpve-http-server-perl version to answer as; before 5.2.0 an "
                         "error's text is only in the HTTP status line")
    ap.add_argument("--quiet-start", type=float, default=0.0,
                    help="seconds each worker task logs nothing at its start (waiting for "
                         "a lock), so that its log reads as dump_logfile's placeholder")
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return ap.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.state_dir, exist_ok=True)
    schema = pveapischema.ApiSchema(args.schema)
    with open(args.fixture, encoding="utf-8") as f:
        fixture = json.load(f)
    config_props = schema.info("POST", "/nodes/{node}/qemu/{vmid}/config")["parameters"]["properties"]
    cluster = pvestate.Cluster(fixture, config_props)

    first_node = next(iter(cluster.nodes), "pve1")
    ca_file, cert_file, key_file = pvetls.make_certificates(
        args.state_dir, first_node, ["localhost", first_node, args.host])
    fp = pvetls.fingerprint(cert_file)

    tokens = args.token or [f"root@pam!fedi={uuid.uuid4()}"]
    faults = pvefaults.Faults()
    for spec in args.inject:
        faults.add(json.loads(spec))
    options = pvehandlers.Options(args.task_delay, args.boot_delay, fp, args.pve_version)
    guest = pveguest.GuestBacking(args.vm_hook, args.state_dir, args.hook_timeout)
    api = pvehandlers.Api(schema, cluster, pvetasks.TaskManager(args.quiet_start), guest, faults,
                          options)
    control = pvecontrol.Control(api)
    http_server_version = tuple(int(x) for x in args.http_server_version.split("."))
    app = pvehttp.App(api, pvehttp.TokenStore(tokens), control, args.unauth_delay, args.verbose,
                      http_server_version)
    control.app = app
    server = pvehttp.Server((args.host, args.port), app, pvetls.server_context(cert_file, key_file))

    port = server.server_address[1]
    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"https://{host}:{port}"
    ready = {"url": url, "apiUrl": url + "/api2/json", "port": port, "fingerprint": fp,
             "publicKeyPin": pvetls.public_key_pin(cert_file), "caFile": ca_file, "certFile": cert_file, "token": tokens[0],
             "controlUrl": url + "/_test", "stateDir": os.path.abspath(args.state_dir)}
    with open(os.path.join(args.state_dir, "server.json"), "w", encoding="utf-8") as f:
        json.dump(ready, f, indent=1)

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(json.dumps(ready), flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        for vm in list(cluster.vms.values()):
            if vm.running and vm.guest and args.vm_hook:
                try:
                    guest.stop(vm.vmid)
                except pvestate.PveError as e:
                    print(f"pve-test-server: {e.message.strip()}", file=sys.stderr)
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
