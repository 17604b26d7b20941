"""A hostile Ark-shaped provider of our own, on loopback (issue 10).

:class:`HostileProvider` is an HTTP proxy in front of the real in-process emulator
(:class:`chainer.emulator.Emulator`). Every request is forwarded unless a scripted
:class:`Rule` says otherwise; a rule can lie, repeat, truncate, echo the caller's key and send
garbage, for one endpoint, on chosen calls. The emulator stays the ground truth of what was paid:
``tasks_created`` counts every task it really made, whatever the proxy told the client.

Endpoints: ``create`` (POST tasks), ``get`` (GET tasks/ID), ``list`` (GET tasks), ``delete``,
``file`` (result downloads: the proxy rewrites result URLs to itself, so downloads pass through
it too). Calls are numbered per endpoint from 1.

Actions (``Rule(endpoint, action, on=(n, ...) | every=True, **args)``):

- ``status``: answer ``args["status"]`` (default 500) with an Ark error body whose message is
  ``args["message"]`` (``{key}``, ``{key19}``, ``{key_tail}`` are replaced by the caller's key, its
  first 19 characters, and all but its first 3), WITHOUT forwarding (e.g. a transient 404 on get).
- ``after_status``: forward (the task IS created), then answer as ``status``.
- ``after_drop`` / ``drop``: forward (or not), then close the connection without an answer.
- ``after_garbage``: forward, then answer 200 with a body that is not JSON.
- ``mutate``: forward, then transform the decoded answer with the named mutator(s) in
  ``args["mutators"]`` (see :data:`MUTATORS`); NaN/Infinity are written as bare JSON tokens.
- ``huge``: answer 200 with ``args["size"]`` bytes (default 16 MiB) of JSON-looking filler;
  ``endless``: a chunked body that never ends (until the client hangs up).
- ``redirect`` (file): 302 to ``args["location"]`` (another scheme, a remote host...).
- ``file_endless`` (file): 200 with no length, bytes until the client hangs up.
"""
from __future__ import annotations

import copy
import http.client
import json
import random
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import urlsplit

from chainer.emulator import Emulator, EmulatorConfig

API = "/api/v3"
TASKS = API + "/contents/generations/tasks"
FILES = "/_emulator/files/"
ENDPOINTS = ("create", "get", "list", "delete", "file")


@dataclass
class Rule:
    endpoint: str
    action: str
    on: tuple[int, ...] = ()         # call numbers of this endpoint (1-based) it fires on
    every: bool = False              # fires on every call
    args: dict[str, Any] = field(default_factory=dict)

    def __init__(self, endpoint: str, action: str, *, on=(), every: bool = False, **args):
        assert endpoint in ENDPOINTS, endpoint
        self.endpoint, self.action = endpoint, action
        self.on, self.every, self.args = tuple(on), every, args

    def fires(self, n: int) -> bool:
        return self.every or n in self.on

    def __repr__(self) -> str:
        extra = f", {self.args}" if self.args else ""
        return f"Rule({self.endpoint}, {self.action}, on={self.on or 'every'}{extra})"


# ---- mutators: (answer, ctx) -> answer ---------------------------------------------------------

def _items(obj):
    return obj.get("items") if isinstance(obj, dict) and isinstance(obj.get("items"), list) else []


def _tasks_of(obj):
    """The task records of an answer: the object itself (get) or its list items."""
    if isinstance(obj, dict) and "items" in obj:
        return _items(obj)
    return [obj] if isinstance(obj, dict) else []


def m_id_traversal(obj, ctx):
    for t in _tasks_of(obj):
        t["id"] = "../../../escaped-" + str(t.get("id", "x"))[-6:]
    return obj


def _set_fields(obj, **fields):
    for t in _tasks_of(obj):
        t.update(fields)
    return obj


def m_status_unknown(obj, ctx):
    return _set_fields(obj, status="paused")


def m_created_inf(obj, ctx):
    return _set_fields(obj, created_at=float("inf"))


def m_seed_nan(obj, ctx):
    return _set_fields(obj, seed=float("nan"))


def m_seed_str(obj, ctx):
    return _set_fields(obj, seed="forty-two")


def m_int_huge(obj, ctx):
    return _set_fields(obj, duration=10 ** 30, frames=10 ** 30)


def m_bool_frames(obj, ctx):
    return _set_fields(obj, frames=True)


def m_content_list(obj, ctx):
    for t in _tasks_of(obj):
        if t.get("status") == "succeeded":
            t["content"] = ["not", "an", "object"]
    return obj


def _set_result_url(obj, key: str, url: str):
    for t in _tasks_of(obj):
        c = t.get("content")
        if isinstance(c, dict) and c.get(key):
            c[key] = url
    return obj


def m_url_ftp(obj, ctx):
    return _set_result_url(obj, "video_url", "ftp://127.0.0.1/clip.mp4")


def m_url_remote_http(obj, ctx):
    return _set_result_url(obj, "video_url", "http://203.0.113.7/clip.mp4")  # TEST-NET-3


def m_url_file(obj, ctx):
    return _set_result_url(obj, "last_frame_url", "file:///etc/passwd")


def m_failed_ctrl(obj, ctx):
    """The task 'failed' with an error message full of terminal escapes and the key."""
    for t in _tasks_of(obj):
        t["status"] = "failed"
        t.pop("content", None)
        t["error"] = {"code": "Bad\x1b[31mCode",
                      "message": f"\x1b[2J\x1b[Hboom\r\nfake line; key {ctx['key']} / {ctx['key19']}"}
    return obj


def m_dup_list(obj, ctx):
    items = _items(obj)
    if items:
        items.append(copy.deepcopy(items[0]))
        obj["total"] = len(items)
    return obj


def m_list_truncated(obj, ctx):
    """A page that stops before ``total`` (the newest items missing), total unchanged."""
    items = _items(obj)
    if items:
        obj["total"] = max(obj.get("total") or 0, len(items)) + 5
        del items[: max(1, len(items) // 2)]
    return obj


def m_list_lag(obj, ctx):
    """The newest task is not listed yet (eventual consistency), total adjusted to match."""
    items = _items(obj)
    if items:
        newest = max(items, key=lambda t: (t.get("created_at") or 0))
        items.remove(newest)
        obj["total"] = len(items)
    return obj


def m_no_markers(obj, ctx):
    for t in _tasks_of(obj):
        t.pop("safety_identifier", None)
    return obj


def m_clock_skew(obj, ctx):
    for t in _tasks_of(obj):
        for k in ("created_at", "updated_at"):
            if isinstance(t.get(k), int):
                t[k] -= 3600
    return obj


def m_foreign_task(obj, ctx):
    """Insert a task of another client (other prompt/params, no marker) created just now."""
    items = obj.get("items") if isinstance(obj, dict) else None
    if isinstance(items, list):
        base = copy.deepcopy(items[0]) if items else {"model": ctx.get("model", "m")}
        base.update(id=f"cgt-foreign-{ctx['n']:04d}", status="succeeded",
                    created_at=int(ctx["now"]), updated_at=int(ctx["now"]), seed=99999,
                    resolution="1080p", ratio="9:16", duration=5)
        base.pop("safety_identifier", None)
        base["content"] = {"video_url": ctx["root"] + FILES + "nope/foreign.mp4"}
        items.insert(0, base)
        obj["total"] = (obj.get("total") or 0) + 1
    return obj


def m_create_bad_id(obj, ctx):
    if isinstance(obj, dict):
        obj["id"] = "../../outside"
    return obj


def m_create_wrong_type(obj, ctx):
    if isinstance(obj, dict):
        obj["id"] = {"nested": [1, 2, 3]}
    return obj


MUTATORS: dict[str, Callable] = {name[2:]: fn for name, fn in globals().items()
                                 if name.startswith("m_") and callable(fn)}


# ---- the proxy ---------------------------------------------------------------------------------

class _Drop(Exception):
    pass


class HostileProvider:
    """``with HostileProvider(rules) as hp:`` -> ``hp.base_url`` (give it to ``--base-url``),
    ``hp.created()`` (tasks the emulator really made), ``hp.fired`` (rules that fired, in order),
    ``hp.requests`` (count per endpoint)."""

    def __init__(self, rules: list[Rule] = (), *, emulator: Emulator | None = None,
                 emulator_config: EmulatorConfig | None = None, seed: int = 0):
        self.rules = list(rules)
        self._own_emu = emulator is None
        self.emu = emulator or Emulator(emulator_config or EmulatorConfig(
            latency=0.1, x264_preset="ultrafast"))
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.counts = {e: 0 for e in ENDPOINTS}
        self.fired: list[tuple[str, int, str]] = []
        self.auth_seen: list[str] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle
    def start(self) -> "HostileProvider":
        if self._own_emu:
            self.emu.start()
        hp = self

        class Handler(_Handler):
            provider = hp

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._own_emu:
            self.emu.stop()

    def __enter__(self) -> "HostileProvider":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        return self.root_url + API

    def created(self) -> int:
        return self.emu.stats()["tasks_created"]

    def count(self, endpoint: str) -> int:
        with self.lock:
            return self.counts[endpoint]

    def _next(self, endpoint: str) -> tuple[int, Rule | None]:
        with self.lock:
            self.counts[endpoint] += 1
            n = self.counts[endpoint]
            for rule in self.rules:
                if rule.endpoint == endpoint and rule.fires(n):
                    self.fired.append((endpoint, n, rule.action))
                    return n, rule
        return n, None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    provider: HostileProvider
    timeout = 30

    def log_message(self, *args):   # quiet
        pass

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_DELETE(self):
        self._handle("DELETE")

    def do_HEAD(self):
        self._handle("HEAD")

    # --------------------------------------------------------------------------------------
    def _endpoint(self, method: str, path: str) -> str | None:
        if path.startswith(FILES):
            return "file"
        if path.rstrip("/") == TASKS:
            return {"POST": "create", "GET": "list"}.get(method)
        if path.startswith(TASKS + "/"):
            return {"GET": "get", "DELETE": "delete"}.get(method)
        return None

    def _ctx(self, n: int) -> dict:
        hp = self.provider
        auth = self.headers.get("Authorization") or ""
        key = auth.partition(" ")[2].strip()
        return {"key": key, "key19": key[:19], "key_tail": key[3:], "n": n, "root": hp.root_url,
                "now": hp.emu.clock(), "rng": hp.rng}

    def _handle(self, method: str) -> None:
        hp = self.provider
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        endpoint = self._endpoint(method, path)
        if endpoint is None:
            return self._forward(method, body)
        auth = self.headers.get("Authorization")
        if auth:
            with hp.lock:
                hp.auth_seen.append(auth)
        n, rule = hp._next(endpoint)
        ctx = self._ctx(n)
        try:
            if rule is None:
                return self._forward(method, body)
            return self._act(rule, ctx, method, body)
        except _Drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _act(self, rule: Rule, ctx: dict, method: str, body: bytes) -> None:
        a, args = rule.action, rule.args
        if a == "status":
            return self._error(args.get("status", 500), args.get("message", "hostile error"), ctx)
        if a == "drop":
            raise _Drop()
        if a in ("after_status", "after_drop", "after_garbage"):
            self._upstream(method, body)
            if a == "after_drop":
                raise _Drop()
            if a == "after_garbage":
                return self._send(200, b"<html>\x00\xff not json", "text/html")
            return self._error(args.get("status", 500), args.get("message", "hostile error"), ctx)
        if a == "mutate":
            status, headers, data = self._upstream(method, body)
            try:
                obj = json.loads(data)
            except ValueError:
                return self._send(status, data, headers.get("Content-Type", "application/json"))
            if status == 200:
                for name in args["mutators"]:
                    obj = MUTATORS[name](obj, ctx)
            out = json.dumps(obj, allow_nan=True).encode()
            return self._send(status, out, "application/json")
        if a == "huge":
            size = int(args.get("size", 16 << 20))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            chunk = b'{"pad":"' + b"A" * 65000
            sent = 0
            while sent < size:
                piece = chunk[: min(len(chunk), size - sent)]
                self.wfile.write(piece)
                sent += len(piece)
            return
        if a in ("endless", "file_endless"):
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream" if a == "file_endless"
                             else "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            block = b"\x00" * 65536
            frame = f"{len(block):x}\r\n".encode() + block + b"\r\n"
            for _ in range(1 << 16):            # 4 GiB at most: the client must hang up first
                self.wfile.write(frame)
            return
        if a == "redirect":
            self.send_response(args.get("status", 302))
            self.send_header("Location", args["location"])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        raise AssertionError(f"unknown action {a}")

    # --------------------------------------------------------------------------------------
    def _emu_root(self) -> str:
        return self.provider.emu.root_url

    def _upstream(self, method: str, body: bytes) -> tuple[int, dict, bytes]:
        """Forward to the emulator; request and answer have the proxy's and the emulator's roots
        swapped, so result URLs point at the proxy and first-frame URLs at the emulator."""
        hp = self.provider
        body = body.replace(hp.root_url.encode(), self._emu_root().encode())
        u = urlsplit(self._emu_root())
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("host", "content-length", "connection")}
        if body:
            headers["Content-Length"] = str(len(body))
        try:
            conn.request(method, self.path, body=body or None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            rh = {k: v for k, v in resp.getheaders()}
            status = resp.status
        finally:
            conn.close()
        if "json" in rh.get("Content-Type", ""):
            data = data.replace(self._emu_root().encode(), hp.root_url.encode())
        return status, rh, data

    def _forward(self, method: str, body: bytes) -> None:
        status, headers, data = self._upstream(method, body)
        keep = {k: v for k, v in headers.items()
                if k.lower() in ("content-type", "content-range", "accept-ranges", "etag",
                                 "x-request-id", "x-client-request-id")}
        self.send_response(status)
        for k, v in keep.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(data)

    def _send(self, status: int, data: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, ctx: dict) -> None:
        msg = message.format(**{k: v for k, v in ctx.items() if isinstance(v, str)})
        code = {404: "ResourceNotFound", 429: "RateLimitExceeded"}.get(status, "InternalServiceError")
        body = json.dumps({"error": {"code": code, "message": msg, "param": "", "type": ""}})
        self._send(status, body.encode(), "application/json")
