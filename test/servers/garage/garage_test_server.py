#!/usr/bin/env python3
"""Garage admin API test server (a test double; Garage itself cannot run here).

Built from Garage's official OpenAPI documents (v1 YAML, v2 JSON, read at start from
test/data/garage) plus the real server's behaviour the documents leave out.
It answers as Garage 2.x (v2 and v1), 1.x (--version 1) or 0.9 (--version 0.9), with
each release's shapes, statuses and errors taken from Garage's source (releases.py).

  python3 garage_test_server.py --port 0 --admin-token-file F --nodes 3 [--version 2]
      [--replication-factor 3] [--isolated] [--reference-dir DIR]

When ready it prints one JSON line,
  {"adminEndpoint": "http://127.0.0.1:PORT", "port": PORT, "version": 2,
   "nodes": [{"id", "addr", "hostname"}, ...]}
and serves until killed. The first node is the one answering; with --isolated the
others are unknown until ConnectClusterNodes introduces them. See control.py for the
test-only /_test/ API.
"""

import argparse
import http.server
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import app as app_module  # noqa: E402
import openapi  # noqa: E402
import releases  # noqa: E402


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as curl expects
    # Headers and body go out in two writes: without TCP_NODELAY the second waits for a
    # delayed ACK, about 40 ms per request on a kept-alive connection.
    disable_nagle_algorithm = True
    server_version = "garage-test-server"

    def _serve(self):
        body = self._read_body()
        if body is None:
            return
        headers = {k.title(): v for k, v in self.headers.items()}
        response = self.server.app.handle(self.command, self.path, headers, body)
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.status != 204:
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.status != 204 and self.command != "HEAD":
            self.wfile.write(response.body)

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size_line = self.rfile.readline().split(b";")[0].strip()
                try:
                    size = int(size_line, 16)
                except ValueError:
                    self.send_error(400, "bad chunked encoding")
                    return None
                if size == 0:
                    while self.rfile.readline().strip():
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

    def log_message(self, format, *args):
        if self.server.verbose:
            sys.stderr.write("garage-test-server: " + format % args + "\n")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--admin-token-file", required=True)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--version", default=releases.default_name(),
                        help="the Garage release to answer as: 0.9, 1 or 2 (default: $"
                             f"{releases.ENV}, else 2); see releases.py")
    parser.add_argument("--replication-factor", type=int, default=3)
    parser.add_argument("--isolated", action="store_true",
                        help="only the first node is known until nodes are connected")
    parser.add_argument("--region", default="garage")
    parser.add_argument("--reference-dir", default=openapi.default_reference_dir())
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    if args.nodes < 1 or args.replication_factor < 1:
        parser.error("--nodes and --replication-factor must be at least 1")
    try:
        release = releases.get(args.version)
    except ValueError as e:
        parser.error(str(e))
    with open(args.admin_token_file, encoding="utf-8") as f:
        token = f.read().strip()
    if not token:
        parser.error(f"{args.admin_token_file}: empty admin token")

    application = app_module.App(args.reference_dir, token, release.name, args.nodes,
                                 args.replication_factor, args.isolated, args.region)
    server = Server((args.bind, args.port), Handler)
    server.app = application
    server.verbose = args.verbose
    port = server.server_address[1]
    ready = {"adminEndpoint": f"http://{args.bind}:{port}", "port": port,
             "version": release.api, "release": release.name, "garageVersion": release.tag,
             "nodes": [{"id": n.id, "addr": n.addr, "hostname": n.hostname}
                       for n in application.cluster.nodes]}
    print(json.dumps(ready), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
