"""The only code speaking HTTP to Ark (or an Ark-compatible server such as the emulator).

One request per call, no automatic retries: a create must never be re-POSTed blindly (a retried
create after a timeout can leave a duplicate paid task), so retrying is the caller's decision and
every failure says whether the request may have reached the server
(:attr:`ArkConnectionError.sent`).

The network is injected through one seam: ``transport`` (an ``httpx.BaseTransport``, e.g.
``httpx.MockTransport`` in tests). Result files are downloaded with a *separate* client that never
sends the ``Authorization`` header (signed result URLs live on another host).
"""
from __future__ import annotations

import json
import os
import secrets as _secrets
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import httpx

from .errors import (ArkConnectionError, ArkError, ArkResponseError,
                     ArkTimeoutError, ArkURLExpiredError, DownloadError, http_error, redact,
                     redact_json)
from .types import Task

DEFAULT_BASE_URL = "https://ark.cn-beijing.volces.com/api/v3"
TASKS_PATH = "/contents/generations/tasks"
USER_AGENT = "chainer/0.1 (+httpx)"


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
                 connect_timeout: float = 10.0, download_timeout: float = 60.0):
        if not api_key:
            raise ValueError("an API key is required")
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self._key = api_key
        self._secrets = (api_key,)
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=16)
        self._http = httpx.Client(
            base_url=self.base_url, transport=transport or httpx.HTTPTransport(retries=0),
            timeout=httpx.Timeout(timeout, connect=connect_timeout), limits=limits,
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
            follow_redirects=False)
        # no auth header on this one, ever
        self._dl = httpx.Client(
            transport=transport or httpx.HTTPTransport(retries=0),
            timeout=httpx.Timeout(download_timeout, connect=connect_timeout), limits=limits,
            headers={"User-Agent": USER_AGENT}, follow_redirects=True)

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
        """POST a create; returns the task id. One attempt only (see module docstring)."""
        data = self._request("POST", TASKS_PATH, json_body=body)
        if not isinstance(data, dict) or not data.get("id"):
            raise ArkResponseError(f"POST {TASKS_PATH}: response has no task id: {str(data)[:200]}",
                                   secrets=self._secrets)
        return str(data["id"])

    def get(self, task_id: str) -> Task:
        data = self._request("GET", f"{TASKS_PATH}/{task_id}")
        if not isinstance(data, dict):
            raise ArkResponseError(f"GET task {task_id}: not a task object", secrets=self._secrets)
        task = Task.from_json(data)
        if not task.id:
            task.id = task_id
        return task

    def list(self, *, status: str | None = None, model: str | None = None,
             task_ids: Iterable[str] = (), service_tier: str | None = None,
             page_num: int = 1, page_size: int = 100) -> tuple[int, list[Task]]:
        """One page of the list endpoint: ``(total, items)``."""
        params: list[tuple[str, str]] = [("page_num", str(page_num)), ("page_size", str(page_size))]
        if status:
            params.append(("filter.status", status))
        if model:
            params.append(("filter.model", model))
        if service_tier:
            params.append(("filter.service_tier", service_tier))
        for tid in task_ids:
            params.append(("filter.task_ids", tid))
        data = self._request("GET", TASKS_PATH, params=params)
        if not isinstance(data, dict):
            raise ArkResponseError("GET task list: not an object", secrets=self._secrets)
        items = [Task.from_json(i) for i in data.get("items") or [] if isinstance(i, dict)]
        return int(data.get("total") or len(items)), items

    def delete(self, task_id: str) -> None:
        """Cancel a queued task or delete a finished one (ark-api.md section 7)."""
        self._request("DELETE", f"{TASKS_PATH}/{task_id}")

    # ---- transport --------------------------------------------------------------------------
    def _request(self, method: str, path: str, *, json_body: Any = None,
                 params: list[tuple[str, str]] | None = None) -> Any:
        rid = _request_id()
        headers = {"Authorization": f"Bearer {self._key}", "X-Client-Request-Id": rid}
        content = None
        if json_body is not None:
            content = json.dumps(json_body, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        try:
            resp = self._http.request(method, path, content=content, params=params, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise ArkConnectionError(f"{method} {path}: cannot connect to {self.base_url}: "
                                     f"{type(exc).__name__}: {exc}", sent=False,
                                     secrets=self._secrets) from None
        except httpx.TimeoutException as exc:
            raise ArkTimeoutError(f"{method} {path}: timed out ({type(exc).__name__})", sent=True,
                                  timeout=True, secrets=self._secrets) from None
        except httpx.TransportError as exc:
            raise ArkConnectionError(f"{method} {path}: connection lost: {type(exc).__name__}: "
                                     f"{exc}", sent=True, secrets=self._secrets) from None
        try:
            data = resp.json() if resp.content else {}
        except ValueError:
            data = resp.content
        if resp.status_code >= 400:
            raise http_error(resp.status_code, data, method=method, path=path,
                             request_id=resp.headers.get("X-Client-Request-Id") or rid,
                             secrets=self._secrets)
        if isinstance(data, (bytes, bytearray)):
            raise ArkResponseError(f"{method} {path}: HTTP {resp.status_code} with a non-JSON body",
                                   secrets=self._secrets)
        return redact_json(data, self._secrets)

    # ---- downloads --------------------------------------------------------------------------
    def download(self, url: str, dest: str | os.PathLike, *, chunk_size: int = 1 << 16,
                 max_resumes: int = 5, on_bytes: Callable[[int], None] | None = None) -> int:
        """Stream ``url`` into ``dest``, resuming with ``Range`` from whatever ``dest`` holds.

        A dropped or truncated transfer is resumed (up to ``max_resumes`` times) from the bytes
        already written. Returns the final size. Raises :class:`ArkURLExpiredError` when the signed
        URL no longer answers (403/404/410) and :class:`DownloadError` otherwise. The caller
        verifies the content (decoding) and renames the file.
        """
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        safe = _safe_url(url)
        last_exc: Exception | None = None
        for _ in range(max_resumes + 1):
            have = dest.stat().st_size if dest.exists() else 0
            headers = {"Range": f"bytes={have}-"} if have else {}
            try:
                with self._dl.stream("GET", url, headers=headers) as resp:
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
                    mode = "ab" if (resp.status_code == 206 and have) else "wb"
                    with open(dest, mode) as fh:
                        for chunk in resp.iter_bytes():
                            fh.write(chunk)
                            if on_bytes:
                                on_bytes(len(chunk))
                        fh.flush()
                        os.fsync(fh.fileno())
                size = dest.stat().st_size
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
        raise DownloadError(f"GET {safe}: transfer kept failing: "
                            f"{type(last_exc).__name__}: {last_exc}", secrets=self._secrets)


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
