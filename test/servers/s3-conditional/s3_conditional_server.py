#!/usr/bin/env python3
"""A tiny in-memory S3 server for testing conditional writes, written from the Amazon S3
API reference (PutObject, GetObject, HeadObject, DeleteObject, ListObjectsV2, HeadBucket,
CreateBucket; path-style addressing) and RFC 7232 (If-Match, If-None-Match). Python
standard library only; it shares no code with fedi's client.

    python3 s3_conditional_server.py [--port 0] [--ignore-conditional-writes | --ignore-if-match]

Prints one line, {"endpoint": "http://127.0.0.1:PORT"}, then serves until killed.

By default PutObject honours its preconditions as S3 documents them: If-None-Match: *
fails with 412 PreconditionFailed when the key exists, If-Match: <etag> fails with 412
unless the key exists with that entity tag (strong comparison of the quoted tag; "*"
matches any existing object). --ignore-conditional-writes ignores both headers, as some
S3 servers do, so that a client can be seen to notice; --ignore-if-match ignores If-Match
only.

Requests must carry an AWS4-HMAC-SHA256 Authorization header (403 AccessDenied
otherwise); the signature itself is not checked (the real RGW tests do that).

GET /_test/objects answers the stored keys as a JSON list (for tests; no S3 operation).
"""
import argparse
import hashlib
import json
import sys
import threading
import urllib.parse
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


class Store:
    def __init__(self):
        self.lock = threading.Lock()
        self.buckets = {}  # name -> {key: (body, etag, last_modified)}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    store = None
    honour_if_none_match = True
    honour_if_match = True

    def log_message(self, fmt, *args):  # quiet: tests read stdout
        pass

    # --- plumbing -------------------------------------------------------------------
    def split(self):
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.lstrip("/").split("/", 1)
        bucket = urllib.parse.unquote(parts[0])
        key = urllib.parse.unquote(parts[1]) if len(parts) > 1 else ""
        return bucket, key, urllib.parse.parse_qs(url.query, keep_blank_values=True)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, status, code, message, resource=""):
        xml = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
               f"<Message>{escape(message)}</Message><Resource>{escape(resource)}</Resource>"
               "</Error>").encode()
        self.send(status, xml, [("Content-Type", "application/xml")])

    def authorised(self):
        if self.path == "/_test/objects":
            return True
        if (self.headers.get("Authorization") or "").startswith("AWS4-HMAC-SHA256 "):
            return True
        self.body()
        self.error(403, "AccessDenied", "Access Denied")
        return False

    def bucket_or_error(self, bucket):
        objects = self.store.buckets.get(bucket)
        if objects is None:
            self.error(404, "NoSuchBucket", "The specified bucket does not exist", bucket)
        return objects

    # --- verbs ----------------------------------------------------------------------
    def do_PUT(self):
        if not self.authorised():
            return
        bucket, key, _ = self.split()
        data = self.body()
        with self.store.lock:
            if not key:
                self.store.buckets.setdefault(bucket, {})
                return self.send(200, headers=[("Location", "/" + bucket)])
            objects = self.bucket_or_error(bucket)
            if objects is None:
                return None
            failed = self.precondition_failed(objects.get(key))
            if failed:
                return self.error(412, "PreconditionFailed",
                                  "At least one of the pre-conditions you specified did not hold",
                                  f"{bucket}/{key} ({failed})")
            etag = '"' + hashlib.md5(data).hexdigest() + '"'
            objects[key] = (data, etag, formatdate(usegmt=True))
            return self.send(200, headers=[("ETag", etag)])

    def precondition_failed(self, existing):
        """Which precondition of the request does not hold for `existing` (or None)."""
        if_none_match = self.headers.get("If-None-Match")
        if (self.honour_if_none_match and if_none_match is not None
                and if_none_match.strip() == "*" and existing):
            return "If-None-Match"
        if_match = self.headers.get("If-Match")
        if self.honour_if_match and if_match is not None:
            tags = [t.strip() for t in if_match.split(",")]
            if existing is None or ("*" not in tags and existing[1] not in tags):
                return "If-Match"
        return None

    def do_GET(self):
        if not self.authorised():
            return None
        if self.path == "/_test/objects":
            with self.store.lock:
                keys = sorted(f"{b}/{k}" for b, objs in self.store.buckets.items() for k in objs)
            return self.send(200, json.dumps(keys).encode(), [("Content-Type", "application/json")])
        bucket, key, query = self.split()
        with self.store.lock:
            objects = self.bucket_or_error(bucket)
            if objects is None:
                return None
            if not key:
                return self.list_objects(bucket, objects, query)
            if key not in objects:
                return self.error(404, "NoSuchKey", "The specified key does not exist.",
                                  f"{bucket}/{key}")
            data, etag, modified = objects[key]
        return self.send(200, data, [("ETag", etag), ("Last-Modified", modified),
                                     ("Content-Type", "application/octet-stream")])

    def do_HEAD(self):
        if not self.authorised():
            return None
        bucket, key, _ = self.split()
        with self.store.lock:
            objects = self.store.buckets.get(bucket)
            found = objects is not None and (not key or key in objects)
            entry = objects.get(key) if found and key else None
        if not found:
            return self.send(404)
        if entry is None:
            return self.send(200)
        self.send_response(200)
        self.send_header("ETag", entry[1])
        self.send_header("Last-Modified", entry[2])
        self.send_header("Content-Length", str(len(entry[0])))
        self.end_headers()
        return None

    def do_DELETE(self):
        if not self.authorised():
            return None
        bucket, key, _ = self.split()
        with self.store.lock:
            objects = self.bucket_or_error(bucket)
            if objects is None:
                return None
            objects.pop(key, None)
        return self.send(204)

    def list_objects(self, bucket, objects, query):
        """ListObjectsV2, one page holding every key under the prefix."""
        prefix = query.get("prefix", [""])[0]
        contents = "".join(
            f"<Contents><Key>{escape(k)}</Key><LastModified>2026-01-01T00:00:00.000Z"
            f"</LastModified><ETag>{escape(v[1])}</ETag><Size>{len(v[0])}</Size>"
            "<StorageClass>STANDARD</StorageClass></Contents>"
            for k, v in sorted(objects.items()) if k.startswith(prefix))
        xml = (f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="{S3_NS}">'
               f"<Name>{escape(bucket)}</Name><Prefix>{escape(prefix)}</Prefix>"
               f"<KeyCount>{contents.count('<Contents>')}</KeyCount><MaxKeys>1000</MaxKeys>"
               f"<IsTruncated>false</IsTruncated>{contents}</ListBucketResult>").encode()
        self.send(200, xml, [("Content-Type", "application/xml")])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ignore-conditional-writes", action="store_true")
    parser.add_argument("--ignore-if-match", action="store_true")
    args = parser.parse_args()
    Handler.store = Store()
    Handler.honour_if_none_match = not args.ignore_conditional_writes
    Handler.honour_if_match = not (args.ignore_conditional_writes or args.ignore_if_match)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(json.dumps({"endpoint": f"http://127.0.0.1:{server.server_address[1]}"}), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
