#!/usr/bin/env python3
"""An HTTPS forwarding proxy for tests that loses answers.

Each request is forwarded to the upstream HTTPS server and its answer relayed, status
line reason included. The first --count requests whose METHOD PATH matches --drop (a
regular expression) are forwarded too, but the connection is then closed without an
answer: the server did the work, the client never hears of it, as when a network fails
at the wrong moment.

  https_drop_proxy.py --upstream https://127.0.0.1:PORT --cafile CA.pem \
      --cert CERT.pem --key KEY.pem --drop 'POST .*/clone$' [--count 1]

Prints its port on the first line of stdout; serves until SIGTERM.
"""
import argparse
import http.client
import http.server
import re
import ssl
import sys
import threading
import urllib.parse

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--cafile", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--drop", required=True)
    ap.add_argument("--count", type=int, default=1)
    args = ap.parse_args()
    upstream = urllib.parse.urlsplit(args.upstream)
    client_ctx = ssl.create_default_context(cafile=args.cafile)
    drop = re.compile(args.drop)
    left = [args.count]
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def relay(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            conn = http.client.HTTPSConnection(upstream.hostname, upstream.port,
                                               context=client_ctx, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            conn.request(self.command, self.path, body=body, headers=headers)
            answer = conn.getresponse()
            data = answer.read()
            conn.close()
            with lock:
                lose = left[0] > 0 and drop.search(f"{self.command} {self.path}")
                if lose:
                    left[0] -= 1
            if lose:
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.send_response(answer.status, answer.reason)
            for k, v in answer.getheaders():
                if k.lower() not in HOP_BY_HOP:
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            # One request per connection: curl silently sends a request again when a
            # reused connection closes without an answer, which would hide the loss.
            self.send_header("Connection", "close")
            self.close_connection = True
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = relay

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(args.cert, args.key)
    server.socket = server_ctx.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
