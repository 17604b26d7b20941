"""Volcengine Ark (and the emulator, which speaks Ark): everything Ark means lives here.

- the create body (``content[]`` items with roles, ``resolution``/``ratio``/``duration`` xor
  ``frames``, ``generate_audio``, ``seed``, ``camera_fixed``, ``service_tier``, ``draft``), with
  the run's marker sent as ``safety_identifier`` (echoed on task records: ark-api.md s5);
- status names (Ark's are already the neutral ones), the error classes (``chainer.ark.errors``)
  and what each proves about a create;
- flex pricing: the plan's per-token price already holds the flex discount (chainer.models);
- the poll cadence (first poll at 8-10 s, then at most 15 % of elapsed, at most 60 s apart);
- finding a task after an ambiguous create (``GET /contents/generations/tasks`` filtered by
  model, scanned to ``total``), and re-checking a 404 (lookup by id + ``filter.task_ids``).

The emulator is reached through this same adapter: ``open_provider("emulator")`` starts an
in-process :class:`~chainer.emulator.Emulator` and returns an :class:`ArkProvider` at its URL
(tasks die with the process: ``ephemeral``); ``open_provider("emulator", base_url=URL)`` talks to
a running ``chainer emulator`` at URL.
"""
from __future__ import annotations

import email.utils
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any, Iterable

import httpx

from ..ark import (ArkClient, ArkConnectionError, ArkError, ArkHTTPError, ArkNotFoundError,
                   ArkResponseError, ArkURLExpiredError, DownloadError, Task)
from ..ark.client import DEFAULT_BASE_URL, check_base_url
from ..errors import InputError
from .base import (bounded_download, CREATE_SLACK, Failure, FindResult, Lookup, Provider, ProviderRequest,
                   TaskStatus, decide_ownership, register, valid_task_id)
from .poll import PollPolicy

# The emulator accepts any Bearer token. The dummy key is still a "key" to the redaction (which
# strips any 8-character run of it from everything a provider returns), so it must share no such
# run with URLs, paths or ids: upper-case letters that are not hex digits, random per process.
EMULATOR_KEY = "".join(secrets.choice("GHJKLMNPQRSTUVWXYZ") for _ in range(24))
LIST_PAGES = 5                  # pages of 100 tasks scanned after an ambiguous create
PAGE_SIZE = 100
_ARK_STATES = {"queued": "queued", "running": "running", "succeeded": "succeeded",
               "failed": "failed", "expired": "expired", "cancelled": "cancelled"}


# ---- the create body ---------------------------------------------------------------------------

def ark_body(shot, first_frame_url: str | None = None) -> dict:
    """The Ark create body of a planned shot. Local files are inlined as data: URLs; a chained
    shot needs ``first_frame_url``, its chain input: the previous clip's last frame (URL or
    data:image/png), or for a ``chain: extend`` shot the previous clip's result URL, sent as the
    reference video of an extension request (:func:`chainer.extension.extension_content`)."""
    from ..plan import _image_item, _inline

    content: list[dict] = [{"type": "text", "text": shot.prompt}]
    extra: dict = {}
    if shot.chained_from is not None:
        if not first_frame_url:
            raise ValueError(f"shot {shot.id} chains from {shot.chained_from}: "
                             "first_frame_url is required")
        if getattr(shot, "chain", "last_frame") == "extend":
            from ..extension import extension_content

            content, extra = extension_content(shot.prompt, first_frame_url, shot.model.family)
        else:
            content.append(_image_item(first_frame_url, "first_frame"))
    elif first_frame_url is not None:
        raise ValueError(f"shot {shot.id} starts a sequence; it takes no first_frame_url")
    elif shot.image is not None:
        content.append(_image_item(_inline(shot.image, "image"), "first_frame"))
    if shot.last_image is not None:
        content.append(_image_item(_inline(shot.last_image, "image"), "last_frame"))
    for ref in shot.references.get("images", []):
        content.append(_image_item(_inline(ref, "image"), "reference_image"))
    for ref in shot.references.get("videos", []):
        content.append({"type": "video_url", "video_url": {"url": ref}, "role": "reference_video"})
    for ref in shot.references.get("audio", []):
        content.append({"type": "audio_url", "audio_url": {"url": _inline(ref, "audio")},
                        "role": "reference_audio"})
    model = shot.model
    from .. import models as M

    body: dict[str, Any] = {"model": M.host_model_id(model, "ark", shot.mode) or model.id,
                            "content": content,
                            "return_last_frame": shot.return_last_frame,
                            "resolution": shot.resolution, "ratio": shot.request_ratio}
    if shot.frames_param is not None:
        body["frames"] = shot.frames_param
    else:
        body["duration"] = shot.duration
    body["watermark"] = shot.watermark
    if model.audio and shot.generate_audio is not None:
        body["generate_audio"] = shot.generate_audio
    if shot.seed is not None and model.seed:
        body["seed"] = shot.seed
    if shot.camera_fixed is not None and model.camera_fixed and not (
            shot.mode == "references" and not model.camera_fixed_with_references):
        body["camera_fixed"] = shot.camera_fixed
    if shot.service_tier != "default":
        body["service_tier"] = shot.service_tier
    if shot.draft_param:
        body["draft"] = True
    body.update(extra)            # 2.5 extension: omni_reference_task_type extend, ratio adaptive
    return body


def _echo_params(body: dict) -> dict:
    """The parameters a task record must echo identically (ark-api.md s5.1: resolution, ratio,
    duration xor frames and seed come back on a succeeded task; service_tier and generate_audio
    from the running state on 1.5 pro / 2.0). Only what was sent: no seed when none was, no
    "adaptive" ratio (the record holds the resolved one)."""
    out: dict[str, Any] = {"resolution": body.get("resolution")}
    if body.get("ratio") not in (None, "adaptive"):
        out["ratio"] = body["ratio"]
    if "frames" in body:
        out["frames"] = body["frames"]
    elif isinstance(body.get("duration"), int) and body["duration"] > 0:
        out["duration"] = body["duration"]
    if body.get("seed") is not None:
        out["seed"] = body["seed"]
    if "generate_audio" in body:
        out["generate_audio"] = body["generate_audio"]
    out["service_tier"] = body.get("service_tier", "default")
    return out


def _status(task: Task) -> TaskStatus:
    raw = task.raw
    params = {k: raw[k] for k in ("resolution", "ratio", "frames", "duration", "seed",
                                  "generate_audio", "service_tier") if raw.get(k) is not None}
    # 1.0 records echo no service_tier (ark-api.md s5.1): missing stays missing (not proof)
    result = {k: raw.get(k) for k in ("resolution", "ratio", "duration", "frames",
                                      "framespersecond", "seed", "service_tier", "generate_audio")}
    return TaskStatus(
        id=task.id, state=_ARK_STATES.get(task.status, "unknown"), model=task.model,
        created_at=task.created_at, updated_at=task.updated_at, video_url=task.video_url,
        last_frame_url=task.last_frame_url, seed=task.seed, tokens=task.completion_tokens,
        error_code=task.error_code, error_message=task.error_message,
        marker=task.safety_identifier if isinstance(task.safety_identifier, str) else None,
        service_tier=task.service_tier, params=params, result=result)


# ---- the adapter -------------------------------------------------------------------------------

class ArkProvider(Provider):
    """Ark's content-generation task API (or anything speaking it: the emulator, a proxy)."""

    name = "ark"
    currency = "CNY"
    returns_last_frame = True
    echoes_marker = True    # UNCONFIRMED for real Ark list items ("echo when applicable",
                            # ark-api.md s5.1); contradicted per scan by evidence (see find)

    def __init__(self, base_url: str | None = None, api_key: str | None = None, *,
                 name: str = "ark", transport: httpx.BaseTransport | None = None,
                 poll: PollPolicy | None = None, emulator: Any = None,
                 identity: str | None = None, clock=time.time):
        if not api_key:
            raise InputError(f"--provider {name} needs an API key: set ARK_API_KEY "
                             "(or use --provider emulator)")
        super().__init__(base_url or DEFAULT_BASE_URL)
        self.name = name
        self._client = ArkClient(self.base_url, api_key, transport=transport)
        self._poll = poll
        self._emulator = emulator
        self._identity = identity
        self.ephemeral = emulator is not None
        self.billed = name != "emulator"
        self._clock = clock
        self._date_lock = threading.Lock()
        self._server_date: float | None = None
        self._client._http.event_hooks["response"].append(self._note_date)
        import inspect

        self._client_bounds = "max_bytes" in inspect.signature(self._client.download).parameters

    def at(self, base_url: str) -> "ArkProvider | None":
        if self._emulator is not None:      # its tasks live and die with this process
            return None
        return ArkProvider(check_base_url(base_url), self._client._key, name=self.name,
                           poll=self._poll, clock=self._clock)

    # -- identity --
    @property
    def identity(self) -> str:
        return self._identity or super().identity

    @property
    def key_identity(self) -> str:
        # kept as before so run dirs rendered by earlier versions keep their shot keys
        if self.name == "emulator":
            return "emulator"
        # a loopback server (an emulator, a proxy) is not the real host: its clips are not
        # interchangeable with Ark's; its port is not part of it (another port may be a proxy of
        # the same account: rule 6 polls old tasks where they were created)
        host = httpx.URL(self.base_url).host
        if host in ("127.0.0.1", "localhost", "::1") or host.startswith("127."):
            return "ark@loopback"
        return "ark"

    @property
    def emulator(self):
        return self._emulator

    def _note_date(self, response: httpx.Response) -> None:
        value = response.headers.get("Date")
        if not value:
            return
        try:
            when = email.utils.parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError, OverflowError):
            return
        with self._date_lock:
            self._server_date = when

    # -- requests and tasks --
    def build_request(self, shot, first_frame: str | None = None, *, marker: str | None = None,
                      seed: int | None = None) -> ProviderRequest:
        body = ark_body(shot, first_frame)
        if seed is not None:
            body["seed"] = seed
        if marker:
            body["safety_identifier"] = marker
        how = None if first_frame is None else ("data" if first_frame.startswith("data:") else "url")
        if getattr(shot, "chain", "last_frame") == "extend":
            how = None                   # the chain input is a reference video, not a frame
        return ProviderRequest(body=body, model=body["model"], params=_echo_params(body),
                               marker=marker, marker_sent=bool(marker), first_frame=how)

    def submit(self, request: ProviderRequest) -> str:
        task_id = self._client.create(request.body)
        if not valid_task_id(task_id):
            # the create may have made a task whose id we cannot use: ambiguous, never retried
            raise ArkResponseError("POST tasks: the response's task id is not a valid id")
        return task_id

    def get(self, task_id: str) -> TaskStatus:
        if not valid_task_id(task_id):
            raise ArkResponseError("not a valid task id")
        task = self._client.get(task_id)
        if task.id != task_id:
            raise ArkResponseError(f"GET task {task_id}: the response is about another task")
        return _status(task)

    def find(self, request: ProviderRequest, *, since: float,
             known_ids: Iterable[str] = ()) -> FindResult:
        items: list[TaskStatus] = []
        complete = False
        total = None
        # a failing list read raises: the caller retries reads that may answer differently and
        # turns what is left into "unknown" (shot.py)
        for page in range(1, LIST_PAGES + 1):
            total, batch = self._client.list(model=request.model, page_num=page,
                                             page_size=PAGE_SIZE)
            items.extend(_status(t) for t in batch)
            if len(items) >= total:
                complete = True
                break
            if not batch:
                break        # a page came back empty before ``total``: the list lags
        ids = [t.id for t in items]
        if len(ids) != len(set(ids)):
            return FindResult.unknown("the task list holds duplicate ids")
        with self._date_lock:
            server_now = self._server_date
        window = None
        if server_now is not None:
            elapsed = max(0.0, self._clock() - since)
            window = (server_now - elapsed - CREATE_SLACK, server_now + CREATE_SLACK)
        known = set(known_ids)
        # Ark documents the marker echo, but only this scan is evidence that THIS list carries it
        # (a proxy or a lagging index may strip it): markers count as echoed when a listed task
        # shows one, and none of our own tasks (every journalled create carried a marker) is
        # listed without it. An empty or marker-less list proves no absence (issue 10, rule 2).
        ours_stripped = any(t.id in known and not t.marker for t in items)
        echoed = self.echoes_marker and any(t.marker for t in items) and not ours_stripped
        return decide_ownership(request, items, complete=complete, window=window,
                                known_ids=known, markers_echoed=echoed)

    def lookup(self, task_id: str) -> Lookup:
        try:
            return Lookup.present(self.get(task_id))
        except ArkNotFoundError:
            pass
        except Exception as exc:  # noqa: BLE001
            return Lookup.unknown(f"cannot look the task up ({self.classify(exc).message})")
        try:
            total, items = self._client.list(task_ids=[task_id], page_num=1, page_size=10)
        except Exception as exc:  # noqa: BLE001
            return Lookup.unknown(f"the filtered task list is unavailable ({self.classify(exc).message})")
        same = [t for t in items if t.id == task_id]
        if same:
            return Lookup.present(_status(same[0]))
        if total == 0 and not items:
            return Lookup.absent("unknown by id and absent from the list filtered by its id")
        return Lookup.unknown("the filtered task list does not agree with the lookup by id")

    def cancel(self, task_id: str) -> None:
        if valid_task_id(task_id):
            self._client.delete(task_id)

    def classify(self, exc: BaseException) -> Failure:
        msg = str(exc)
        if isinstance(exc, ArkURLExpiredError):
            return Failure("result_gone", msg, code=exc.code, status=exc.status)
        if isinstance(exc, DownloadError):
            return Failure("download", msg, retryable=bool(getattr(exc, "retryable", True)))
        if isinstance(exc, ArkHTTPError):
            about = exc.status == 400 and _about_image(exc)
            base = dict(code=exc.code, param=exc.param, status=exc.status, about_input=about)
            text = (f"HTTP {exc.status} {exc.code}" + (f" (param {exc.param})" if exc.param else "")
                    + (f": {exc.provider_message}" if exc.provider_message else ""))
            if exc.status == 429:
                return Failure("rate_limited", text, retryable=True, **base)
            if exc.status == 404:
                return Failure("not_found", text, **base)
            if exc.status in (401, 403):
                return Failure("auth", text, **base)
            if exc.status == 408 or exc.status >= 500:
                return Failure("ambiguous", text, retryable=True, **base)
            return Failure("refused", text, **base)
        if isinstance(exc, ArkConnectionError):
            if not exc.sent:
                return Failure("not_sent", msg, retryable=True)
            return Failure("ambiguous", msg, retryable=True)
        if isinstance(exc, ArkResponseError):
            # a malformed answer: a create's outcome is unknown; a read is retried only when the
            # client says the same request may answer differently
            return Failure("ambiguous", msg, retryable=bool(getattr(exc, "retryable", True)))
        if isinstance(exc, ArkError):
            return Failure("other", msg, retryable=bool(getattr(exc, "retryable", False)))
        return Failure("other", f"{type(exc).__name__}: {exc}")

    # -- policy and money --
    def poll_policy(self) -> PollPolicy:
        if self._poll is not None:
            return self._poll
        if self.name == "emulator":
            return PollPolicy(initial=2.0, floor=2.0, max_wait=3600.0)
        return PollPolicy()

    def expected_seconds(self, shot) -> float | None:
        if self._emulator is not None:      # in-process: it knows its own latency
            cfg = self._emulator.config
            return float(cfg.latency) + float(cfg.queue_delay or 0.0)
        return shot.est_wall_seconds if self.name == "ark" else None

    def estimate(self, shot) -> float | None:
        return shot.est_cost          # the plan's estimate (Ark prices, flex discount applied)

    def cost(self, task: TaskStatus, per_mtok: float | None) -> float | None:
        if task.tokens is None or per_mtok is None:
            return None
        return task.tokens / 1e6 * per_mtok    # per_mtok is the plan's paid price: flex included

    # -- results --
    def download(self, url: str, dest: Path, *, max_bytes: int, deadline: float) -> int:
        return bounded_download(self._client.download, url, dest, max_bytes=max_bytes,
                                deadline=deadline, client_bounds=self._client_bounds)

    def close(self) -> None:
        self._client.close()
        if self._emulator is not None:
            self._emulator.__exit__(None, None, None)
            self._emulator = None


def _about_image(exc: ArkHTTPError) -> bool:
    text = f"{exc.param or ''} {exc.code} {exc.provider_message}".lower()
    return any(w in text for w in ("image", "content", "first_frame", "url"))


# ---- registry ----------------------------------------------------------------------------------

def open_ark(*, base_url: str | None = None, api_key: str | None = None, **kw: Any) -> ArkProvider:
    key = api_key or os.environ.get("ARK_API_KEY") or None
    url = check_base_url(base_url or os.environ.get("ARK_BASE_URL") or DEFAULT_BASE_URL)
    return ArkProvider(url, key, name="ark", **kw)


def open_emulator(*, base_url: str | None = None, api_key: str | None = None,
                  emulator_config: Any = None, **kw: Any) -> ArkProvider:
    """A running emulator at ``base_url``, or a new in-process one (closed with the provider)."""
    if base_url:
        return ArkProvider(check_base_url(base_url), api_key or EMULATOR_KEY, name="emulator", **kw)
    from ..emulator import Emulator, EmulatorConfig

    emu = Emulator(emulator_config or EmulatorConfig())
    emu.__enter__()
    try:
        return ArkProvider(emu.base_url, api_key or EMULATOR_KEY, name="emulator", emulator=emu,
                           identity="emulator@in-process", **kw)
    except BaseException:
        emu.__exit__(None, None, None)
        raise


register("ark", open_ark)
register("emulator", open_emulator)
