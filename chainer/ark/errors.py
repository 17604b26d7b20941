"""Errors raised by :class:`chainer.ark.ArkClient`.

Every message is built through :func:`redact`, so an API key can never reach a log line, a journal
row or a traceback through one of these exceptions.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

from ..errors import ProviderError

_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=\-]+")
_AUTH_HEADER = re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)[^'\",}\n]+")


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Remove API keys from ``text``: the given secrets anywhere, and any Bearer token."""
    out = str(text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            out = out.replace(secret, "***")
    out = _BEARER.sub(r"\1***", out)
    out = _AUTH_HEADER.sub(r"\1***", out)
    return out


def redact_json(value: Any, secrets: Iterable[str | None] = ()) -> Any:
    """``value`` (decoded JSON) with :func:`redact` applied to every string in it, keys included.

    Whatever a provider sends back (a task's error message, a list item) may be journalled,
    printed and written to summary.json, so it is scrubbed once, where it enters chainer."""
    secrets = tuple(secrets)
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {redact_json(k, secrets): redact_json(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_json(v, secrets) for v in value]
    return value


class ArkError(ProviderError):
    """Anything that went wrong talking to Ark (or the emulator)."""

    retryable = False

    def __init__(self, message: str, *, secrets: Iterable[str | None] = ()):
        super().__init__(redact(message, secrets))

    @property
    def message(self) -> str:
        return str(self)


class ArkHTTPError(ArkError):
    """A synchronous HTTP error with the provider's ``{"error": {code, message, param, type}}``."""

    def __init__(self, status: int, *, code: str | None = None, message: str | None = None,
                 param: str | None = None, type: str | None = None, method: str = "",
                 path: str = "", request_id: str | None = None,
                 secrets: Iterable[str | None] = ()):
        self.status = int(status)
        self.code = code or f"HTTP{status}"
        self.provider_message = redact(message or "", secrets)
        self.param = param or None
        self.type = type
        self.method = method
        self.path = path
        self.request_id = request_id
        text = f"{method} {path} -> HTTP {status} {self.code}"
        if self.param:
            text += f" (param {self.param})"
        if self.provider_message:
            text += f": {self.provider_message}"
        super().__init__(text, secrets=secrets)

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return self.status in (408, 429) or self.status >= 500


class ArkBadRequestError(ArkHTTPError):
    """400: the request is invalid (validation, content policy)."""


class ArkAuthenticationError(ArkHTTPError):
    """401: missing or invalid API key."""


class ArkPermissionDeniedError(ArkHTTPError):
    """403: account overdue, model not opened, access denied (or an expired result URL)."""


class ArkNotFoundError(ArkHTTPError):
    """404: unknown task, endpoint or model."""


class ArkRateLimitError(ArkHTTPError):
    """429: RPM / quota / overload. Safe to retry later."""


class ArkServerError(ArkHTTPError):
    """5xx."""


class ArkURLExpiredError(ArkHTTPError):
    """A result URL (video or last frame) answered 403/404/410: its signature has expired."""


_BY_STATUS = {400: ArkBadRequestError, 401: ArkAuthenticationError, 403: ArkPermissionDeniedError,
              404: ArkNotFoundError, 429: ArkRateLimitError}


def http_error(status: int, body: Any, *, method: str, path: str, request_id: str | None,
               secrets: Iterable[str | None] = ()) -> ArkHTTPError:
    """Map a status and a decoded (or raw) body to the right :class:`ArkHTTPError` subclass."""
    err: dict[str, Any] = {}
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            err = inner
        elif isinstance(inner, str):
            err = {"message": inner}
    elif isinstance(body, (str, bytes)):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        err = {"message": text.strip()[:300]}
    cls = _BY_STATUS.get(status) or (ArkServerError if status >= 500 else ArkHTTPError)
    return cls(status, code=_s(err.get("code")), message=_s(err.get("message")),
               param=_s(err.get("param")), type=_s(err.get("type")), method=method, path=path,
               request_id=request_id, secrets=secrets)


def _s(value: Any) -> str | None:
    return None if value is None else str(value)


class ArkConnectionError(ArkError):
    """The connection failed or timed out.

    ``sent`` tells whether the request may have reached the server: False only when the connection
    was never established (safe to repeat even a create); True means the outcome is unknown.
    """

    retryable = True

    def __init__(self, message: str, *, sent: bool, timeout: bool = False,
                 secrets: Iterable[str | None] = ()):
        self.sent = sent
        self.timeout = timeout
        super().__init__(message, secrets=secrets)


class ArkTimeoutError(ArkConnectionError):
    """The request timed out."""


class ArkResponseError(ArkError):
    """A 2xx response whose body is not what the API documents (not JSON, missing ``id``...)."""

    retryable = True


class DownloadError(ArkError):
    """A result file could not be downloaded or did not verify."""

    retryable = True
