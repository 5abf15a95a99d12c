"""HTTP responses as the pipeline builds them (status, body bytes, content type, headers)."""

import json


class Response:
    def __init__(self, status, body=None, content_type="application/json", headers=None):
        self.status = status
        self.body = body if isinstance(body, bytes) else (body or "").encode("utf-8")
        self.content_type = content_type
        self.headers = headers or {}


def json_response(status, value):
    return Response(status, json.dumps(value, indent=2) + "\n")
