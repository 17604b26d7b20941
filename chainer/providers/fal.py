"""fal.ai (queue API): everything fal means lives here (hosts-2026.md s6).

- Endpoints are ``{model prefix}/text-to-video`` or ``/image-to-video`` (``bytedance/seedance-2.0/
  image-to-video``); submit is ``POST {queue}/{endpoint}`` with ``Authorization: Key $FAL_KEY``.
- The submit answer's ``status_url`` / ``response_url`` / ``cancel_url`` are used as given (they
  live under the *app* id, not the sub-path endpoint: hand-built URLs break). The task id chainer
  journals encodes that app path and the request id (``bytedance:seedance-2.0:<uuid>``), so a
  resumed run rebuilds the same URLs the answer gave (what fal-client's ``get_handle`` does).
- Inputs: ``prompt``, ``image_url`` (first frame: the previous clip's last frame as a data URI),
  ``end_image_url``, ``duration`` as a string and ALWAYS sent (2.0/2.5 default "auto" can double
  the cost), ``aspect_ratio`` ("auto" for image-to-video), ``resolution``, ``generate_audio``,
  ``seed``. Statuses IN_QUEUE / IN_PROGRESS / COMPLETED (+ ``error``/``error_type`` on failure).
- Output ``{video: {url}, seed}``: **no last frame** (``returns_last_frame = False``: the run takes
  it from the downloaded clip, ``chainer.media.last_frame``), no token usage (cost from the price).
- Proof after an ambiguous submit: only the request id in the submit answer. fal offers no listing
  of one's queue requests that we rely on (UNCONFIRMED whether its platform API has one), so
  :meth:`find` answers ``unknown`` and the run never submits again by itself. No idempotency key.
- Not supported by this adapter (a validation error naming fal, before anything is paid):
  reference-to-video, the 1.0 ``frames`` parameter, flex tier, draft, 4k, ``duration -1`` on
  1.x models.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Iterable

from .. import models
from ..errors import InputError
from .base import (Failure, FindResult, Lookup, Price, Provider, ProviderRequest, TaskStatus,
                   register, valid_task_id)
from .hosthttp import (HostHTTP, HostHTTPError, HostResponseError, check_base_url, classify_failure,
                       guarded_download, key_identity_for)
from ..media.last_frame import SEEDANCE_LIMITS
from .poll import PollPolicy

DEFAULT_BASE_URL = "https://queue.fal.run"
_STATES = {"IN_QUEUE": "queued", "IN_PROGRESS": "running", "COMPLETED": "succeeded"}
_ERROR_STATES = {"request_cancelled": "cancelled", "request_timeout": "expired"}


def _error_fields(status: int, data: Any) -> tuple[str | None, str | None, str | None]:
    """fal error shapes: ``{"detail": "..."}`` or FastAPI ``{"detail": [{"loc", "msg", "type"}]}``."""
    if not isinstance(data, dict):
        return None, None, None
    detail = data.get("detail")
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        first = detail[0]
        loc = first.get("loc")
        param = ".".join(str(x) for x in loc[1:]) if isinstance(loc, list) and len(loc) > 1 else None
        return (str(first.get("type")) if first.get("type") else None, str(first.get("msg") or ""), param)
    if isinstance(detail, str):
        return data.get("error_type") if isinstance(data.get("error_type"), str) else None, detail, None
    if isinstance(data.get("status"), str):      # cancel answers: {"status": "ALREADY_COMPLETED"}
        return data["status"], None, None
    return None, None, None


def task_id_for(app_path: str, request_id: str) -> str:
    return app_path.replace("/", ":") + ":" + request_id


def split_task_id(task_id: str) -> tuple[str, str]:
    app, _, rid = task_id.rpartition(":")
    return app.replace(":", "/"), rid


class FalProvider(Provider):
    name = "fal"
    currency = "USD"
    returns_last_frame = False
    # what a locally extracted last frame must fit to be sent as the next image_url (UNCONFIRMED:
    # fal publishes no Seedance image limits; Seedance's own apply)
    image_limits = SEEDANCE_LIMITS

    def __init__(self, base_url: str | None = None, api_key: str | None = None, *,
                 transport=None, poll: PollPolicy | None = None, emulator: Any = None,
                 identity: str | None = None):
        if not api_key:
            raise InputError("--provider fal needs an API key: set FAL_KEY")
        super().__init__(base_url or DEFAULT_BASE_URL)
        self._http = HostHTTP(self.base_url, auth=f"Key {api_key}", secret=api_key,
                              error_parser=_error_fields, transport=transport)
        self._poll = poll
        self._emulator = emulator
        self._identity = identity
        self.ephemeral = emulator is not None
        self.billed = emulator is None        # the in-process emulator costs nothing
        self._lock = threading.Lock()
        self._urls: dict[str, dict[str, str]] = {}      # task id -> the URLs the submit answer gave
        self._models: dict[str, str] = {}               # task id -> endpoint id (this process)

    @property
    def identity(self) -> str:
        return self._identity or super().identity

    @property
    def key_identity(self) -> str:
        return "fal-emulator" if self._emulator is not None else key_identity_for("fal", self.base_url)

    @property
    def emulator(self):
        return self._emulator

    # -- requests --
    def endpoint(self, shot, mode: str) -> str:
        endpoint = models.host_model_id(shot.model, "fal", mode)
        if endpoint is None:
            raise InputError(f"shot {shot.id}: model {shot.model.id} is not offered on fal ({mode})")
        return endpoint

    def build_request(self, shot, first_frame: str | None = None, *, marker: str | None = None,
                      seed: int | None = None) -> ProviderRequest:
        from ..plan import _inline

        where = f"shot {shot.id} on fal"
        if shot.mode == "references" or any(shot.references.get(k) for k in ("images", "videos", "audio")):
            raise InputError(f"{where}: reference images/videos/audio are not supported by chainer's fal adapter")
        if shot.frames_param is not None:
            raise InputError(f"{where}: the 'frames' parameter is not available on fal; use duration")
        if shot.service_tier != "default":
            raise InputError(f"{where}: fal has no '{shot.service_tier}' service tier")
        if shot.draft_param:
            raise InputError(f"{where}: draft mode is not available on fal")
        if shot.resolution == "4k":
            raise InputError(f"{where}: fal does not offer 4k")
        if shot.chained_from is not None and not first_frame:
            raise ValueError(f"shot {shot.id} chains from {shot.chained_from}: first_frame is required")
        if shot.chained_from is None and first_frame is not None:
            raise ValueError(f"shot {shot.id} starts a sequence; it takes no first_frame")
        image = first_frame or (_inline(shot.image, "image") if shot.image is not None else None)
        i2v = image is not None
        endpoint = self.endpoint(shot, ("first_last" if shot.last_image is not None else "first_frame")
                                 if i2v else "t2v")
        model = shot.model
        if shot.duration == -1:
            if not (model.auto_duration and model.family != "1.5"):
                raise InputError(f"{where}: duration -1 (auto) is not available for {model.id} on fal")
            duration = "auto"
        else:
            duration = str(shot.duration)
        body: dict[str, Any] = {"prompt": shot.prompt, "duration": duration,
                                "resolution": shot.resolution}
        if i2v:
            body["image_url"] = image
            body["aspect_ratio"] = "auto" if shot.request_ratio == "adaptive" else shot.request_ratio
        else:
            body["aspect_ratio"] = shot.ratio if shot.request_ratio == "adaptive" else shot.request_ratio
        if shot.last_image is not None:
            if not i2v:
                raise InputError(f"{where}: an end image needs a first image")
            body["end_image_url"] = _inline(shot.last_image, "image")
        if model.audio and shot.generate_audio is not None:
            body["generate_audio"] = shot.generate_audio
        chosen = seed if seed is not None else shot.seed
        if chosen is not None:
            body["seed"] = chosen
        if shot.camera_fixed is not None and model.camera_fixed:
            body["camera_fixed"] = shot.camera_fixed
        how = None if first_frame is None else ("data" if first_frame.startswith("data:") else "url")
        params = {k: body[k] for k in ("duration", "resolution", "aspect_ratio", "seed") if k in body}
        # fal echoes no input on its request records, so no marker can be sent for find()
        return ProviderRequest(body=body, model=endpoint, params=params, marker=marker,
                               marker_sent=False, first_frame=how)

    def submit(self, request: ProviderRequest) -> str:
        data = self._http.request("POST", request.model, json_body=request.body)
        rid = data.get("request_id") if isinstance(data, dict) else None
        if not valid_task_id(rid) or ":" in rid:
            raise HostResponseError("submit: the answer has no valid request_id")
        urls = {}
        for k in ("status_url", "response_url", "cancel_url"):
            v = data.get(k)
            if not isinstance(v, str):
                raise HostResponseError(f"submit: the answer has no {k}")
            self._http.url(v)      # same origin as the base URL, or refused (the key goes there)
            urls[k] = v
        marker = f"/requests/{rid}"
        path = _path_of(urls["response_url"])
        if not path.endswith(marker):
            raise HostResponseError("submit: response_url does not name the request")
        app = path[: -len(marker)].strip("/")
        task_id = task_id_for(app, rid)
        if not app or not valid_task_id(task_id):
            raise HostResponseError("submit: the request URLs do not follow {queue}/{app}/requests/{id}")
        with self._lock:
            self._urls[task_id] = urls
            self._models[task_id] = request.model
        return task_id

    def _urls_for(self, task_id: str) -> dict[str, str]:
        if not valid_task_id(task_id) or ":" not in task_id:
            raise HostResponseError("not a valid fal task id")
        with self._lock:
            known = self._urls.get(task_id)
        if known is not None:
            return known
        app, rid = split_task_id(task_id)
        return _rebuilt(self.base_url, app, rid)

    def get(self, task_id: str) -> TaskStatus:
        urls = self._urls_for(task_id)
        data = self._http.request("GET", urls["status_url"])
        if not isinstance(data, dict):
            raise HostResponseError("status: not an object")
        status = data.get("status")
        state = _STATES.get(status, "unknown") if isinstance(status, str) else "unknown"
        with self._lock:
            model = self._models.get(task_id)
        common = dict(id=task_id, model=model)
        if state != "succeeded":
            return TaskStatus(state=state, **common)
        error_type, error = data.get("error_type"), data.get("error")
        if error or error_type:
            etype = error_type if isinstance(error_type, str) else "error"
            return TaskStatus(state=_ERROR_STATES.get(etype, "failed"), error_code=etype,
                              error_message=str(error or etype)[:300], **common)
        try:
            result = self._http.request("GET", urls["response_url"])
        except HostHTTPError as exc:
            if exc.status in (400, 422) or exc.status >= 500:
                # COMPLETED but the result is an error (UNCONFIRMED: fal may report failures only here)
                state = "cancelled" if exc.code == "request_cancelled" else "failed"
                return TaskStatus(state=state, error_code=exc.code or f"HTTP {exc.status}",
                                  error_message=exc.provider_message or str(exc), **common)
            raise
        video = result.get("video") if isinstance(result, dict) else None
        url = video.get("url") if isinstance(video, dict) else None
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise HostResponseError("result: no video URL")
        seed = result.get("seed")
        return TaskStatus(state="succeeded", video_url=url,
                          seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
                          result={"seed": seed if isinstance(seed, int) else None}, **common)

    def find(self, request: ProviderRequest, *, since: float, known_ids: Iterable[str] = ()) -> FindResult:
        return FindResult.unknown("fal has no listing of queue requests chainer can use: only the request "
                                  "id in the submit answer proves a request exists")

    def lookup(self, task_id: str) -> Lookup:
        try:
            return Lookup.present(self.get(task_id))
        except HostHTTPError as exc:
            if exc.status == 404:
                return Lookup.unknown("fal answered 404, and it has no request list to confirm it")
            return Lookup.unknown(f"cannot look the request up ({exc})")
        except Exception as exc:  # noqa: BLE001 - any failure leaves it unknown
            return Lookup.unknown(f"cannot look the request up ({type(exc).__name__})")

    def cancel(self, task_id: str) -> None:
        self._http.request("PUT", self._urls_for(task_id)["cancel_url"])

    def classify(self, exc: BaseException) -> Failure:
        return classify_failure(exc)

    # -- policy and money --
    def poll_policy(self) -> PollPolicy:
        if self._poll is not None:
            return self._poll
        if self._emulator is not None:
            return PollPolicy(initial=2.0, floor=2.0, max_wait=3600.0)
        return PollPolicy()

    def expected_seconds(self, shot) -> float | None:
        return getattr(shot, "est_wall_seconds", None) or None

    def price(self, shot) -> Price | None:
        return Price.of(models.price_for(shot.model, "fal", resolution=shot.resolution,
                                       audio=shot.generate_audio, tier=shot.service_tier))

    # -- results --
    def download(self, url: str, dest: Path, *, max_bytes: int, deadline: float) -> int:
        return guarded_download(self._http, url, dest, max_bytes=max_bytes, deadline=deadline)

    def close(self) -> None:
        self._http.close()
        if self._emulator is not None:
            self._emulator.__exit__(None, None, None)
            self._emulator = None


def _path_of(url: str) -> str:
    import httpx

    return httpx.URL(url).path


def _rebuilt(base_url: str, app: str, rid: str) -> dict[str, str]:
    root = f"{base_url.rstrip('/')}/{app}/requests/{rid}"
    return {"status_url": root + "/status", "response_url": root, "cancel_url": root + "/cancel"}


def open_fal(*, base_url: str | None = None, api_key: str | None = None, emulator_config: Any = None,
             **kw: Any) -> FalProvider:
    """fal at ``base_url`` (default ``https://queue.fal.run``) with ``FAL_KEY``. With neither a key
    nor a base URL: a new in-process fal-shaped emulator (ephemeral; the caller must say so)."""
    key = api_key or os.environ.get("FAL_KEY") or None
    if base_url is not None:
        check_base_url(base_url, "FAL_KEY")
        return FalProvider(base_url, key, **kw)
    if key:
        return FalProvider(DEFAULT_BASE_URL, key, **kw)
    from ..emulator import Emulator, EmulatorConfig
    from .ark import EMULATOR_KEY   # a random key no URL path can contain (it is redacted)
    import dataclasses

    cfg = dataclasses.replace(emulator_config or EmulatorConfig(), api="fal")
    emu = Emulator(cfg)
    emu.__enter__()
    try:
        return FalProvider(emu.base_url, EMULATOR_KEY, emulator=emu, identity="fal-emulator@in-process", **kw)
    except BaseException:
        emu.__exit__(None, None, None)
        raise


register("fal", open_fal)
