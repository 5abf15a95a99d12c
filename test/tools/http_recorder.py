#!/usr/bin/env python3
"""An HTTP(S) server for golden tests of request bodies: records every request it gets
(method, target, content type, body) and answers from a table of canned replies, so a
client's requests can be compared byte for byte with test/data/golden/. It knows
nothing of the APIs it stands in for.

  http_recorder.py --replies JSON [--tls]

--replies: a JSON list of [METHOD, PATH_REGEX, STATUS, BODY]; the first whose method and
regex (searched in the target) match answers, else 200 "{}". --tls serves HTTPS with a
self-signed certificate made by the openssl CLI. Prints one JSON line when ready:
{"url": ...}. GET /_recorder/requests (not recorded) returns what was recorded so far.
"""
import argparse
import http.server
import json
import os
import re
import ssl
import subprocess
import sys
import tempfile
import threading

recorded = []
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    replies = []

    def log_message(self, format, *args):
        pass

    def answer(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("latin-1") if length else ""
        if self.path == "/_recorder/requests":
            with lock:
                return self.answer(200, json.dumps(recorded))
        with lock:
            recorded.append({"method": self.command, "target": self.path,
                             "contentType": self.headers.get("Content-Type") or "",
                             "body": body})
        for method, regex, status, reply in self.replies:
            if method == self.command and re.search(regex, self.path):
                return self.answer(status, reply)
        self.answer(200, "{}")

    do_GET = do_POST = do_PUT = do_DELETE = handle_any


def self_signed(directory):
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                    "/CN=localhost", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--replies", default="[]")
    parser.add_argument("--tls", action="store_true")
    args = parser.parse_args()
    Handler.replies = json.loads(args.replies)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    scheme = "http"
    if args.tls:
        with tempfile.TemporaryDirectory() as directory:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self_signed(directory))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    print(json.dumps({"url": f"{scheme}://127.0.0.1:{server.server_address[1]}"}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
