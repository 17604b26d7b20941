"""The Ark task object (ark-api.md section 5), parsed strictly: provider data is untrusted input.

Unknown extra fields are ignored (Ark adds fields over time), but every field chainer uses is
type- and range-checked: a wrong type, an infinity, an out-of-range integer, an unknown status, a
task id that could escape a path, or a result URL that is not https raises :class:`TaskFormatError`
naming the task and the field, which the client turns into one clear error for that shot.
"""
from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

TERMINAL = ("succeeded", "failed", "expired", "cancelled")
IN_FLIGHT = ("queued", "running")
STATUSES = IN_FLIGHT + TERMINAL

# The one task-id pattern (same rule as providers.base.valid_task_id): it must be safe as a file
# name part and a URL path segment: no "/", no "..", no control characters, bounded.
_TASK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")

MAX_TEXT = 2000            # longest provider string kept (error messages); longer is cut
MAX_URL = 8192


class TaskFormatError(ValueError):
    """A task record that does not have the documented shape (message names task and field)."""


def valid_task_id(task_id: object) -> bool:
    """A task id safe to put in a path or URL segment (no ``/``, no ``..``, no control chars)."""
    return (isinstance(task_id, str) and _TASK_ID.fullmatch(task_id) is not None
            and ".." not in task_id)


def describe_id(task_id: object) -> str:
    """A task id for a message, even an invalid one: repr-escaped and bounded."""
    text = repr(task_id)
    return text if len(text) <= 60 else text[:57] + "..."


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def result_url_problem(url: object) -> str | None:
    """Why ``url`` may not be fetched (None when it may): https only, plain http only on a
    loopback host (the local emulator), no credentials, bounded, no whitespace/control chars."""
    if not isinstance(url, str):
        return f"is a {type(url).__name__}, not a URL"
    if len(url) > MAX_URL:
        return f"is longer than {MAX_URL} characters"
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        return "holds whitespace or control characters"
    try:
        u = urlsplit(url)
        host = u.hostname
    except ValueError:
        return "is not a valid URL"
    scheme = u.scheme.lower()
    if scheme == "https" and host:
        pass
    elif scheme == "http" and is_loopback_host(host):
        pass
    else:
        return f"has scheme {scheme or 'none'!r} (only https, or http on a loopback host)"
    if u.username is not None or u.password is not None:
        return "carries credentials"
    return None


@dataclass
class Task:
    id: str
    status: str
    model: str | None = None
    created_at: int | None = None
    updated_at: int | None = None
    video_url: str | None = None
    last_frame_url: str | None = None
    seed: int | None = None
    resolution: str | None = None
    ratio: str | None = None
    duration: int | None = None
    frames: int | None = None
    framespersecond: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    service_tier: str | None = None
    safety_identifier: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def from_json(cls, data: Any, *, task_id: str | None = None) -> "Task":
        """Parse one task record. ``task_id``: the id it was fetched by (a record without an id
        gets it; a record with ANOTHER id is refused)."""
        where = f"task {describe_id(task_id)}" if task_id else "task"
        if not isinstance(data, dict):
            raise TaskFormatError(f"{where}: not an object")
        tid = data.get("id")
        if tid is None or tid == "":
            if task_id is None:
                raise TaskFormatError(f"{where}: id: missing")
            tid = task_id
        if not valid_task_id(tid):
            raise TaskFormatError(f"{where}: id: {describe_id(tid)} is not a valid task id")
        if task_id is not None and tid != task_id:
            raise TaskFormatError(f"{where}: id: the provider answered with task {describe_id(tid)}")
        where = f"task {tid}"
        f = _Fields(where)

        status = data.get("status")
        if not isinstance(status, str) or status not in STATUSES:
            raise TaskFormatError(f"{where}: status: {describe_id(status)} is not one of "
                                  f"{', '.join(STATUSES)}")
        content = f.obj(data, "content")
        usage = f.obj(data, "usage")
        error = data.get("error") if data.get("error") is not None else data.get("failure_reason")
        if isinstance(error, str):
            error = {"message": error}
        elif error is None:
            error = {}
        elif not isinstance(error, dict):
            raise TaskFormatError(f"{where}: error: is a {type(error).__name__}, not an object")
        fps_key = "framespersecond" if "framespersecond" in data else "framepersecond"
        task = cls(
            id=tid,
            status=status,
            model=f.text(data, "model", 200),
            created_at=f.int(data, "created_at", 0, 10 ** 11),
            updated_at=f.int(data, "updated_at", 0, 10 ** 11),
            video_url=f.url(content, "content.video_url", "video_url"),
            last_frame_url=f.url(content, "content.last_frame_url", "last_frame_url"),
            seed=f.int(data, "seed", -1, 2 ** 32 - 1),
            resolution=f.text(data, "resolution", 32),
            ratio=f.text(data, "ratio", 32),
            duration=f.int(data, "duration", -1, 3600),
            frames=f.int(data, "frames", 0, 10 ** 6),
            framespersecond=f.int(data, fps_key, 0, 1000),
            completion_tokens=f.int(usage, "usage.completion_tokens", 0, 10 ** 12, "completion_tokens"),
            total_tokens=f.int(usage, "usage.total_tokens", 0, 10 ** 12, "total_tokens"),
            error_code=f.text(error, "error.code", 200, "code", lenient=True),
            error_message=f.text(error, "error.message", MAX_TEXT, "message", lenient=True),
            service_tier=f.text(data, "service_tier", 32),
            safety_identifier=f.text(data, "safety_identifier", 200),
            raw=dict(data),
        )
        return task      # a succeeded task without a video URL is the run's call (result gone)


class _Fields:
    """Checked getters for one record; each error names the record and the field."""

    def __init__(self, where: str):
        self.where = where

    def _fail(self, name: str, what: str) -> TaskFormatError:
        return TaskFormatError(f"{self.where}: {name}: {what}")

    def obj(self, data: dict, name: str) -> dict:
        value = data.get(name)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self._fail(name, f"is a {type(value).__name__}, not an object")
        return value

    def int(self, data: dict, name: str, lo: int, hi: int, key: str | None = None) -> int | None:
        value = data.get(key or name)
        if value is None:
            return None
        if isinstance(value, bool):
            raise self._fail(name, "is a boolean, not an integer")
        if isinstance(value, float):
            if not math.isfinite(value) or value != int(value):
                raise self._fail(name, f"{value!r} is not an integer")
            value = int(value)
        if not isinstance(value, int):
            raise self._fail(name, f"is a {type(value).__name__}, not an integer")
        if not lo <= value <= hi:
            raise self._fail(name, f"{value} is out of range {lo}..{hi}")
        return value

    def text(self, data: dict, name: str, limit: int, key: str | None = None, *,
             lenient: bool = False) -> str | None:
        value = data.get(key or name)
        if value is None:
            return None
        if lenient and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)           # numeric error codes are seen in the wild
        if not isinstance(value, str):
            raise self._fail(name, f"is a {type(value).__name__}, not a string")
        return value if len(value) <= limit else value[:limit] + "..."

    def url(self, data: dict, name: str, key: str) -> str | None:
        value = data.get(key)
        if value is None or value == "":
            return None
        problem = result_url_problem(value)
        if problem:
            raise self._fail(name, f"the result URL {problem}")
        return value
