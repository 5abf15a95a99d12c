"""HTTPS front end that answers as pveproxy does (pve-http-server's
PVE::APIServer::AnyEvent and pve-manager's PVE::HTTPServer):

- methods other than GET/POST/PUT/DELETE: 501 "method 'X' not available";
- paths outside /api2: 501 "no such file '<path>'"; /api2/<fmt> other than json: 501;
- auth first: 'Authorization: PVEAPIToken=USER@REALM!TOKENID=SECRET'; a failure
  is 401 with the reason in the status line and an empty body ("No ticket",
  "invalid token value!", "no such token 'x' for user 'y'", ...);
- form bodies decoded like decode_urlencoded (a value ends at the next raw '=');
  JSON bodies accepted too; query parameters override body ones;
- unknown path or method: 501 {"data":null,"message":"Method 'GET /x' not implemented"};
- parameters checked against the schema: 400 {"data":null,"errors":{..},"message":..};
- handler errors: 500 with the message; results checked against the schema's
  'returns' ("Result verification failed", as PVE::RESTHandler does);
- every reply is {"data": ...}; the status line carries the message. From
  pve-http-server 5.2.0 on (commit 9a2112e, src/PVE/APIServer/Formatter/Standard.pm
  prepare_response_data: "fix #6503: return api handler errors in the json body") a JSON
  error body also has "message"; before, the text is only in the status line, which
  --http-server-version 5.1.0 reproduces. From the same release (commit 9b59e1f,
  src/PVE/APIServer/AnyEvent.pm `error`: "$content //= $msg") the errors the HTTP layer
  itself answers carry their message as the body too.
Paths under /_test/ go to the control API (no auth).
"""

import http.server
import json
import re
import socket
import ssl
import sys
import threading
import time
import urllib.parse

from pveapischema import validate_params, validate_result
from pvehandlers import Request, unknown_node
from pvejsonschema import perl_str
from pveformats import REALM_RE, TOKEN_SUBID_RE, USER_RE
from pvestate import PveError

KNOWN_METHODS = ("GET", "POST", "PUT", "DELETE")
MAX_POST = 64 * 1024


class AuthError(Exception):
    pass


def extract_auth_value(header, key):
    if not header:
        return None
    m = re.search(rf"(?:^|\s){re.escape(key)}(?:=| )([^;]*)", header)
    return urllib.parse.unquote(m.group(1)) if m and m.group(1) else None


def _unescape(raw):
    return re.sub(rb"%([0-9a-fA-F]{2})", lambda m: bytes([int(m.group(1), 16)]),
                  raw.replace(b"+", b" "))


def decode_urlencoded(data):
    """pve-http-server's decode_urlencoded (bytes in), quirks included: fields
    split on '&' or ';', a key=value pair is cut at every '=' (so 'a=b=c' gives
    'b'), an empty value counts as absent, and a repeated key joins its values
    with NUL."""
    res = {}
    for kv in re.split(rb"[&;]", data or b""):
        fields = kv.split(b"=")
        while fields and fields[-1] == b"":
            fields.pop()  # Perl's split drops trailing empty fields
        if not fields:
            continue
        key = _unescape(fields[0]).decode("utf-8", errors="replace")
        if len(fields) > 1:
            value = _unescape(fields[1]).decode("utf-8", errors="replace")
            if res.get(key) is not None:
                value = res[key] + "\0" + value
            res[key] = value
        else:
            res[key] = None
    return res


class TokenStore:
    def __init__(self, tokens):
        self.tokens = {}  # 'user@realm!name' -> secret
        for t in tokens:
            tokenid, _, secret = t.rpartition("=")
            self.tokens[tokenid] = secret
        self.users = {tid.split("!", 1)[0] for tid in self.tokens}

    def verify(self, api_token):
        """PVE::AccessControl::verify_token, with its messages."""
        m = re.search(r"^(.*)=(.*)$", api_token, re.S)
        if not m:
            raise AuthError("no tokenid specified")
        tokenid, value = m.group(1), m.group(2)
        m = re.search(rf"^(({USER_RE})@({REALM_RE}))!({TOKEN_SUBID_RE})$", tokenid)
        if not m:
            raise AuthError(f"'{tokenid}' is not a valid token ID - not able to split into "
                            "user and token parts")
        user, name = m.group(1), m.group(4)
        if user not in self.users:
            raise AuthError(f"no such user ('{user}')")
        if tokenid not in self.tokens:
            raise AuthError(f"no such token '{name}' for user '{user}'")
        if self.tokens[tokenid] != value:
            raise AuthError("invalid token value!")
        return tokenid


class App:
    def __init__(self, api, tokens, control, unauth_delay=0.0, verbose=False,
                 http_server_version=(6, 0, 5)):
        self.api = api
        # libpve-http-server-perl version answering: (5, 2, 0) put error text in bodies.
        self.message_in_body = tuple(http_server_version) >= (5, 2, 0)
        self.tokens = tokens
        self.control = control
        self.unauth_delay = unauth_delay
        self.verbose = verbose
        self.request_log = []
        self._log_lock = threading.Lock()

    # -- entry point ------------------------------------------------------------

    def handle(self, h):
        method = h.command
        raw_path, _, query = h.path.partition("?")
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length > 0 else b""
        if method not in KNOWN_METHODS:
            return self.reply(h, 501, f"method '{method}' not available")
        path = urllib.parse.unquote(raw_path)
        if path.startswith("/_test/") or path == "/_test":
            return self.control.handle(h, method, path, query, body)
        if not path.startswith("/api2"):
            return self.reply(h, 501, f"no such file '{path}'")
        m = re.search(r"^/api2/+([a-z][a-z0-9]+)(/.*)?$", path)
        if not m:
            return self.reply(h, 501, "no such uri")
        fmt, rel = m.group(1), m.group(2) or "/"
        try:
            authuser = self.authenticate(h.headers)
        except AuthError as e:
            time.sleep(self.unauth_delay)  # pveproxy waits 3 s here
            self.log_request(method, rel, {}, 401, str(e))
            return self.reply(h, 401, str(e))
        ctype = h.headers.get("Content-Type")
        ct = re.split(r"\s*[;,]\s*", ctype)[0] if ctype else None
        if length > 0:
            if method not in ("PUT", "POST"):
                return self.reply(h, 501, f"Unexpected content for method '{method}'")
            if length > MAX_POST:
                return self.reply(h, 501, "for data too large")
            if ct and ct not in ("application/x-www-form-urlencoded", "application/json"):
                return self.reply(h, 506, f"upload 'Content-Type '{ctype}' not implemented")
        if fmt != "json":
            return self.reply(h, 501, f"no formatter for uri {rel}, {fmt}")
        try:
            params = self.extract_params(method, ct, body, query)
        except ValueError as e:
            return self.reply(h, 501, f"malformed JSON string: {e}")
        params.pop("_dc", None)
        status, message, data, errors, total = self.rest_handler(method, rel, authuser, params)
        self.log_request(method, rel, params, status, message)
        return self.reply(h, status, message, data, errors, total, json_body=True)

    def authenticate(self, headers):
        cookie, auth = headers.get("Cookie"), headers.get("Authorization")
        ticket = extract_auth_value(cookie, "PVEAuthCookie") or extract_auth_value(auth, "PVEAuthCookie")
        if not ticket:
            api_token = extract_auth_value(auth, "PVEAPIToken")
            if api_token:
                return self.tokens.verify(api_token)
            raise AuthError("No ticket")
        raise AuthError("permission denied - invalid PVE ticket")  # tickets are never issued here

    @staticmethod
    def extract_params(method, ct, body, query):
        params = {}
        if method in ("PUT", "POST"):
            if ct == "application/json":
                decoded = json.loads(body or b"{}")
                if not isinstance(decoded, dict):
                    raise ValueError("expected a JSON object")
                params = {k: (v if isinstance(v, (list, dict)) or v is None else perl_str(v))
                          for k, v in decoded.items()}
            else:
                params = decode_urlencoded(body)
        params.update(decode_urlencoded(query.encode("latin-1")))
        return params

    def rest_handler(self, method, rel, authuser, params):
        """-> (status, message, data, errors, total)"""
        found = self.api.schema.lookup(method, rel)
        if not found:
            return 501, f"Method '{method} {rel}' not implemented", None, None, None
        template, info, uri_params = found
        try:
            for key in sorted(params):
                if key in uri_params and uri_params[key] != params[key]:
                    raise PveError("Parameter verification failed.\n", 400, {
                        key: "duplicate parameter (already defined in URI) with conflicting values!"})
                uri_params[key] = params[key]
            if not info.get("allowtoken", 1):
                raise PveError(f"Permission check failed (URI '{rel}' not available with API "
                               "token, need proper ticket.)\n", 403)
            proxyto = info.get("proxyto")
            node = uri_params.get(proxyto) if proxyto else None
            if node and node != "localhost" and node not in self.api.cluster.nodes:
                unknown_node(node)
            errors = validate_params(uri_params, info.get("parameters") or {})
            if errors:
                raise PveError("Parameter verification failed.\n", 400, errors)
            handler = self.api.routes.get((method, template))
            if handler is None:
                return (501, f"Method '{method} {rel}' not implemented (not emulated by the "
                        "Proxmox test server)", None, None, None)
            req = Request(method, template, {k: v for k, v in uri_params.items() if v is not None},
                          authuser)
            data = handler(req)
            errors = validate_result(data, info.get("returns"))
            if errors:
                print(f"pve-test-server: result of {method} {template} does not fit the schema: "
                      f"{errors}", file=sys.stderr)
                raise PveError("Result verification failed\n", 500, errors)
            return 200, None, data, None, req.total
        except PveError as e:
            return e.status, e.message, None, e.errors, None

    # -- replies ------------------------------------------------------------------

    def reply(self, h, status, message=None, data=None, errors=None, total=None, json_body=False):
        reason = (message or "").split("\n")[0] or http.HTTPStatus(status).phrase
        if re.search(r"[\r\n]", reason):
            status, reason = 400, "Bad Request"
        body = b""
        if json_body:
            doc = {"data": data}
            if errors:
                doc["errors"] = errors
            if status >= 400 and self.message_in_body:
                doc["message"] = message or http.HTTPStatus(status).phrase
            if total is not None and status == 200:
                doc["total"] = total
            body = json.dumps(doc, separators=(",", ":")).encode()
        elif status >= 400 and status != 401 and self.message_in_body:
            # AnyEvent.pm `error` (9b59e1f); a refused login is answered without it.
            body = (message or "").encode("utf-8")
        h.send_response(status, reason.encode("latin-1", "replace").decode("latin-1"))
        if json_body:
            h.send_header("Content-Type", "application/json;charset=UTF-8")
        h.send_header("Content-Length", str(len(body)))
        h.send_header("Cache-Control", "max-age=0")
        h.send_header("Pragma", "no-cache")
        if status >= 400:
            h.send_header("Connection", "close")
            h.close_connection = True
        h.end_headers()
        h.wfile.write(body)

    def log_request(self, method, path, params, status, message):
        with self._log_lock:
            self.request_log.append({"method": method, "path": path, "params": params,
                                     "status": status, "message": message, "time": time.time()})


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pve-api-daemon/3.0"
    sys_version = ""

    def version_string(self):
        return self.server_version

    def setup(self):
        self.request.settimeout(30)
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()
        super().setup()

    def _dispatch(self):
        self.server.app.handle(self)

    do_GET = do_POST = do_PUT = do_DELETE = _dispatch
    do_HEAD = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _dispatch

    def log_message(self, fmt, *args):
        if self.server.app.verbose:
            sys.stderr.write("pve-test-server: %s %s\n" % (self.address_string(), fmt % args))


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, app, ssl_context):
        self.app = app
        self.ssl_context = ssl_context
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.address_family = family
        super().__init__(address, Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        # The TLS handshake runs in the request thread (Handler.setup), so a
        # client that stalls or rejects the certificate blocks nobody else.
        return self.ssl_context.wrap_socket(sock, server_side=True,
                                            do_handshake_on_connect=False), addr

    def handle_error(self, request, client_address):
        if self.app.verbose:
            super().handle_error(request, client_address)
