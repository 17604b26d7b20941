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
_TOKEN = re.compile(r"[A-Za-z0-9._~+/=\-]+")
_IDLIKE = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_URLLIKE = re.compile(r"(?i)https?://\S*")

# Fragments of a secret at least this long are removed from ANY text (ids and URLs included):
# shorter runs of hex or base62 occur by chance in task ids, hashes and dates.
FRAGMENT_MIN = 8
# In free text (error messages: anything with a space or punctuation an id cannot hold), a whole
# token sharing even this many consecutive characters with a secret is removed. Over-redacting a
# word in an error message is the price of never showing a truncated key.
TOKEN_FRAGMENT_MIN = 4


def escape_control(text: str) -> str:
    """``text`` with control and other non-printable characters escaped (``\\x1b``, ``\\n``):
    provider text can never move the cursor, clear the screen or forge a second output line."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000
                       else f"\\U{code:08x}")
    return "".join(out)


def _fragments(secret: str, n: int) -> set[str]:
    return {secret[i:i + n] for i in range(len(secret) - n + 1)}


def _strip_fragments(text: str, secret: str) -> str:
    """Replace every run of >= FRAGMENT_MIN characters that also occurs in ``secret``."""
    n = min(FRAGMENT_MIN, len(secret))
    grams = _fragments(secret, n)
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i:i + n] in grams:
            j = i + n                       # extend while text[i:j+1] is still inside the secret
            while j < len(text) and text[i:j + 1] in secret:
                j += 1
            out.append("***")
            i = j
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _strip_tokens(text: str, secret: str) -> str:
    grams = _fragments(secret, min(TOKEN_FRAGMENT_MIN, len(secret)))

    def sub(m: re.Match) -> str:
        tok = m.group(0)
        if len(tok) < TOKEN_FRAGMENT_MIN:
            return tok
        if any(tok[i:i + TOKEN_FRAGMENT_MIN] in grams for i in range(len(tok) - TOKEN_FRAGMENT_MIN + 1)):
            return "***"
        return tok

    return _TOKEN.sub(sub, text)


def redact(text: str, secrets: Iterable[str | None] = (), *, escape: bool = True) -> str:
    """Remove API keys from ``text``, then escape control characters.

    Removed: each secret anywhere; any run of >= 8 characters of a secret (a truncated or
    prefix-less key); in free text, any token sharing >= 4 consecutive characters with a secret;
    any ``Bearer`` token or ``Authorization`` value. ``escape=False`` keeps line breaks (for a
    multi-line traceback file). Always redact BEFORE truncating (a cut can
    turn a whole key, which is recognised, into a prefix)."""
    out = str(text)
    for secret in secrets:
        if not secret or len(secret) < 4:
            continue
        out = out.replace(secret, "***")
        if not any(g in out for g in _fragments(secret, min(TOKEN_FRAGMENT_MIN, len(secret)))):
            continue                        # fast path (C-speed searches): nothing of it here
        out = _strip_fragments(out, secret)
        if not (_IDLIKE.fullmatch(out) or _URLLIKE.fullmatch(out)):   # ids and URLs: see above
            out = _strip_tokens(out, secret)
    out = _BEARER.sub(r"\1***", out)
    out = _AUTH_HEADER.sub(r"\1***", out)
    return escape_control(out) if escape else out


def clip(text: str, limit: int = 300) -> str:
    """Bound an already-redacted text for a message."""
    return text if len(text) <= limit else text[:limit] + "..."


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
        self.provider_message = clip(redact(message or "", secrets), 500)
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
        err = {"message": clip(redact(text.strip(), secrets))}   # redact first, then cut
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
