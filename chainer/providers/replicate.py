"""Replicate (predictions API): everything Replicate means lives here (hosts-2026.md s6).

- Create: ``POST /v1/models/{owner}/{name}/predictions`` with ``{"input": {...}}`` and
  ``Authorization: Bearer $REPLICATE_API_TOKEN``; poll ``GET /v1/predictions/{id}``; cancel
  ``POST /v1/predictions/{id}/cancel``. Statuses starting / processing / succeeded / failed /
  canceled map onto queued / running / succeeded / failed / cancelled.
- Inputs: ``prompt``, ``image`` (first frame: the previous clip's last frame as a data URI),
  ``last_frame_image`` (needs ``image``), ``duration``, ``resolution``, ``aspect_ratio`` (Replicate
  defaults to 16:9, so it is always sent; "adaptive" for chained clips), ``generate_audio``
  (sent explicitly: Replicate's defaults differ per model), ``seed``; ``reference_images``.
- Output: one URL, **no last frame** (``returns_last_frame = False``), and for API predictions
  "all input parameters, output values, output files, and logs are automatically removed after an
  hour": the run must download at once. A prediction read after that has ``data_removed`` and
  no output: reported as succeeded with ``video_url=None`` and ``error_code="data_removed"``.
- Proof after an ambiguous create: Replicate has no idempotency key (none documented; UNCONFIRMED)
  and echoes no free-form field, so :meth:`find` lists predictions newest first, back past the
  create window (the host's clock, from its ``Date`` header), and proves a prediction ours only
  when exactly one carries the same model and the same input, created inside the window
  (:func:`~chainer.providers.base.decide_ownership`). Absence is never proven: ``unknown``.
- Prices: Replicate bills Seedance per run/second; we have no source for the amounts, so
  :meth:`price` is ``None`` (unknown, never invented).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import os
import threading
import time
from pathlib import Path
from typing import Any, Iterable

from .. import models
from ..errors import InputError
from .base import (CREATE_SLACK, Failure, FindResult, Lookup, Price, Provider, ProviderRequest,
                   TaskStatus, decide_ownership, register, valid_task_id)
from .hosthttp import (HostHTTP, HostHTTPError, HostResponseError, check_base_url, classify_failure,
                       guarded_download, key_identity_for)
from ..media.last_frame import SEEDANCE_LIMITS
from .poll import PollPolicy

DEFAULT_BASE_URL = "https://api.replicate.com"
LIST_PAGES = 5
_STATES = {"starting": "queued", "processing": "running", "succeeded": "succeeded", "failed": "failed",
           "canceled": "cancelled", "cancelled": "cancelled", "aborted": "cancelled"}
_IMAGE_INPUTS = ("image", "last_frame_image")


def _error_fields(status: int, data: Any) -> tuple[str | None, str | None, str | None]:
    """Replicate problem documents: ``{"title", "detail", "status", "invalid_fields"?}``."""
    if not isinstance(data, dict):
        return None, None, None
    detail = data.get("detail")
    title = data.get("title")
    param = None
    inv = data.get("invalid_fields")
    if isinstance(inv, list) and inv and isinstance(inv[0], dict) and isinstance(inv[0].get("field"), str):
        param = inv[0]["field"]
    return (str(title) if isinstance(title, str) else None,
            str(detail).strip() if detail is not None else None, param)


def _digest(value: Any) -> Any:
    """Inputs compared by find(): images (data URIs can be megabytes) by their SHA-256."""
    if isinstance(value, str) and (value.startswith("data:") or len(value) > 256):
        return "sha256:" + hashlib.sha256(value.encode()).hexdigest()
    if isinstance(value, list):
        return [_digest(v) for v in value]
    return value


def _echo(inp: dict) -> dict:
    return {k: _digest(v) for k, v in inp.items()}


def _epoch(text: Any) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return _dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _status(data: Any, expected_id: str | None = None) -> TaskStatus:
    if not isinstance(data, dict) or not valid_task_id(data.get("id")):
        raise HostResponseError("prediction: not an object with a valid id")
    if expected_id is not None and data["id"] != expected_id:
        raise HostResponseError("prediction: the answer is about another prediction")
    status = data.get("status")
    state = _STATES.get(status, "unknown") if isinstance(status, str) else "unknown"
    output = data.get("output")
    if isinstance(output, list):
        output = next((o for o in output if isinstance(o, str)), None)
    url = output if isinstance(output, str) and output.startswith(("http://", "https://")) else None
    inp = data.get("input") if isinstance(data.get("input"), dict) else {}
    error = data.get("error")
    code = message = None
    if state in ("failed", "cancelled") and error:
        code, message = "prediction_error", str(error)[:300]
    if state == "succeeded" and url is None:
        code = "data_removed" if data.get("data_removed") else "no_output"
        message = "the prediction's output is gone (Replicate removes API outputs after an hour)" \
            if code == "data_removed" else "the prediction has no output URL"
    seed = inp.get("seed")
    return TaskStatus(
        id=data["id"], state=state, model=data.get("model") if isinstance(data.get("model"), str) else None,
        created_at=_epoch(data.get("created_at")), updated_at=_epoch(data.get("completed_at")),
        video_url=url, seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        error_code=code, error_message=message, params=_echo(inp),
        result={k: inp.get(k) for k in ("duration", "resolution", "aspect_ratio", "seed")})


class ReplicateProvider(Provider):
    name = "replicate"
    currency = "USD"
    returns_last_frame = False
    # what a locally extracted last frame must fit to be sent as the next ``image`` (UNCONFIRMED:
    # Replicate publishes no Seedance image limits; Seedance's own apply)
    image_limits = SEEDANCE_LIMITS
    # "input and output files are automatically deleted after an hour" for API predictions
    output_retention = 3600.0

    def __init__(self, base_url: str | None = None, api_key: str | None = None, *,
                 transport=None, poll: PollPolicy | None = None, emulator: Any = None,
                 identity: str | None = None, clock=time.time):
        if not api_key:
            raise InputError("--provider replicate needs an API token: set REPLICATE_API_TOKEN")
        super().__init__(base_url or DEFAULT_BASE_URL)
        self._http = HostHTTP(self.base_url, auth=f"Bearer {api_key}", secret=api_key,
                              error_parser=_error_fields, transport=transport)
        self._poll = poll
        self._emulator = emulator
        self._identity = identity
        self.ephemeral = emulator is not None
        self.billed = emulator is None        # the in-process emulator costs nothing
        self._clock = clock
        self._lock = threading.Lock()

    @property
    def identity(self) -> str:
        return self._identity or super().identity

    @property
    def key_identity(self) -> str:
        return "replicate-emulator" if self._emulator is not None else key_identity_for("replicate", self.base_url)

    @property
    def emulator(self):
        return self._emulator

    # -- requests --
    def build_request(self, shot, first_frame: str | None = None, *, marker: str | None = None,
                      seed: int | None = None) -> ProviderRequest:
        from ..plan import _inline

        where = f"shot {shot.id} on replicate"
        # TODO(merge): chainer.models.host_model_id / price_for (same signatures)
        model_name = models.host_model_id(shot.model, "replicate", shot.mode)
        if model_name is None:
            raise InputError(f"{where}: model {shot.model.id} is not offered on Replicate")
        if shot.references.get("videos") or shot.references.get("audio"):
            raise InputError(f"{where}: reference videos/audio are not supported by chainer's Replicate adapter")
        if shot.frames_param is not None:
            raise InputError(f"{where}: the 'frames' parameter is not available on Replicate; use duration")
        if shot.service_tier != "default":
            raise InputError(f"{where}: Replicate has no '{shot.service_tier}' service tier")
        if shot.draft_param:
            raise InputError(f"{where}: draft mode is not available on Replicate")
        if shot.chained_from is not None and not first_frame:
            raise ValueError(f"shot {shot.id} chains from {shot.chained_from}: first_frame is required")
        if shot.chained_from is None and first_frame is not None:
            raise ValueError(f"shot {shot.id} starts a sequence; it takes no first_frame")
        model = shot.model
        image = first_frame or (_inline(shot.image, "image") if shot.image is not None else None)
        inp: dict[str, Any] = {"prompt": shot.prompt, "duration": shot.duration,
                               "resolution": shot.resolution}
        if shot.duration == -1 and not model.auto_duration:
            raise InputError(f"{where}: duration -1 is not available for {model.id}")
        ratio = shot.request_ratio
        if ratio == "adaptive" and image is None and model.family == "1.0":
            ratio = shot.ratio          # 1.x text-to-video takes no "adaptive"
        inp["aspect_ratio"] = ratio
        if image is not None:
            inp["image"] = image
        if shot.last_image is not None:
            if image is None:
                raise InputError(f"{where}: last_frame_image only works with a first frame image")
            inp["last_frame_image"] = _inline(shot.last_image, "image")
        refs = shot.references.get("images") or []
        if refs:
            if image is not None:
                raise InputError(f"{where}: reference images cannot be combined with a first frame on Replicate")
            inp["reference_images"] = [_inline(r, "image") for r in refs]
        if model.audio:
            inp["generate_audio"] = bool(shot.generate_audio if shot.generate_audio is not None
                                         else model.audio_default)
        chosen = seed if seed is not None else shot.seed
        if chosen is not None:
            inp["seed"] = chosen
        if shot.camera_fixed is not None and model.camera_fixed:
            inp["camera_fixed"] = shot.camera_fixed
        how = None if first_frame is None else ("data" if first_frame.startswith("data:") else "url")
        return ProviderRequest(body={"input": inp}, model=model_name, params=_echo(inp), marker=marker,
                               marker_sent=False, first_frame=how)

    def submit(self, request: ProviderRequest) -> str:
        data = self._http.request("POST", f"/v1/models/{request.model}/predictions", json_body=request.body)
        pid = data.get("id") if isinstance(data, dict) else None
        if not valid_task_id(pid):
            raise HostResponseError("create: the answer has no valid prediction id")
        return pid

    def get(self, task_id: str) -> TaskStatus:
        if not valid_task_id(task_id):
            raise HostResponseError("not a valid prediction id")
        return _status(self._http.request("GET", f"/v1/predictions/{task_id}"), task_id)

    def find(self, request: ProviderRequest, *, since: float, known_ids: Iterable[str] = ()) -> FindResult:
        items: list[TaskStatus] = []
        complete = False
        path: str | None = "/v1/predictions"
        try:
            for _ in range(LIST_PAGES):
                page = self._http.request("GET", path)
                if not isinstance(page, dict) or not isinstance(page.get("results"), list):
                    return FindResult.unknown("the prediction list is not in the documented shape")
                if not items:
                    server_now = self._http.server_date
                    if server_now is None:
                        return FindResult.unknown("Replicate sent no Date header: its clock is unknown")
                    elapsed = max(0.0, self._clock() - since)
                    window = (server_now - elapsed - CREATE_SLACK, server_now + CREATE_SLACK)
                batch = [_status(d) for d in page["results"]]
                items.extend(batch)
                # newest first: once a page reaches before the window, nothing older can match
                if any(t.created_at is not None and t.created_at < window[0] for t in batch):
                    complete = True
                    break
                nxt = page.get("next")
                if not nxt:
                    complete = True
                    break
                path = nxt
        except Exception as exc:  # noqa: BLE001 - an unreadable list proves nothing
            return FindResult.unknown(f"the prediction list is unavailable ({type(exc).__name__}: {exc})")
        ids = [t.id for t in items]
        if len(ids) != len(set(ids)):
            return FindResult.unknown("the prediction list holds duplicate ids")
        return decide_ownership(request, items, complete=complete, window=window, known_ids=known_ids,
                                markers_echoed=False)

    def lookup(self, task_id: str) -> Lookup:
        try:
            return Lookup.present(self.get(task_id))
        except HostHTTPError as exc:
            if exc.status == 404:
                return Lookup.unknown("Replicate answered 404; its list cannot be filtered by id to confirm")
            return Lookup.unknown(f"cannot look the prediction up ({exc})")
        except Exception as exc:  # noqa: BLE001
            return Lookup.unknown(f"cannot look the prediction up ({type(exc).__name__})")

    def cancel(self, task_id: str) -> None:
        if valid_task_id(task_id):
            self._http.request("POST", f"/v1/predictions/{task_id}/cancel")

    def classify(self, exc: BaseException) -> Failure:
        return classify_failure(exc)

    # -- policy and money --
    def poll_policy(self) -> PollPolicy:
        if self._poll is not None:
            return self._poll
        if self._emulator is not None:
            return PollPolicy(initial=2.0, floor=2.0, max_wait=3600.0)
        # outputs vanish an hour after completion: never let a poll gap approach that
        return PollPolicy(cap=60.0)

    def expected_seconds(self, shot) -> float | None:
        return getattr(shot, "est_wall_seconds", None) or None

    def price(self, shot) -> Price | None:
        return Price.of(models.price_for(shot.model, "replicate", resolution=shot.resolution,
                                       audio=shot.generate_audio, tier=shot.service_tier))

    # -- results --
    def download(self, url: str, dest: Path, *, max_bytes: int, deadline: float) -> int:
        return guarded_download(self._http, url, dest, max_bytes=max_bytes, deadline=deadline)

    def close(self) -> None:
        self._http.close()
        if self._emulator is not None:
            self._emulator.__exit__(None, None, None)
            self._emulator = None


def open_replicate(*, base_url: str | None = None, api_key: str | None = None,
                   emulator_config: Any = None, **kw: Any) -> ReplicateProvider:
    """Replicate at ``base_url`` (default ``https://api.replicate.com``) with
    ``REPLICATE_API_TOKEN``. With neither: a new in-process Replicate-shaped emulator (ephemeral)."""
    key = api_key or os.environ.get("REPLICATE_API_TOKEN") or None
    if base_url is not None:
        check_base_url(base_url, "REPLICATE_API_TOKEN")
        return ReplicateProvider(base_url, key, **kw)
    if key:
        return ReplicateProvider(DEFAULT_BASE_URL, key, **kw)
    import dataclasses

    from ..emulator import Emulator, EmulatorConfig
    from .ark import EMULATOR_KEY   # a random key no URL path can contain (it is redacted)

    cfg = dataclasses.replace(emulator_config or EmulatorConfig(), api="replicate")
    emu = Emulator(cfg)
    emu.__enter__()
    try:
        return ReplicateProvider(emu.base_url, EMULATOR_KEY, emulator=emu,
                                 identity="replicate-emulator@in-process", **kw)
    except BaseException:
        emu.__exit__(None, None, None)
        raise


register("replicate", open_replicate)
