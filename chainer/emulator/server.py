"""The HTTP face of the emulator: a stdlib ThreadingHTTPServer speaking Ark's task API.

Routes::

    POST   /api/v3/contents/generations/tasks          create   -> {"id": "cgt-..."}
    GET    /api/v3/contents/generations/tasks          list     -> {"total", "items"}
    GET    /api/v3/contents/generations/tasks/{id}     get      -> task object
    DELETE /api/v3/contents/generations/tasks/{id}     cancel/delete -> {}
    GET    /_emulator/files/{token}/{name}             result files (TTL, Range, HEAD); no auth
    GET    /_emulator/stats                            counters; no auth

Clients may vanish mid-request (a renderer killed with -9): every write tolerates a broken pipe,
state changes are made under the store lock before a response is written, so what a client saw
or did not see never leaves the store inconsistent.

Over 500 lines on purpose: the HTTP plumbing (body caps, bounded threads, timeouts, JSON limits)
and Ark's routes share one request handler; each host's other routes live in profiles/.
"""
from __future__ import annotations

import hmac
import json
import logging
import random
import re
import shutil
import socket
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from .. import models
from .callbacks import CallbackDispatcher
from .config import EmulatorConfig
from .faults import FaultConfig, FaultInjector
from .profiles import Drop as ProfileDrop, HostRequest, make_profile
from .limits import AccountLimits
from .stats import Stats
from .tasks import DEFAULT_CONCURRENCY, STATUSES, Task, TaskStore, request_id
from ..ark.types import is_loopback_host
from .validate import ApiError, validate_create

log = logging.getLogger("chainer.emulator")

API = "/api/v3"
TASKS = API + "/contents/generations/tasks"
FILES = "/_emulator/files/"
STATS = "/_emulator/stats"
LIST_DEFAULT_PAGE_SIZE = 20     # UNCONFIRMED default (one secondary source says 20)


class _Drop(Exception):
    """Close the connection without answering (fault injection)."""


MAX_CONNECTIONS = 64            # connections served at once (one thread each); more wait briefly,
SLOT_WAIT = 2.0                 # then get a 503 instead of a thread
CONNECTION_TIMEOUT = 60.0       # seconds a connection may sit idle or stall mid-request
MAX_JSON_DEPTH = 64             # deeper request JSON is answered 400 (no recursion in the parser)
_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
         b"Content-Length: 89\r\nConnection: close\r\n\r\n"
         b'{"error":{"code":"ServiceUnavailable","message":"too many connections","param":"","type":""}}')


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, handler, emulator: "Emulator"):
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        self.emulator = emulator
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(addr, handler)

    def process_request(self, request, client_address):
        """At most MAX_CONNECTIONS handler threads: a flood of connections cannot exhaust the
        process. Over the limit a connection waits SLOT_WAIT seconds, then gets a 503."""
        if not self._slots.acquire(timeout=SLOT_WAIT):
            try:
                request.settimeout(1.0)
                request.sendall(_BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request, client_address):  # noqa: D401 - quiet about vanished clients
        log.debug("connection error from %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ark-emulator"
    sys_version = ""
    timeout = CONNECTION_TIMEOUT    # socket timeout: a stalled or idle client frees its thread

    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        log.debug("%s - %s", self.address_string(), format % args)

    # ---- dispatch ------------------------------------------------------------------------------
    def do_GET(self):
        self._dispatch("GET")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def _dispatch(self, method: str) -> None:
        emu: Emulator = self.server.emulator
        self.rid = request_id(emu._id_rng, emu.clock())
        self.client_rid = self.headers.get("X-Client-Request-Id")
        emu._stats.inc("requests")
        try:
            body = self._read_body()
            path = urlsplit(self.path).path
            if path == STATS and method in ("GET", "HEAD"):
                self._send_json(200, emu.stats(), head=method == "HEAD")
            elif path.startswith(FILES) and method in ("GET", "HEAD"):
                emu._serve_file(self, path[len(FILES):], head=method == "HEAD")
            elif emu.profile.owns(method, path):
                self._host_api(emu, method, path, body)
            elif path.rstrip("/") == TASKS or path.startswith(TASKS + "/"):
                self._api(emu, method, path.rstrip("/"), body)
            elif path.startswith(API):
                raise ApiError(404, "NotFound", f"The requested path {path} does not exist", "")
            else:
                raise ApiError(404, "NotFound", f"The requested path {path} does not exist", "")
        except _Drop:
            self.close_connection = True
        except ApiError as exc:
            self._send_error(exc)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, socket.timeout):
            emu._stats.inc("client_disconnects")
            self.close_connection = True
        except Exception as exc:  # noqa: BLE001 - never kill the server thread on a bug
            log.exception("emulator request failed")
            try:
                self._send_error(ApiError(500, "InternalServiceError", f"internal error: {type(exc).__name__}"))
            except OSError:
                self.close_connection = True

    def _read_body(self) -> bytes:
        """The request body, at most REQUEST_MAX_BYTES, chunked or not. A body over the cap or
        framed wrongly is answered 400 and the connection closed (what is left unread of it
        cannot be told from the next request)."""
        cap = models.REQUEST_MAX_BYTES
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(1026)
                if not line:
                    raise ConnectionResetError("client went away while sending the body")
                size_text = line.split(b";", 1)[0].strip()
                try:
                    size = int(size_text, 16)
                except ValueError:
                    size = -1
                if size < 0 or len(size_text) > 16 or not line.endswith(b"\n"):
                    self.close_connection = True
                    raise ApiError(400, "InvalidParameter", "The request body has a malformed "
                                   "chunk size", "")
                if size == 0:
                    while self.rfile.readline(1026) not in (b"\r\n", b"\n", b""):
                        pass                       # trailers: read and ignored
                    break
                total += size
                if total > cap:
                    self.close_connection = True
                    raise ApiError(400, "InvalidParameter", "The request body exceeds the "
                                   f"{cap // 1048576} MB limit", "")
                data = self.rfile.read(size)
                if len(data) < size:
                    raise ConnectionResetError("client went away while sending the body")
                chunks.append(data)
                self.rfile.readline(3)
            return b"".join(chunks)
        if not length:
            return b""
        if not length.strip().isdigit():
            self.close_connection = True
            raise ApiError(400, "InvalidParameter", "The Content-Length header is not a number", "")
        n = int(length)
        if n > cap:
            self.close_connection = True
            raise ApiError(400, "InvalidParameter", f"The request body exceeds the "
                           f"{cap // 1048576} MB limit", "")
        data = self.rfile.read(n)
        if len(data) < n:
            raise ConnectionResetError("client went away while sending the body")
        return data

    def _api(self, emu: "Emulator", method: str, path: str, raw: bytes) -> None:
        tail = path[len(TASKS):].strip("/")
        if tail and "/" in tail:
            raise ApiError(404, "NotFound", f"The requested path {path} does not exist", "")
        endpoint = {("POST", False): "create", ("GET", False): "list", ("GET", True): "get",
                    ("DELETE", True): "delete"}.get((method, bool(tail)))
        if endpoint is None:
            raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed on {path}", "")
        emu._stats.inc({"create": "creates", "list": "lists", "get": "gets", "delete": "deletes"}[endpoint])
        try:
            self._auth(emu)
        except ApiError:
            emu._stats.inc("unauthorized")
            if endpoint == "create":
                emu._stats.rejected("AuthenticationError")
            raise
        emu._call_faults(endpoint)
        if endpoint == "create":
            self._create(emu, raw)
        elif endpoint == "get":
            self._send_json(200, emu._store.body(tail))
        elif endpoint == "delete":
            emu._store.delete(tail)
            self._send_json(200, {})
        else:
            self._send_json(200, emu._store.list(**_list_params(urlsplit(self.path).query)))

    def _host_api(self, emu: "Emulator", method: str, path: str, raw: bytes) -> None:
        """Hand the request to the wire-shape profile (chainer/emulator/profiles/)."""
        req = HostRequest(method, path, urlsplit(self.path).query, self.headers, raw, self.rid)
        try:
            reply = emu.profile.handle(emu, req)
        except ProfileDrop:
            raise _Drop() from None
        self._send_json(reply.status, reply.body, headers=reply.headers, head=method == "HEAD")

    def _create(self, emu: "Emulator", raw: bytes) -> None:
        try:
            rule = emu._fire("create_429")
            if rule is not None:
                raise ApiError(rule.status or 429, rule.code or "RateLimitExceeded.EndpointRPMExceeded",
                               rule.message or "The request has exceeded the rate limit (RPM) of the endpoint; "
                                               "please try again later", "")
            body = parse_json_body(raw)
            req = validate_create(body, fetch_local=emu._fetch_local, fetch_local_path=emu._fetch_local_path,
                                  lookup_draft=emu._store.lookup_draft)
        except ApiError as exc:
            emu._stats.rejected(exc.code)
            raise
        task = emu._store.create(req)
        if emu._fire("drop_after_create") is not None:
            raise _Drop()   # the task exists, the client never hears of it
        out = {"id": task.id}
        if req.safety_identifier is not None:
            out["safety_identifier"] = req.safety_identifier
        self._send_json(200, out)

    def _auth(self, emu: "Emulator") -> None:
        header = self.headers.get("Authorization") or ""
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "AuthenticationError",
                           "The API key or AK/SK in the request is missing or invalid", "")
        key = emu.config.api_key
        if key is not None and not hmac.compare_digest(token.encode(), key.encode()):
            raise ApiError(401, "AuthenticationError",
                           "The API key in the request is missing or invalid", "")

    # ---- responses -----------------------------------------------------------------------------
    def _common_headers(self) -> None:
        if self.client_rid:
            self.send_header("X-Client-Request-Id", self.client_rid)
        self.send_header("X-Request-Id", self.rid)

    def _send_json(self, status: int, obj, headers: dict | None = None, head: bool = False) -> None:
        data = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self._common_headers()
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def _send_error(self, exc: ApiError) -> None:
        self._send_json(exc.status, exc.body(self.rid), headers=exc.headers)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_BRACKETS = re.compile(r"[\[\]{}]")


def _depth(raw: str) -> int:
    """Deepest bracket nesting of a JSON text (strings skipped); no recursion, C-speed scans."""
    depth = deepest = 0
    for ch in _BRACKETS.findall(_JSON_STRING.sub("", raw)):
        if ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
        else:
            depth -= 1
    return deepest


def parse_json_body(raw: bytes):
    """A request body as JSON, or ApiError 400: not UTF-8, not JSON, NaN/Infinity, nested more
    than MAX_JSON_DEPTH deep (checked before parsing: no RecursionError, no 500)."""
    if not raw:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "InvalidParameter", f"The request body is not valid UTF-8: {exc}", "") from None
    if _depth(text) > MAX_JSON_DEPTH:
        raise ApiError(400, "InvalidParameter", f"The request body is nested more than "
                       f"{MAX_JSON_DEPTH} levels deep", "")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "InvalidParameter", f"The request body is not valid JSON: {exc}", "") from None


def _int_param(q: dict, key: str, default: int) -> int:
    vals = q.get(key)
    if not vals or vals[-1] == "":
        return default
    raw = vals[-1]
    if not re.fullmatch(r"-?\d+", raw):
        raise ApiError(400, "InvalidParameter",
                       f"The parameter `{key}` specified in the request is not valid: expected an integer", key)
    v = int(raw)
    if not 1 <= v <= 500:
        raise ApiError(400, "InvalidParameter",
                       f"The parameter `{key}` specified in the request is not valid: {v} is out of range [1, 500]", key)
    return v


def _list_params(query: str) -> dict:
    q = parse_qs(query, keep_blank_values=True)
    status = (q.get("filter.status") or [None])[-1] or None
    if status is not None and status not in STATUSES:
        raise ApiError(400, "InvalidParameter", f"The parameter `filter.status` specified in the request is not "
                       f"valid: {status!r} is not one of {', '.join(STATUSES)}", "filter.status")
    tier = (q.get("filter.service_tier") or [None])[-1] or None
    if tier is not None and tier not in models.SERVICE_TIERS:
        raise ApiError(400, "InvalidParameter", f"The parameter `filter.service_tier` specified in the request is "
                       f"not valid: {tier!r} is not one of default, flex", "filter.service_tier")
    return {
        "status": status,
        "task_ids": [t for t in q.get("filter.task_ids", []) if t],
        "model": (q.get("filter.model") or [None])[-1] or None,
        "service_tier": tier,
        "page_num": _int_param(q, "page_num", 1),
        "page_size": _int_param(q, "page_size", LIST_DEFAULT_PAGE_SIZE),
    }


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class Emulator:
    """An Ark-compatible server on loopback, in-process. Use as a context manager."""

    def __init__(self, config: EmulatorConfig | None = None, **overrides):
        if config is None:
            config = EmulatorConfig(**overrides)
        elif overrides:
            import dataclasses

            config = dataclasses.replace(config, **overrides)
        self.config = config
        self.profile = make_profile(config.api)     # which host's wire shape is served
        self.clock = config.clock or time.time
        rng = config.rng or random.Random()
        self._rng = rng
        self._id_rng = random.Random(rng.getrandbits(64))   # request ids: never shift the task rng
        self._faults = FaultInjector(FaultConfig.load(config.faults))
        self._stats = Stats()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._tmpdir: str | None = None
        self._callbacks: CallbackDispatcher | None = None
        self._store: TaskStore | None = None
        self._stopped = threading.Event()

    # ---- lifecycle -------------------------------------------------------------------------------
    def start(self) -> "Emulator":
        cfg = self.config
        if cfg.data_dir is None:
            self._tmpdir = tempfile.mkdtemp(prefix="chainer-emulator-")
            data_dir = Path(self._tmpdir)
        else:
            data_dir = Path(cfg.data_dir)
            data_dir.mkdir(parents=True, exist_ok=True)
        self._server = _Server((cfg.host, cfg.port), _Handler, self)
        self._callbacks = CallbackDispatcher(timeout=cfg.callback_timeout, retries=cfg.callback_retries,
                                             retry_delay=cfg.callback_retry_delay, on_event=self._stats.inc)
        self._store = TaskStore(
            clock=self.clock, rng=self._rng, data_dir=data_dir, latency=cfg.latency,
            queue_delay=cfg.queue_delay, concurrency=cfg.concurrency, render_workers=cfg.render_workers,
            url_ttl=self.profile.url_ttl(cfg.url_ttl), drift=cfg.drift, preset=cfg.x264_preset, tick=cfg.tick,
            faults=self._faults, stats=self._stats, notify=self._notify, file_url=self._file_url,
            limits=AccountLimits.from_config(
                concurrency=cfg.concurrency or DEFAULT_CONCURRENCY, rpm=cfg.rpm,
                queued_cap=cfg.queued_cap, rules=self._faults.config.rules, clock=self.clock,
                on_refuse=self._stats.fault))
        self._store.start()
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        daemon=True, name="emulator-http")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._store is not None:
            self._store.stop()
        if self._callbacks is not None:
            self._callbacks.close()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Block until :meth:`stop` is called (for the CLI's foreground mode)."""
        return self._stopped.wait(timeout)

    # ---- public facts ------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._server is not None, "emulator not started"
        return self._server.server_address[1]

    @property
    def host(self) -> str:
        h = self.config.host
        if h in ("0.0.0.0", "", "::"):
            return "127.0.0.1"
        return f"[{h}]" if ":" in h else h

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.root_url + self.profile.base_path

    def stats(self) -> dict:
        by_status, active = self._store.counts() if self._store else ({s: 0 for s in STATUSES}, 0)
        out = self._stats.snapshot(by_status, active)
        out["faults_injected"] = self._faults.fired()
        return out

    def task(self, task_id: str) -> dict | None:
        """The task body as GET would return it, or None (no HTTP, no counters; for tests)."""
        t = self._store.task_snapshot(task_id)
        return None if t is None else t.body()

    # ---- internals -----------------------------------------------------------------------------------
    def _fire(self, name: str, endpoint: str | None = None):
        rule = self._faults.fire(name, endpoint)
        if rule is not None:
            self._stats.fault(name)
        return rule

    def _call_faults(self, endpoint: str) -> None:
        if self._fire("drop_connection", endpoint) is not None:
            raise _Drop()
        rule = self._fire("server_error", endpoint)
        if rule is not None:
            raise ApiError(rule.status or 500, rule.code or "InternalServiceError",
                           rule.message or "The service encountered an unexpected internal error", "")

    def _notify(self, task: Task) -> None:
        url = task.req.callback_url
        if url and self._callbacks is not None:
            with self._store._cond:
                body = task.body()
            self._callbacks.send(task.id, url, body)

    def _file_url(self, token: str, name: str) -> str:
        return (f"{self.root_url}{FILES}{token}/{name}?X-Tos-Algorithm=EMULATOR"
                f"&X-Tos-Date={int(self.clock())}&X-Tos-Expires={int(self.config.url_ttl)}")

    def _local_file(self, url: str):
        parts = urlsplit(url)
        if not is_loopback_host(parts.hostname) or parts.port != self.port or not parts.path.startswith(FILES):
            return None
        token = parts.path[len(FILES):].split("/", 1)[0]
        f = self._store.file(token)
        if f is None or self.clock() >= f.expires_at or not f.path.exists():
            return None
        return f

    def _fetch_local(self, url: str) -> bytes | None:
        f = self._local_file(url)
        return f.path.read_bytes() if f is not None else None

    def _fetch_local_path(self, url: str) -> str | None:
        f = self._local_file(url)
        return str(f.path) if f is not None else None

    def _serve_file(self, h: _Handler, rest: str, head: bool) -> None:
        token = rest.split("/", 1)[0]
        f = self._store.file(token)
        self._stats.inc("downloads")
        if f is None or not f.path.exists():
            return self._xml_error(h, 404, "NoSuchKey", "The specified key does not exist.")
        if self.clock() >= f.expires_at or self._fire("expired_url", "download") is not None:
            return self._xml_error(h, 403, "AccessDenied", "Request has expired")
        if self._store.video_not_ready(token):
            return self._xml_error(h, 400, "video_not_ready", "The video is not ready yet")
        if self._fire("drop_connection", "download") is not None:
            raise _Drop()
        rule = self._fire("server_error", "download")
        if rule is not None:
            return self._xml_error(h, rule.status or 500, "InternalError", "We encountered an internal error.")
        size = f.path.stat().st_size
        start, end = 0, size - 1
        status = 200
        rng_header = h.headers.get("Range")
        if rng_header:
            m = _RANGE.match(rng_header.strip())
            if not m or (m.group(1) == "" and m.group(2) == ""):
                return self._range_error(h, size)
            if m.group(1) == "":
                n = int(m.group(2))
                if n == 0:
                    return self._range_error(h, size)
                start = max(0, size - n)
            else:
                start = int(m.group(1))
                if m.group(2):
                    end = min(int(m.group(2)), size - 1)
                if start >= size or end < start:
                    return self._range_error(h, size)
            status = 206
        length = end - start + 1
        truncate = slow = None
        if not head:
            truncate = self._fire("truncated_download", "download")
            slow = self._fire("slow_download", "download")
        h.send_response(status)
        h.send_header("Content-Type", f.content_type)
        h.send_header("Content-Length", str(length))
        h.send_header("Accept-Ranges", "bytes")
        h.send_header("ETag", f'"{token[:16]}-{size}"')
        if status == 206:
            h.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        h._common_headers()
        if truncate is not None:
            h.send_header("Connection", "close")
        h.end_headers()
        if head:
            return
        to_send = length if truncate is None else int(length * truncate.fraction)
        rate = slow.bytes_per_second if slow is not None else None
        sent = 0
        t0 = time.monotonic()
        with f.path.open("rb") as fh:
            fh.seek(start)
            while sent < to_send:
                chunk = fh.read(min(64 * 1024, to_send - sent))
                if not chunk:
                    break
                h.wfile.write(chunk)
                sent += len(chunk)
                self._stats.inc("bytes_served", len(chunk))
                if rate:
                    ahead = sent / rate - (time.monotonic() - t0)
                    if ahead > 0 and self._stopped.wait(ahead):
                        break
        if sent < length:
            h.wfile.flush()
            try:
                h.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            h.close_connection = True

    def _range_error(self, h: _Handler, size: int) -> None:
        self._xml_error(h, 416, "InvalidRange", "The requested range is not satisfiable",
                        {"Content-Range": f"bytes */{size}"})

    def _xml_error(self, h: _Handler, status: int, code: str, message: str, headers: dict | None = None) -> None:
        # Result URLs are object-storage URLs (TOS), whose errors are XML, not Ark JSON.
        data = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                f"<Message>{message}</Message><RequestId>{h.rid}</RequestId></Error>").encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/xml")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h._common_headers()
        h.end_headers()
        h.wfile.write(data)
