"""The only code speaking HTTP to Ark (or an Ark-compatible server such as the emulator).

One request per call, no automatic retries: a create must never be re-POSTed blindly (a retried
create after a timeout can leave a duplicate paid task), so retrying is the caller's decision and
every failure says whether the request may have reached the server
(:attr:`ArkConnectionError.sent`).

The network is injected through one seam: ``transport`` (an ``httpx.BaseTransport``, e.g.
``httpx.MockTransport`` in tests). Result files are downloaded with a *separate* client that never
sends the ``Authorization`` header (signed result URLs live on another host).

Over 500 lines on purpose: one HTTP client with the bounds every call shares (deadlines, body caps,
redirect and scheme rules, redaction); splitting it would spread those rules over several files.
"""
from __future__ import annotations

import json
import os
import secrets as _secrets
import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import quote, urljoin, urlsplit

import httpx

from ..errors import InputError
from .errors import (ArkConnectionError, ArkError, ArkResponseError,
                     ArkTimeoutError, ArkURLExpiredError, DownloadError, clip, http_error, redact,
                     redact_json)
from .types import Task, TaskFormatError, describe_id, result_url_problem, valid_task_id

DEFAULT_BASE_URL = "https://ark.cn-beijing.volces.com/api/v3"
TASKS_PATH = "/contents/generations/tasks"
USER_AGENT = "chainer/0.1 (+httpx)"

MAX_JSON_BYTES = 4 << 20          # largest API answer read (a page of 100 tasks is ~100 KB)
MAX_DOWNLOAD_BYTES = 1 << 30      # default cap on one result file when the caller gives none
MAX_REDIRECTS = 5


class ArkTaskFormatError(ArkResponseError):
    """A task record (or list) that is not what the API documents: wrong types, an unknown
    status, an unsafe id or URL. Not retried: the same record would come back."""

    retryable = False


class DownloadTooLarge(DownloadError):
    """A result file bigger than its cap (a hostile or broken server streaming without end)."""

    retryable = False


class UnsafeURLError(DownloadError):
    """A result URL (or a redirect) chainer refuses to fetch: not https, another scheme..."""

    retryable = False


def check_base_url(url: str) -> str:
    """``url`` if it is a usable API base URL; :class:`InputError` otherwise. A key in the
    userinfo or query is refused (it would be journalled and printed as the provider's address);
    the message never repeats the URL's secret parts."""
    try:
        u = urlsplit(url)
        host = u.hostname
        u.port
    except ValueError:
        raise InputError("--base-url: not a valid URL (e.g. https://ark.cn-beijing.volces.com/api/v3)") from None
    if u.username is not None or u.password is not None or "@" in u.netloc:
        raise InputError("--base-url: must not contain credentials (user:password@host); "
                         "give the key in ARK_API_KEY")
    if u.query or u.fragment:
        raise InputError("--base-url: must not have a query string or fragment (a key does not "
                         "belong in a URL; give it in ARK_API_KEY)")
    if u.scheme not in ("http", "https") or not host:
        raise InputError(f"--base-url: scheme must be https (or http for a local emulator), "
                         f"with a host (got {u.scheme or 'no scheme'!r})")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise InputError("--base-url: holds whitespace or control characters")
    return url


class _Deadline:
    """An overall deadline for one request or download (httpx timeouts are per read: a server
    dripping one byte per read would hold a request forever). The connection's socket is caught
    through httpcore's ``trace`` extension and shut down when time is up; the caller also checks
    :meth:`expired` between chunks. Connections are not kept alive, so every request opens its
    own socket and is covered."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.fired = False
        self._socks: list = []
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def trace(self, name: str, info: dict) -> None:
        if name not in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            return
        stream = info.get("return_value")
        try:
            sock = stream.get_extra_info("socket") if stream is not None else None
        except Exception:  # noqa: BLE001 - a transport without sockets (tests)
            sock = None
        if sock is None:
            return
        with self._lock:
            self._socks.append(sock)
            fired = self.fired
        if fired:
            self._shut(sock)

    @staticmethod
    def _shut(sock) -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            socks = list(self._socks)
        for sock in socks:
            self._shut(sock)

    def expired(self) -> bool:
        return self.fired or time.monotonic() >= self.at

    def __enter__(self) -> "_Deadline":
        self._timer = threading.Timer(max(0.0, self.at - time.monotonic()), self._fire)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._timer is not None:
            self._timer.cancel()


def _request_id() -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + "".join(
        _secrets.choice(alphabet) for _ in range(20))


class ArkClient:
    """Thin, thread-safe client for the Ark content-generation task API.

    >>> client = ArkClient("http://127.0.0.1:8000/api/v3", "key")   # doctest: +SKIP
    >>> task_id = client.create(body); task = client.get(task_id)   # doctest: +SKIP
    """

    def __init__(self, base_url: str | None, api_key: str, *,
                 transport: httpx.BaseTransport | None = None, timeout: float = 60.0,
                 connect_timeout: float = 10.0, download_timeout: float = 60.0,
                 request_deadline: float | None = None, download_deadline: float = 900.0,
                 max_json_bytes: int = MAX_JSON_BYTES, max_download_bytes: int = MAX_DOWNLOAD_BYTES):
        if not api_key:
            raise ValueError("an API key is required")
        self.base_url = check_base_url((base_url or DEFAULT_BASE_URL).rstrip("/"))
        self._key = api_key
        self._secrets = (api_key,)
        self.request_deadline = request_deadline or timeout * 1.5
        self.download_deadline = download_deadline
        self.max_json_bytes = max_json_bytes
        self.max_download_bytes = max_download_bytes
        # no keep-alive: each request gets its own socket, which _Deadline can shut down
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=0)
        self._http = httpx.Client(
            base_url=self.base_url, transport=transport or httpx.HTTPTransport(retries=0),
            timeout=httpx.Timeout(timeout, connect=connect_timeout), limits=limits,
            headers={"Accept": "application/json", "Accept-Encoding": "identity",
                     "User-Agent": USER_AGENT},
            follow_redirects=False)
        # no auth header on this one, ever; redirects are followed by hand (scheme checks)
        self._dl = httpx.Client(
            transport=transport or httpx.HTTPTransport(retries=0),
            timeout=httpx.Timeout(download_timeout, connect=connect_timeout), limits=limits,
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
            follow_redirects=False)

    def __repr__(self) -> str:  # never shows the key
        return f"ArkClient(base_url={self.base_url!r})"

    # ---- lifecycle --------------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()
        self._dl.close()

    def __enter__(self) -> "ArkClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- API --------------------------------------------------------------------------------
    def create(self, body: dict[str, Any]) -> str:
        """POST a create; returns the task id. One attempt only (see module docstring).

        An answer without a usable id is an :class:`ArkResponseError` (ambiguous: a task may
        exist; the caller resolves it, never by a blind second create)."""
        data = self._request("POST", TASKS_PATH, json_body=body)
        tid = data.get("id") if isinstance(data, dict) else None
        if not tid:
            raise ArkResponseError(f"POST {TASKS_PATH}: response has no task id: "
                                   f"{clip(str(data), 200)}", secrets=self._secrets)
        if not valid_task_id(tid):
            raise ArkResponseError(f"POST {TASKS_PATH}: response has an invalid task id "
                                   f"{describe_id(tid)}", secrets=self._secrets)
        return tid

    def get(self, task_id: str) -> Task:
        data = self._request("GET", self._task_path(task_id))
        try:
            return Task.from_json(data, task_id=task_id)
        except TaskFormatError as exc:
            raise ArkTaskFormatError(f"GET task: {exc}", secrets=self._secrets) from None

    def list(self, *, status: str | None = None, model: str | None = None,
             task_ids: Iterable[str] = (), service_tier: str | None = None,
             page_num: int = 1, page_size: int = 100) -> tuple[int, list[Task]]:
        """One page of the list endpoint: ``(total, items)``. A page holding a malformed item or
        the same id twice is refused whole (a scan with a hole in it proves nothing)."""
        params: list[tuple[str, str]] = [("page_num", str(page_num)), ("page_size", str(page_size))]
        if status:
            params.append(("filter.status", status))
        if model:
            params.append(("filter.model", model))
        if service_tier:
            params.append(("filter.service_tier", service_tier))
        for tid in task_ids:
            self._check_id(tid)
            params.append(("filter.task_ids", tid))
        data = self._request("GET", TASKS_PATH, params=params)
        if not isinstance(data, dict):
            raise ArkTaskFormatError("GET task list: not an object", secrets=self._secrets)
        raw_items = data.get("items")
        if raw_items is None:
            raw_items = []
        if not isinstance(raw_items, list):
            raise ArkTaskFormatError("GET task list: items: not a list", secrets=self._secrets)
        items: list[Task] = []
        seen: set[str] = set()
        for n, item in enumerate(raw_items):
            try:
                task = Task.from_json(item)
            except TaskFormatError as exc:
                raise ArkTaskFormatError(f"GET task list: item {n}: {exc}",
                                         secrets=self._secrets) from None
            if task.id in seen:
                raise ArkTaskFormatError(f"GET task list: task {task.id} is listed twice",
                                         secrets=self._secrets)
            seen.add(task.id)
            items.append(task)
        total = data.get("total")
        if total is None:
            total = len(items)
        if isinstance(total, bool) or not isinstance(total, int) or not 0 <= total <= 10 ** 9:
            raise ArkTaskFormatError(f"GET task list: total: {describe_id(total)} is not a count",
                                     secrets=self._secrets)
        return total, items

    def delete(self, task_id: str) -> None:
        """Cancel a queued task or delete a finished one (ark-api.md section 7)."""
        self._request("DELETE", self._task_path(task_id))

    def _check_id(self, task_id: object) -> None:
        if not valid_task_id(task_id):
            raise ArkTaskFormatError(f"invalid task id {describe_id(task_id)}: not used in a "
                                     f"request", secrets=self._secrets)

    def _task_path(self, task_id: str) -> str:
        self._check_id(task_id)
        return f"{TASKS_PATH}/{quote(task_id, safe='')}"      # quoted anyway

    # ---- transport --------------------------------------------------------------------------
    def _request(self, method: str, path: str, *, json_body: Any = None,
                 params: list[tuple[str, str]] | None = None) -> Any:
        rid = _request_id()
        headers = {"Authorization": f"Bearer {self._key}", "X-Client-Request-Id": rid}
        content = None
        if json_body is not None:
            content = json.dumps(json_body, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        deadline = _Deadline(self.request_deadline)
        try:
            with deadline:
                req = self._http.build_request(method, path, content=content, params=params,
                                               headers=headers,
                                               extensions={"trace": deadline.trace})
                resp = self._http.send(req, stream=True)
                try:
                    raw = self._read_capped(resp, deadline, f"{method} {path}")
                finally:
                    resp.close()
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            if deadline.fired:
                raise ArkTimeoutError(f"{method} {path}: no answer within "
                                      f"{deadline.seconds:g} s", sent=True, timeout=True,
                                      secrets=self._secrets) from None
            raise ArkConnectionError(f"{method} {path}: cannot connect to {self.base_url}: "
                                     f"{type(exc).__name__}: {exc}", sent=False,
                                     secrets=self._secrets) from None
        except httpx.TimeoutException as exc:
            raise ArkTimeoutError(f"{method} {path}: timed out ({type(exc).__name__})", sent=True,
                                  timeout=True, secrets=self._secrets) from None
        except (httpx.TransportError, httpx.StreamError) as exc:
            if deadline.fired:
                raise ArkTimeoutError(f"{method} {path}: no complete answer within "
                                      f"{deadline.seconds:g} s", sent=True, timeout=True,
                                      secrets=self._secrets) from None
            raise ArkConnectionError(f"{method} {path}: connection lost: {type(exc).__name__}: "
                                     f"{exc}", sent=True, secrets=self._secrets) from None
        data: Any
        try:
            data = _loads(raw) if raw else {}
        except ValueError:
            data = raw
        if resp.status_code >= 400:
            if not isinstance(data, (bytes, bytearray)):
                data = redact_json(data, self._secrets)
            raise http_error(resp.status_code, data, method=method, path=path,
                             request_id=_header(resp, "X-Client-Request-Id") or rid,
                             secrets=self._secrets)
        if isinstance(data, (bytes, bytearray)):
            raise ArkResponseError(f"{method} {path}: HTTP {resp.status_code} with a non-JSON body",
                                   secrets=self._secrets)
        return redact_json(data, self._secrets)

    def _read_capped(self, resp: httpx.Response, deadline: _Deadline, what: str) -> bytes:
        cl = resp.headers.get("Content-Length")
        if cl and cl.isdigit() and int(cl) > self.max_json_bytes:
            raise ArkResponseError(f"{what}: answer of {int(cl)} bytes is over the "
                                   f"{self.max_json_bytes} byte cap", secrets=self._secrets)
        buf = bytearray()
        for chunk in resp.iter_bytes():
            buf += chunk
            if len(buf) > self.max_json_bytes:
                raise ArkResponseError(f"{what}: answer is over the {self.max_json_bytes} byte "
                                       f"cap", secrets=self._secrets)
            if deadline.expired():
                raise ArkTimeoutError(f"{what}: no complete answer within {deadline.seconds:g} s",
                                      sent=True, timeout=True, secrets=self._secrets)
        return bytes(buf)

    # ---- downloads --------------------------------------------------------------------------
    def download(self, url: str, dest: str | os.PathLike, *, chunk_size: int = 1 << 16,
                 max_resumes: int = 5, on_bytes: Callable[[int], None] | None = None,
                 max_bytes: int | None = None, deadline: float | None = None) -> int:
        """Stream ``url`` into ``dest``, resuming with ``Range`` from whatever ``dest`` holds.

        A dropped or truncated transfer is resumed (up to ``max_resumes`` times) from the bytes
        already written. Returns the final size. Raises :class:`ArkURLExpiredError` when the signed
        URL no longer answers (403/404/410) and :class:`DownloadError` otherwise. The caller
        verifies the content (decoding) and renames the file.

        Bounded: at most ``max_bytes`` (default :attr:`max_download_bytes`) and ``deadline``
        seconds overall (default :attr:`download_deadline`), resumes included. Only https URLs
        (plain http on loopback) are fetched; a redirect must keep the scheme. ``dest`` is written
        without following symlinks (:mod:`chainer.run.rundir`).
        """
        from ..run.rundir import open_part, part_size

        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        safe = _safe_url(url)
        problem = result_url_problem(url)
        if problem:
            raise UnsafeURLError(f"result URL {safe} {problem}; not fetched", secrets=self._secrets)
        cap = int(max_bytes or self.max_download_bytes)
        last_exc: Exception | None = None
        dl = _Deadline(deadline or self.download_deadline)
        with dl:
            for _ in range(max_resumes + 1):
                if dl.expired():
                    break
                have = part_size(dest)
                if have > cap:
                    dest.unlink()
                    have = 0
                headers = {"Range": f"bytes={have}-"} if have else {}
                try:
                    resp = self._open_download(url, headers, dl)
                    try:
                        if resp.status_code in (403, 404, 410):
                            raise ArkURLExpiredError(resp.status_code, code="URLExpired",
                                                     message=f"result URL no longer valid: {safe}",
                                                     method="GET", path=safe, secrets=self._secrets)
                        if resp.status_code == 416 and have:
                            # what we hold is not a prefix the server recognises: start over
                            dest.unlink()
                            continue
                        if resp.status_code >= 400:
                            raise DownloadError(f"GET {safe} -> HTTP {resp.status_code}",
                                                secrets=self._secrets)
                        total = _expected_total(resp, have)
                        if total is not None and total > cap:
                            dest.unlink(missing_ok=True)
                            raise DownloadTooLarge(f"GET {safe}: {total} bytes is over the "
                                                   f"{cap} byte cap for this file",
                                                   secrets=self._secrets)
                        append = resp.status_code == 206 and have > 0
                        got = have if append else 0
                        with open_part(dest, append=append) as fh:
                            for chunk in resp.iter_bytes():
                                got += len(chunk)
                                if got > cap:
                                    break
                                fh.write(chunk)
                                if on_bytes:
                                    on_bytes(len(chunk))
                                if dl.expired():
                                    break
                            fh.flush()
                            os.fsync(fh.fileno())
                        if got > cap:
                            dest.unlink(missing_ok=True)
                            raise DownloadTooLarge(f"GET {safe}: more than the {cap} byte cap "
                                                   f"for this file", secrets=self._secrets)
                    finally:
                        resp.close()
                    size = part_size(dest)
                    if dl.expired():
                        break
                    if total is not None and size < total:
                        last_exc = DownloadError(f"GET {safe}: got {size} of {total} bytes",
                                                 secrets=self._secrets)
                        continue
                    if total is not None and size > total:
                        dest.unlink()
                        last_exc = DownloadError(f"GET {safe}: got {size} bytes, more than {total}",
                                                 secrets=self._secrets)
                        continue
                    return size
                except ArkError:
                    raise
                except (httpx.TransportError, httpx.StreamError) as exc:
                    last_exc = exc
                    continue
        if dl.expired():
            raise DownloadError(f"GET {safe}: not complete within {dl.seconds:g} s (kept what "
                                f"arrived; a re-run resumes it)", secrets=self._secrets)
        raise DownloadError(f"GET {safe}: transfer kept failing: "
                            f"{type(last_exc).__name__}: {last_exc}", secrets=self._secrets)

    def _open_download(self, url: str, headers: dict, dl: _Deadline) -> httpx.Response:
        """GET ``url`` (streamed), following at most MAX_REDIRECTS redirects by hand: each hop
        must keep the original scheme and pass :func:`result_url_problem`."""
        scheme = urlsplit(url).scheme.lower()
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            req = self._dl.build_request("GET", current, headers=headers,
                                         extensions={"trace": dl.trace})
            resp = self._dl.send(req, stream=True)
            if not resp.is_redirect:
                return resp
            location = resp.headers.get("Location", "")
            resp.close()
            nxt = urljoin(current, location)
            problem = result_url_problem(nxt)
            if problem is None and urlsplit(nxt).scheme.lower() != scheme:
                problem = f"switches scheme from {scheme}"
            if problem:
                raise UnsafeURLError(f"GET {_safe_url(url)}: redirect to {_safe_url(nxt)} refused: "
                                     f"it {problem}", secrets=self._secrets)
            current = nxt
        raise UnsafeURLError(f"GET {_safe_url(url)}: more than {MAX_REDIRECTS} redirects",
                             secrets=self._secrets)


def _loads(raw: bytes) -> Any:
    """json.loads, with deep nesting refused as a ValueError (not a RecursionError)."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _header(resp: httpx.Response, name: str) -> str | None:
    value = resp.headers.get(name)
    return value if value and valid_task_id(value) else None


def _expected_total(resp: httpx.Response, have: int) -> int | None:
    """Full size of the resource, from Content-Range or Content-Length."""
    cr = resp.headers.get("Content-Range")
    if resp.status_code == 206 and cr and "/" in cr:
        tail = cr.rsplit("/", 1)[1].strip()
        if tail.isdigit():
            return int(tail)
    cl = resp.headers.get("Content-Length")
    if cl and cl.isdigit():
        return int(cl) + (have if resp.status_code == 206 else 0)
    return None


def _safe_url(url: str) -> str:
    """A URL for messages: scheme, host and path only (signed query strings are secrets too)."""
    try:
        u = httpx.URL(url)
        return redact(f"{u.scheme}://{u.host}{':' + str(u.port) if u.port else ''}{u.path}")
    except Exception:  # pragma: no cover - malformed URL
        return "<url>"
