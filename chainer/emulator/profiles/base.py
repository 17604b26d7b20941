"""What a wire-shape profile is, and the task-store operations every profile shares.

The server calls :meth:`Profile.owns` for each request that is not ``/_emulator/...``; when it
answers True the server hands the request to :meth:`Profile.handle` and writes the
:class:`HostReply` it returns (raising :class:`Drop` closes the socket without an answer). Profiles
talk to the emulator only through the helpers below, so the store, faults and stats stay the
server's single truth.
"""
from __future__ import annotations

import dataclasses
import hmac
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from ..tasks import Task
from ..validate import ApiError, TaskRequest, validate_create

if TYPE_CHECKING:   # pragma: no cover
    from ..server import Emulator


class Drop(Exception):
    """Close the connection without answering (fault injection)."""


@dataclass
class HostRequest:
    method: str
    path: str                     # without the query string
    query: str
    headers: Mapping[str, str]
    body: bytes
    request_id: str               # the server's id for this request (for error messages)


@dataclass
class HostReply:
    status: int
    body: Any                     # JSON-serialisable
    headers: dict[str, str] = field(default_factory=dict)


class Profile:
    name = "ark"
    base_path = "/api/v3"         # what ``Emulator.base_url`` appends to the root URL
    url_ttl_cap: float | None = None   # result URLs never live longer than this (seconds)

    def owns(self, method: str, path: str) -> bool:
        return False

    def handle(self, emu: "Emulator", req: HostRequest) -> HostReply:   # pragma: no cover
        raise NotImplementedError

    def url_ttl(self, configured: float) -> float:
        return configured if self.url_ttl_cap is None else min(configured, self.url_ttl_cap)


# ---- shared operations ---------------------------------------------------------------------------

def bearer_or_scheme(req: HostRequest, schemes: tuple[str, ...]) -> str | None:
    """The token after one of ``schemes`` in the Authorization header (case-insensitive), or None."""
    header = req.headers.get("Authorization") or ""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() not in tuple(s.lower() for s in schemes) or not token:
        return None
    return token


def key_ok(emu: "Emulator", token: str | None) -> bool:
    """Same rule as the Ark routes: any non-empty token unless ``config.api_key`` is set."""
    if token is None:
        return False
    key = emu.config.api_key
    return key is None or hmac.compare_digest(token.encode(), key.encode())


def count_call(emu: "Emulator", endpoint: str) -> None:
    emu._stats.inc({"create": "creates", "list": "lists", "get": "gets", "delete": "deletes"}[endpoint])


def unauthorized(emu: "Emulator", endpoint: str) -> None:
    emu._stats.inc("unauthorized")
    if endpoint == "create":
        emu._stats.rejected("AuthenticationError")


def call_faults(emu: "Emulator", endpoint: str):
    """Injected drop (raises :class:`Drop`) or server error (returns the rule; caller shapes it)."""
    if emu._fire("drop_connection", endpoint) is not None:
        raise Drop()
    return emu._fire("server_error", endpoint)


def rate_limited(emu: "Emulator"):
    """The ``create_429`` fault rule if it fires for this create, else None."""
    return emu._fire("create_429")


def parse_json(raw: bytes) -> Any:
    """Decoded JSON body or raises ValueError with a short reason."""
    if not raw:
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"the request body is not valid JSON: {exc}") from None


def validate(emu: "Emulator", ark_body: dict) -> TaskRequest:
    """Validate an Ark-shaped create body against the one model table (raises ApiError)."""
    return validate_create(ark_body, fetch_local=emu._fetch_local, fetch_local_path=emu._fetch_local_path,
                           lookup_draft=emu._store.lookup_draft)


def create_task(emu: "Emulator", req: TaskRequest, *, model: str, seed: int | None = None,
                seed_given: bool = False) -> Task:
    """Create a task for an already validated request, billed/counted under the host's ``model``."""
    changes: dict[str, Any] = {"model": model}
    if seed_given:
        changes["seed"] = seed
    return emu._store.create(dataclasses.replace(req, **changes))


def drop_after_create(emu: "Emulator") -> None:
    """The ``drop_after_create`` fault: the task exists, the client never hears of it."""
    if emu._fire("drop_after_create") is not None:
        raise Drop()


def spec_for(model_id: str | None):
    """The model table's spec for a Volcengine id, or None (through ``resolve_model``, so it reads
    whatever the one table is keyed by)."""
    from ... import models

    if not model_id:
        return None
    try:
        return models.resolve_model(model_id)
    except (models.UnknownModel, KeyError):
        return None


def rejected(emu: "Emulator", code: str) -> None:
    emu._stats.rejected(code)


def snapshot(emu: "Emulator", task_id: str) -> Task | None:
    """The live task (read its fields under :func:`store_lock`), or None once purged/deleted."""
    return emu._store.task_snapshot(task_id)


def store_lock(emu: "Emulator"):
    return emu._store._cond


def queued_ahead(emu: "Emulator", task: Task) -> int:
    """How many queued tasks are ahead of ``task`` (0-based queue position)."""
    with emu._store._cond:
        return sum(1 for t in emu._store._tasks.values()
                   if t.status == "queued" and t.seq < task.seq and t.req.model == task.req.model)


def queued_count(emu: "Emulator") -> int:
    by_status, _ = emu._store.counts()
    return by_status.get("queued", 0)


def cancel_task(emu: "Emulator", task: Task, *, running_too: bool) -> bool:
    """Cancel a queued (or, if ``running_too``, a running) task; True if it was cancelled.

    Ark's DELETE only cancels queued tasks (``TaskStore.delete``); fal and Replicate also stop
    running ones. A running task's worker is orphaned by the generation bump in ``_set_status``.
    """
    store = emu._store
    with store._cond:
        if task.status == "queued" or (running_too and task.status == "running"):
            store._set_status(task, "cancelled")
            store._cond.notify_all()
            done = True
        else:
            done = False
    if done:
        emu._notify(task)
    return done


def api_error_text(exc: ApiError, ark_model: str | None, host_model: str | None) -> str:
    """An Ark validation message with the Volcengine id replaced by the host's id."""
    msg = exc.message
    if ark_model and host_model and ark_model != host_model:
        msg = msg.replace(ark_model, host_model)
    return msg
