"""Checks the daemon against docs/openapi.yaml (used by suite.py):
- every route in the daemon's route table (src/host/handlers.c) is a path and method in
  the OpenAPI file, and every path and method there is a route;
- each operation, exercised against a live daemon, answers only statuses the file lists
  for it, with bodies that follow the documented schema (a small validator for the subset
  of JSON Schema the file uses: type, nullable, enum, required, properties,
  additionalProperties, items, $ref)."""
import json
import os
import re
import socket
import time

import yaml


def routes_in_source(path):
    text = open(path).read()
    table = text[text.index("daemon_routes[] = {"):]
    return {(m.group(1).lower(), m.group(2))
            for m in re.finditer(r'\{HTTP_(\w+), "([^"]+)", h_\w+\}', table)}


def routes_in_spec(spec):
    out = set()
    for path, item in spec["paths"].items():
        for method in item:
            if method in ("get", "post", "put", "patch", "delete"):
                out.add((method, path))
    return out


class Validator:
    def __init__(self, spec):
        self.spec = spec

    def resolve(self, s):
        while "$ref" in s:
            node = self.spec
            for part in s["$ref"].lstrip("#/").split("/"):
                node = node[part]
            s = node
        return s

    def check(self, value, schema, where, errors):
        s = self.resolve(schema)
        if value is None:
            if not s.get("nullable"):
                errors.append("%s: null where %s is expected" % (where, s.get("type")))
            return
        t = s.get("type")
        ok = {"object": lambda v: isinstance(v, dict),
              "array": lambda v: isinstance(v, list),
              "string": lambda v: isinstance(v, str),
              "integer": lambda v: isinstance(v, int) and not isinstance(v, bool) or
              (isinstance(v, float) and v.is_integer()),
              "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
              "boolean": lambda v: isinstance(v, bool)}.get(t, lambda v: True)
        if not ok(value):
            errors.append("%s: %r is not %s" % (where, value, t))
            return
        if "enum" in s and value not in s["enum"]:
            errors.append("%s: %r not in %r" % (where, value, s["enum"]))
        if t == "object":
            props = s.get("properties", {})
            for k in s.get("required", []):
                if k not in value:
                    errors.append("%s: required field '%s' missing" % (where, k))
            for k, v in value.items():
                if k in props:
                    self.check(v, props[k], where + "." + k, errors)
                elif s.get("additionalProperties", True) is False:
                    errors.append("%s: field '%s' is not documented" % (where, k))
        if t == "array" and "items" in s:
            for i, v in enumerate(value):
                self.check(v, s["items"], "%s[%d]" % (where, i), errors)


def request(sock, method, path, body=None, upgrade=False):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(sock)
    data = body.encode() if body else b""
    extra = "Connection: Upgrade\r\nUpgrade: tcp\r\n" if upgrade else "Connection: close\r\n"
    s.sendall(("%s %s HTTP/1.1\r\nHost: lodge\r\n%sContent-Length: %d\r\n\r\n" %
               (method, path, extra, len(data))).encode() + data)
    out = b""
    while True:
        try:
            k = s.recv(65536)
        except socket.timeout:
            break
        if not k or (upgrade and b"\r\n\r\n" in out + k and b" 101 " in (out + k)[:20]):
            out += k
            break
        out += k
    s.close()
    head, _, rest = out.partition(b"\r\n\r\n")
    status = int(head[9:12])
    ctype = ""
    chunked = False
    for line in head.decode(errors="replace").split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.lower() == "content-type":
            ctype = v.strip().split(";")[0]
        if k.lower() == "transfer-encoding" and "chunked" in v.lower():
            chunked = True
    if chunked:
        body, b = b"", rest
        while b:
            size, _, b = b.partition(b"\r\n")
            n = int(size.split(b";")[0], 16)
            if n == 0:
                break
            body += b[:n]
            b = b[n + 2:]
        rest = body
    return status, ctype, rest


def operation(spec, method, path):
    for p, item in spec["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", p) + "$"
        if re.match(pattern, path.split("?")[0]) and method.lower() in item:
            return p, item[method.lower()]
    return None, None


def run(spec_path, d, wasm, handlers_c):
    spec = yaml.safe_load(open(spec_path))
    v = Validator(spec)
    errors = []
    src, doc = routes_in_source(handlers_c), routes_in_spec(spec)
    for m, p in sorted(src - doc):
        errors.append("route %s %s is not in the OpenAPI file" % (m.upper(), p))
    for m, p in sorted(doc - src):
        errors.append("OpenAPI path %s %s is not served" % (m.upper(), p))
    seen = set()

    def exercise(method, path, body=None, upgrade=False):
        status, ctype, raw = request(d.sock, method, path, body, upgrade)
        tpl, op = operation(spec, method, path)
        if op is None:
            # unknown routes: only the generic errors, with the error shape
            if status not in (404, 405):
                errors.append("%s %s: %d for an undocumented route" % (method, path, status))
            v.check(json.loads(raw), {"$ref": "#/components/schemas/Error"},
                    "%s %s" % (method, path), errors)
            return status
        seen.add((method.lower(), tpl))
        resp = op["responses"].get(str(status))
        if resp is None:
            errors.append("%s %s: status %d is not documented" % (method, path, status))
            return status
        resp = v.resolve(resp)
        content = resp.get("content")
        if not content:
            if raw and status != 101:
                errors.append("%s %s: %d has a body but none is documented" % (
                    method, path, status))
            return status
        if ctype not in content:
            errors.append("%s %s: content type %s, documented %s" % (
                method, path, ctype, list(content)))
            return status
        schema = content[ctype]["schema"]
        where = "%s %s %d" % (method, path, status)
        if ctype == "application/json":
            v.check(json.loads(raw), schema, where, errors)
        elif ctype == "application/x-ndjson":
            for i, line in enumerate(raw.decode().splitlines()):
                v.check(json.loads(line), schema, "%s line %d" % (where, i), errors)
        return status

    name = "oapi"
    g = "/v1/guests/" + name
    exercise("GET", "/v1/info")
    exercise("GET", "/v1/guests")
    exercise("POST", "/v1/guests", json.dumps({"name": name, "wasm": wasm, "cpu_quota": 0.5}))
    exercise("POST", "/v1/guests", json.dumps({"name": name, "wasm": wasm}))  # 409
    exercise("POST", "/v1/guests", "{}")  # 400
    exercise("GET", "/v1/guests")
    exercise("GET", g)
    exercise("GET", "/v1/guests/nope")
    exercise("POST", g + "/pause")  # 409: not running
    exercise("POST", g + "/console", upgrade=True)  # 409
    exercise("POST", g + "/start")
    for _ in range(100):
        if b"tick" in d.cli("logs", name).stdout:
            break
        time.sleep(0.1)
    exercise("POST", g + "/start")  # 409
    exercise("GET", g)
    exercise("GET", g + "/logs?tail=2")
    exercise("GET", g + "/logs?tail=x")  # 400
    exercise("POST", g + "/console")  # 400: no upgrade
    exercise("POST", g + "/console", upgrade=True)  # 101
    exercise("POST", g + "/pause")
    exercise("POST", g + "/resume")
    exercise("POST", g + "/resume")  # 409
    snap = os.path.join(d.dir, "oapi.snap")
    exercise("PUT", g + "/snapshot", json.dumps({"path": snap}))
    exercise("PUT", g + "/snapshot", json.dumps({"path": "rel.snap"}))  # 400
    exercise("PUT", g + "/snapshot", json.dumps({"path": snap, "x": 1}))  # 400
    exercise("POST", g + "/migrate", json.dumps({"dest": "x:1"}))  # 400
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    exercise("POST", g + "/migrate", json.dumps({"destination": "127.0.0.1:%d" % port}))  # 502
    exercise("POST", g + "/replicate", json.dumps({"dest": "x:1"}))  # 400
    exercise("POST", g + "/replicate", json.dumps({"destination": "127.0.0.1:%d" % port,
                                                    "interval_ms": 50}))  # 409: a Wasm guest
    exercise("POST", g + "/failover")  # 409: no standby
    exercise("POST", "/v1/guests", json.dumps({"name": "oapi-sb", "incoming": "127.0.0.1:%d" % port,
                                              "standby": True, "failover": "auto"}))
    exercise("POST", "/v1/guests/oapi-sb/failover")  # 409: not started
    exercise("DELETE", "/v1/guests/oapi-sb")
    exercise("POST", "/v1/guests", json.dumps({"name": "oapi-in", "incoming": "127.0.0.1:%d" % port,
                                              "kind": "wasm"}))
    exercise("POST", "/v1/guests/oapi-in/start")
    exercise("GET", "/v1/guests/oapi-in")  # state incoming
    exercise("DELETE", "/v1/guests/oapi-in?force=1")
    exercise("GET", "/metrics")
    exercise("GET", "/v1/events?since=0")
    exercise("GET", "/v1/events?since=x")  # 400
    exercise("DELETE", g)  # 409: running
    exercise("POST", g + "/stop?timeout=5")
    exercise("POST", g + "/stop")  # 304: not running
    exercise("POST", g + "/start")
    exercise("POST", g + "/kill")
    exercise("POST", g + "/kill")  # 409
    exercise("PUT", g + "/snapshot", json.dumps({"path": snap}))  # 409: not running
    exercise("POST", g + "/migrate", json.dumps({"destination": "127.0.0.1:1"}))  # 409
    exercise("DELETE", g + "?force=1")
    exercise("DELETE", g)  # 404
    exercise("PUT", "/v1/guests")  # 405
    exercise("GET", "/nope")  # 404
    for m, p in sorted(doc - seen):
        errors.append("the test did not exercise %s %s" % (m.upper(), p))
    return errors
