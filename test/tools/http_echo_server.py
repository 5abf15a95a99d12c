#!/usr/bin/env python3
"""A loopback HTTP(S) server for the HTTP client's tests.

Prints its port on the first line of stdout, then answers every method with a JSON
echo of the request: {"method", "path", "headers": [[name, value], ...], "body"}.
Paths: /status/N answers status N; /slow sleeps 3 s first.
  http_echo_server.py [--cert CERT.pem --key KEY.pem]
"""
import http.server
import json
import ssl
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        if self.path == "/slow":
            time.sleep(3)
        status = 200
        if self.path.startswith("/status/"):
            status = int(self.path.split("/")[2])
        out = json.dumps({
            "method": self.command,
            "path": self.path,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body": body,
        }).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Echo", "yes")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = answer


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if "--cert" in sys.argv:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[sys.argv.index("--cert") + 1],
                            sys.argv[sys.argv.index("--key") + 1])
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
