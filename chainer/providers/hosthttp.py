"""One JSON call to a non-Ark host (fal, Replicate): no retries, sent/not-sent, redaction, bounds.

Like :class:`chainer.ark.ArkClient`, every call is ONE attempt (a create must never be re-sent
blindly) and every failure says whether the request may have reached the host. The key goes only
to the host of the base URL: an absolute URL the host hands back (fal's ``status_url``) is
refused unless it has the same scheme, host and port. Result files are downloaded by
:meth:`HostHTTP.download`, which delegates to the one resuming downloader
(``ArkClient.download``: no ``Authorization`` header, Range resume, expired-URL detection).
"""
from __future__ import annotations

import email.utils
import json
import re
import threading
from pathlib import Path
from typing import Any, Callable, Iterable

import httpx

from ..ark.errors import redact, redact_json
from ..errors import ProviderError

MAX_BODY = 4 * 1024 * 1024          # bytes of a JSON answer we are willing to parse
MAX_TEXT = 300                      # characters of a provider message we keep
_KEY_HEADER = re.compile(r"(?i)(\bkey\s+)[A-Za-z0-9._~+/=:\-]{8,}")
USER_AGENT = "chainer/0.1 (+httpx)"

ErrorParser = Callable[[int, Any], "tuple[str | None, str | None, str | None]"]


def scrub(text: Any, secrets: Iterable[str | None], limit: int = MAX_TEXT) -> str:
    """Redacted (keys, Bearer/Key tokens) first, then bounded (never the other way round: a cut
    could leave a key fragment the redaction no longer recognises)."""
    out = _KEY_HEADER.sub(r"\1***", redact(str(text), secrets))
    return out if len(out) <= limit else out[:limit] + "..."


class HostError(ProviderError):
    retryable = False

    def __init__(self, message: str, *, secrets: Iterable[str | None] = ()):
        super().__init__(scrub(message, secrets, limit=2 * MAX_TEXT))

    @property
    def message(self) -> str:
        return str(self)


class HostHTTPError(HostError):
    """The host answered with an HTTP error. ``code``/``param``/``provider_message`` come from
    the host's own error shape (parsed by the adapter)."""

    def __init__(self, status: int, *, code: str | None, param: str | None, message: str | None,
                 method: str, what: str, secrets: Iterable[str | None] = ()):
        self.status = status
        self.code = code
        self.param = param
        self.provider_message = scrub(message or "", secrets)
        super().__init__(f"{method} {what}: HTTP {status}" + (f" {code}" if code else "")
                         + (f" (param {param})" if param else "")
                         + (f": {self.provider_message}" if self.provider_message else ""),
                         secrets=secrets)


class HostConnectionError(HostError):
    """``sent`` False only when the connection was never established."""

    retryable = True

    def __init__(self, message: str, *, sent: bool, secrets: Iterable[str | None] = ()):
        self.sent = sent
        super().__init__(message, secrets=secrets)


class HostResponseError(HostError):
    """A 2xx answer that is not what the host documents (or a URL we will not follow)."""

    retryable = True


def same_origin(a: str, b: str) -> bool:
    try:
        ua, ub = httpx.URL(a), httpx.URL(b)
    except Exception:  # noqa: BLE001 - unparsable is not the same origin
        return False
    return (ua.scheme, ua.host, ua.port) == (ub.scheme, ub.host, ub.port) and ua.scheme in ("http", "https")


class HostHTTP:
    def __init__(self, base_url: str, *, auth: str, secret: str, error_parser: ErrorParser,
                 transport: httpx.BaseTransport | None = None, timeout: float = 60.0,
                 connect_timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self._secrets = (secret,)
        self._auth = auth
        self._parse_error = error_parser
        self._transport = transport
        self._http = httpx.Client(
            transport=transport or httpx.HTTPTransport(retries=0),
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
            follow_redirects=False)
        self._dl = None
        self._dl_lock = threading.Lock()
        self._date_lock = threading.Lock()
        self.server_date: float | None = None

    def __repr__(self) -> str:   # never shows the key
        return f"HostHTTP({self.base_url!r})"

    @property
    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    def url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            if not same_origin(path_or_url, self.base_url):
                raise HostResponseError("the host pointed at a URL on another origin; refusing to send "
                                        "the API key there", secrets=self._secrets)
            return path_or_url
        return self.base_url + "/" + path_or_url.lstrip("/")

    def request(self, method: str, path_or_url: str, *, json_body: Any = None,
                params: dict | None = None, headers: dict | None = None) -> Any:
        url = self.url(path_or_url)
        what = httpx.URL(url).path
        hdrs = {"Authorization": self._auth, **(headers or {})}
        content = None
        if json_body is not None:
            content = json.dumps(json_body, separators=(",", ":")).encode()
            hdrs["Content-Type"] = "application/json"
        try:
            resp = self._http.request(method, url, content=content, params=params, headers=hdrs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise HostConnectionError(f"{method} {what}: cannot connect: {type(exc).__name__}: {exc}",
                                      sent=False, secrets=self._secrets) from None
        except httpx.TransportError as exc:
            raise HostConnectionError(f"{method} {what}: connection lost or timed out: "
                                      f"{type(exc).__name__}: {exc}", sent=True,
                                      secrets=self._secrets) from None
        self._note_date(resp)
        if len(resp.content) > MAX_BODY:
            raise HostResponseError(f"{method} {what}: answer larger than {MAX_BODY} bytes",
                                    secrets=self._secrets)
        try:
            data = resp.json() if resp.content else {}
        except ValueError:
            data = None
        if resp.status_code >= 400:
            code, message, param = self._parse_error(resp.status_code, data)
            if data is None and not message:
                message = resp.text[:MAX_TEXT]
            raise HostHTTPError(resp.status_code, code=code, param=param, message=message, method=method,
                                what=what, secrets=self._secrets)
        if data is None:
            raise HostResponseError(f"{method} {what}: HTTP {resp.status_code} with a non-JSON body",
                                    secrets=self._secrets)
        return redact_json(data, self._secrets)

    def _note_date(self, resp: httpx.Response) -> None:
        value = resp.headers.get("Date")
        if not value:
            return
        try:
            when = email.utils.parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError, OverflowError):
            return
        with self._date_lock:
            self.server_date = when

    def download(self, url: str, dest: Path, *, on_bytes: Callable[[int], None],
                 max_bytes: int | None = None, deadline: float | None = None) -> int:
        """Stream a result URL (never with the API key) into ``dest``; see ArkClient.download."""
        if not url.startswith(("http://", "https://")):
            raise HostResponseError("result URL is not http(s)", secrets=self._secrets)
        with self._dl_lock:
            if self._dl is None:
                from ..ark import ArkClient

                # the downloader's own client never sends Authorization; the key is only passed
                # so its error messages redact it
                self._dl = ArkClient(self.base_url, self._secrets[0], transport=self._transport)
        import inspect

        if "max_bytes" in inspect.signature(self._dl.download).parameters:
            # a downloader that enforces caps and deadlines itself (as ArkProvider does)
            return self._dl.download(url, dest, on_bytes=on_bytes, max_bytes=max_bytes, deadline=deadline)
        return self._dl.download(url, dest, on_bytes=on_bytes)

    def close(self) -> None:
        self._http.close()
        if self._dl is not None:
            self._dl.close()


# ---- what the fal/Replicate adapters share ------------------------------------------------------

def classify_failure(exc: BaseException):
    """What an exception from :class:`HostHTTP` (or the downloader) proves (base.Failure)."""
    from ..ark import ArkURLExpiredError, DownloadError
    from ..ark.errors import ArkError
    from .base import Failure

    msg = str(exc)
    if isinstance(exc, ArkURLExpiredError):
        return Failure("result_gone", msg, code=exc.code, status=exc.status)
    if isinstance(exc, DownloadError):
        return Failure("download", msg, retryable=True)
    if isinstance(exc, HostHTTPError):
        text = f"{exc.param or ''} {exc.code or ''} {exc.provider_message}".lower()
        about = exc.status in (400, 422) and any(w in text for w in ("image", "frame", "url"))
        kw = dict(code=exc.code, param=exc.param, status=exc.status, about_input=about)
        if exc.status == 429:
            return Failure("rate_limited", msg, retryable=True, **kw)
        if exc.status == 404:
            return Failure("not_found", msg, **kw)
        if exc.status in (401, 403):
            return Failure("auth", msg, **kw)
        if exc.status == 408 or exc.status >= 500:
            return Failure("ambiguous", msg, retryable=True, **kw)
        return Failure("refused", msg, **kw)
    if isinstance(exc, HostConnectionError):
        return Failure("ambiguous" if exc.sent else "not_sent", msg, retryable=True)
    if isinstance(exc, HostResponseError):
        return Failure("ambiguous", msg, retryable=True)
    if isinstance(exc, (HostError, ArkError)):
        return Failure("other", msg, retryable=bool(getattr(exc, "retryable", False)))
    return Failure("other", f"{type(exc).__name__}: {exc}")


def guarded_download(http: HostHTTP, url: str, dest: Path, *, max_bytes: int, deadline: float) -> int:
    """Download bounded by ``max_bytes`` and ``deadline`` seconds overall (as ArkProvider does)."""
    from .base import bounded_download

    return bounded_download(http.download, url, dest, max_bytes=max_bytes, deadline=deadline)


def key_identity_for(name: str, base_url: str) -> str:
    """``name`` for the real host; ``name@loopback`` for a loopback server (an emulator's clips
    are not interchangeable with the host's; the port is not part of it, as in providers/ark.py)."""
    u = httpx.URL(base_url)
    host = u.host or ""
    if host in ("localhost", "::1") or host.startswith("127."):
        return f"{name}@loopback"
    return name


def check_base_url(url: str, env_hint: str) -> None:
    from ..errors import InputError

    try:
        u = httpx.URL(url)
    except Exception:  # noqa: BLE001 - any parse failure is bad input
        raise InputError(f"--base-url: {url!r} is not a URL") from None
    if u.scheme not in ("http", "https") or not u.host:
        raise InputError(f"--base-url: {url!r} must be an http(s) URL with a host")
    if u.userinfo:
        raise InputError(f"--base-url: credentials in the URL are refused (set {env_hint})")
