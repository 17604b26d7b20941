"""fal.ai queue API (hosts-2026.md s6), served at the emulator root (the ``queue.fal.run`` host).

Routes::

    POST /{endpoint_id}                                  submit -> request_id + status/response/cancel URLs
    GET  /{owner}/{app}/requests/{id}/status[?logs=1]    IN_QUEUE | IN_PROGRESS | COMPLETED
    GET  /{owner}/{app}/requests/{id}                    result: {"video": {url, ...}, "seed"}
    PUT  /{owner}/{app}/requests/{id}/cancel             202 CANCELLATION_REQUESTED | 400 ALREADY_COMPLETED

``endpoint_id`` is a sub-path endpoint (``bytedance/seedance-2.0/image-to-video``) while the request
URLs live under the app id (its first two segments, ``bytedance/seedance-2.0``), exactly why
hand-built ``{endpoint_id}/requests/{id}`` URLs fail on fal: they 404 here too. Clients must use
the URLs the submit answer returns. Auth: ``Authorization: Key <FAL_KEY>``.

Inputs: ``prompt``, ``image_url`` (image-to-video), ``end_image_url``, ``duration`` (a *string*:
"4".."15" or "auto" on 2.0), ``aspect_ratio`` ("auto" = adaptive), ``resolution``,
``generate_audio``, ``seed``; ``camera_fixed`` on 1.x. Unknown inputs are ignored (pydantic
default). Errors are FastAPI-shaped: 422 ``{"detail": [{"loc", "msg", "type"}]}``, 401/404
``{"detail": "..."}``. Output: ``{"video": {url, content_type, file_name, file_size}, "seed"}``:
no last frame.

UNCONFIRMED choices (most plausible; documented here once):
- inputs are validated at submit (422 at once). Real fal may accept the submit and fail the request
  at result time with the same 422 body; adapters must handle both.
- a failed generation reports COMPLETED with ``error``/``error_type`` in the status, and the result
  URL answers 422 (content policy) or 500 with ``detail``; a cancelled one reports COMPLETED with
  ``error_type: "request_cancelled"`` and its result answers 400.
- there is no listing of requests: the request id from the submit answer is the only handle.
"""
from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from ... import models
from ..validate import ApiError
from . import base
from .base import HostReply, HostRequest, Profile

SEED_MAX = 2 ** 32 - 1
RATIOS = ("21:9", "16:9", "4:3", "1:1", "3:4", "9:16")
POLICY_CODES = ("SensitiveContent", "PolicyViolation")


@dataclass
class _Endpoint:
    endpoint_id: str
    app_id: str              # owner/app: where request URLs live
    neutral: str
    ark_model: str
    image_to_video: bool


@dataclass
class _Request:
    request_id: str
    task_id: str
    endpoint: _Endpoint
    seed: int


def endpoints() -> dict[str, _Endpoint]:
    """Every fal endpoint the emulator serves (only models in the Volcengine table it renders)."""
    out = {}
    for neutral, spec in models.MODELS.items():
        if "fal" not in spec.hosts:
            continue
        for mode in ("t2v", "first_frame"):      # text-to-video and image-to-video endpoints
            i2v = mode == "first_frame"
            eid = models.host_model_id(spec, "fal", mode)
            ark = models.host_model_id(spec, "ark", mode)
            if eid is None or ark is None or base.spec_for(ark) is None:
                continue
            served = base.spec_for(ark)
            if (i2v and not served.first_frame) or (not i2v and not served.t2v):
                continue
            out[eid] = _Endpoint(eid, "/".join(eid.split("/")[:2]), neutral, ark, i2v)
    return out


def _detail(status: int, text: str, error_type: str | None = None) -> HostReply:
    headers = {"X-Fal-Error-Type": error_type} if error_type else {}
    return HostReply(status, {"detail": text}, headers)


def _invalid(field: str, msg: str, typ: str = "value_error") -> ApiError:
    exc = ApiError(422, "ValidationError", msg, field)
    exc.fal_loc = ["body", field] if field else ["body"]
    exc.fal_type = typ
    return exc


class FalProfile(Profile):
    name = "fal"
    base_path = ""

    def __init__(self):
        self._endpoints = endpoints()
        self._requests: dict[str, _Request] = {}
        self._lock = threading.Lock()

    def owns(self, method: str, path: str) -> bool:
        return True

    # ---- routing ------------------------------------------------------------------------------
    def handle(self, emu, req: HostRequest) -> HostReply:
        path = req.path.strip("/")
        parts = path.split("/")
        if "requests" in parts:
            i = parts.index("requests")
            rest = parts[i + 1:]
            if i != 2 or not rest or len(rest) > 2 or (len(rest) == 2 and rest[1] not in ("status", "cancel")):
                return _detail(404, f"Path /{path} not found")
            return self._request_route(emu, req, "/".join(parts[:2]), rest[0], rest[1] if len(rest) == 2 else "")
        ep = self._endpoints.get(path)
        if ep is None:
            return _detail(404, f"Application '{path}' not found")
        if req.method != "POST":
            return _detail(405, "Method not allowed")
        return self._submit(emu, req, ep)

    def _auth(self, emu, req: HostRequest, endpoint: str) -> HostReply | None:
        token = base.bearer_or_scheme(req, ("Key",))
        if base.key_ok(emu, token):
            return None
        base.unauthorized(emu, endpoint)
        if token is None:
            return _detail(401, "Missing or malformed Authorization header: expected 'Key <FAL_KEY>'")
        return _detail(401, "No user found for Key ID and Secret")

    def _faults(self, emu, endpoint: str) -> HostReply | None:
        rule = base.call_faults(emu, endpoint)
        if rule is not None:
            return _detail(rule.status or 500, rule.message or "Internal Server Error", "internal_server_error")
        return None

    # ---- submit ---------------------------------------------------------------------------------
    def _submit(self, emu, req: HostRequest, ep: _Endpoint) -> HostReply:
        base.count_call(emu, "create")
        bad = self._auth(emu, req, "create") or self._faults(emu, "create")
        if bad is not None:
            return bad
        rule = base.rate_limited(emu)
        if rule is not None:
            base.rejected(emu, "RateLimited")
            return _detail(429, rule.message or "Too many requests; concurrent request limit reached",
                           "rate_limited")
        try:
            ark_body, seed = self._to_ark(req.body, ep)
            task_req = base.validate(emu, ark_body)
        except ApiError as exc:
            base.rejected(emu, exc.code)
            if exc.status == 422 or exc.status == 400:
                loc = getattr(exc, "fal_loc", None) or ["body", _fal_field(exc.param)]
                msg = base.api_error_text(exc, ep.ark_model, ep.endpoint_id)
                return HostReply(422, {"detail": [{"loc": loc, "msg": msg,
                                                   "type": getattr(exc, "fal_type", "value_error")}]})
            return _detail(exc.status, exc.message)
        rid = str(uuid.UUID(int=emu._id_rng.getrandbits(128), version=4))
        task = base.create_task(emu, task_req, model=ep.endpoint_id, seed=seed, seed_given=seed is not None)
        with self._lock:
            self._requests[rid] = _Request(rid, task.id, ep, task.seed)
        base.drop_after_create(emu)
        out = self._urls(emu, ep, rid)
        out["queue_position"] = base.queued_ahead(emu, task)
        return HostReply(200, out)

    def _to_ark(self, raw: bytes, ep: _Endpoint) -> tuple[dict, int | None]:
        try:
            body = base.parse_json(raw)
        except ValueError as exc:
            raise _invalid("", str(exc), "json_invalid") from None
        if not isinstance(body, dict):
            raise _invalid("", "Input should be a valid dictionary", "dict_type")
        spec = base.spec_for(ep.ark_model)
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise _invalid("prompt", "Field required" if prompt is None else "Input should be a non-empty string",
                           "missing" if prompt is None else "string_type")
        content: list[dict] = [{"type": "text", "text": prompt}]
        image = body.get("image_url")
        end = body.get("end_image_url")
        if ep.image_to_video:
            if image is None:
                raise _invalid("image_url", "Field required", "missing")
            if not isinstance(image, str):
                raise _invalid("image_url", "Input should be a valid string", "string_type")
            content.append({"type": "image_url", "image_url": {"url": image},
                            "role": "first_frame"})
            if end is not None:
                if not isinstance(end, str):
                    raise _invalid("end_image_url", "Input should be a valid string", "string_type")
                if not spec.first_last:
                    raise _invalid("end_image_url", f"{ep.endpoint_id} does not take an end image")
                content.append({"type": "image_url", "image_url": {"url": end}, "role": "last_frame"})
        ark: dict[str, Any] = {"model": ep.ark_model, "content": content}

        allowed = [str(d) for d in range(spec.min_duration, spec.max_duration + 1)]
        if spec.auto_duration and spec.family != "1.5":
            allowed = ["auto"] + allowed
        duration = body.get("duration")
        if duration is None:
            # hosts-2026.md s6: 2.0/2.5 default "auto" (the cost trap); v1 default "5".
            duration = "auto" if "auto" in allowed else "5"
        if not isinstance(duration, str):
            raise _invalid("duration", "Input should be a valid string", "string_type")
        if duration not in allowed:
            raise _invalid("duration", f"Input should be {', '.join(repr(a) for a in allowed)}", "literal_error")
        ark["duration"] = -1 if duration == "auto" else int(duration)

        ratios = (("auto",) if ep.image_to_video else ()) + RATIOS
        ratio = body.get("aspect_ratio")
        if ratio is None:
            ratio = "auto" if ep.image_to_video else "16:9"
        if ratio not in ratios:
            raise _invalid("aspect_ratio", f"Input should be {', '.join(repr(r) for r in ratios)}", "literal_error")
        ark["ratio"] = "adaptive" if ratio == "auto" else ratio

        res = body.get("resolution")
        if res is not None:
            fal_res = tuple(r for r in spec.resolutions if r != "4k")
            if res not in fal_res:
                raise _invalid("resolution", f"Input should be {', '.join(repr(r) for r in fal_res)}",
                               "literal_error")
            ark["resolution"] = res

        audio = body.get("generate_audio")
        if audio is not None:
            if not isinstance(audio, bool):
                raise _invalid("generate_audio", "Input should be a valid boolean", "bool_type")
            if spec.audio:
                ark["generate_audio"] = audio
        cf = body.get("camera_fixed")
        if cf is not None and spec.camera_fixed:
            if not isinstance(cf, bool):
                raise _invalid("camera_fixed", "Input should be a valid boolean", "bool_type")
            ark["camera_fixed"] = cf

        seed = body.get("seed")
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, int):
                raise _invalid("seed", "Input should be a valid integer", "int_type")
            if not -1 <= seed <= SEED_MAX:
                raise _invalid("seed", f"Input should be between -1 and {SEED_MAX}", "less_than_equal")
            if seed == -1:
                seed = None
        return ark, seed

    # ---- status / result / cancel -------------------------------------------------------------
    def _urls(self, emu, ep: _Endpoint, rid: str) -> dict:
        root = f"{emu.root_url}/{ep.app_id}/requests/{rid}"
        return {"request_id": rid, "response_url": root, "status_url": root + "/status",
                "cancel_url": root + "/cancel"}

    def _request_route(self, emu, req: HostRequest, app_id: str, rid: str, action: str) -> HostReply:
        endpoint = "delete" if action == "cancel" else "get"
        want = {"status": "GET", "": "GET", "cancel": "PUT"}[action]
        if req.method != want:
            return _detail(405, "Method not allowed")
        base.count_call(emu, endpoint)
        bad = self._auth(emu, req, endpoint) or self._faults(emu, endpoint)
        if bad is not None:
            return bad
        with self._lock:
            r = self._requests.get(rid)
        task = base.snapshot(emu, r.task_id) if r is not None and r.endpoint.app_id == app_id else None
        if task is None:
            if action == "cancel":
                return HostReply(404, {"status": "NOT_FOUND"})
            return _detail(404, f"Request {rid} not found")
        if action == "cancel":
            if base.cancel_task(emu, task, running_too=True):
                return HostReply(202, {"status": "CANCELLATION_REQUESTED"})
            return HostReply(400, {"status": "ALREADY_COMPLETED"})
        with base.store_lock(emu):
            status, error, video_url, started = task.status, task.error, task.video_url, task.started_mono
            finished = task.finished_at
            created = task.created_at
        if action == "status":
            return HostReply(200, self._status_body(emu, r, task, status, error, started, finished, created,
                                                    with_logs="logs" in parse_qs(req.query)))
        return self._result(emu, r, status, error, video_url)

    def _status_body(self, emu, r: _Request, task, status, error, started, finished, created,
                     with_logs: bool) -> dict:
        out = self._urls(emu, r.endpoint, r.request_id)
        logs: list | None = [] if with_logs else None
        if status == "queued":
            out.update(status="IN_QUEUE", queue_position=base.queued_ahead(emu, task))
        elif status == "running":
            out.update(status="IN_PROGRESS", logs=logs)
        else:
            out.update(status="COMPLETED", logs=logs,
                       metrics={"inference_time": round(max(0.0, (finished or created) - created), 3)})
            err = _failure(status, error)
            if err is not None:
                out.update(error=err[1], error_type=err[0])
        return out

    def _result(self, emu, r: _Request, status, error, video_url) -> HostReply:
        if status in ("queued", "running"):
            return _detail(400, "Request is still in progress")
        if status == "succeeded":
            f = emu._local_file(video_url)
            size = f.path.stat().st_size if f is not None else None
            name = f"{r.request_id}.mp4"
            video = {"url": video_url, "content_type": "video/mp4", "file_name": name, "file_size": size}
            return HostReply(200, {"video": video, "seed": r.seed})
        etype, msg = _failure(status, error)
        if etype == "content_policy_violation":
            return HostReply(422, {"detail": [{"loc": ["body", "prompt"], "msg": msg, "type": etype}]},
                             {"X-Fal-Error-Type": etype})
        if etype == "request_cancelled":
            return _detail(400, msg, etype)
        if etype == "request_timeout":
            return _detail(504, msg, etype)
        return _detail(500, msg, etype)


def _failure(status: str, error: dict | None) -> tuple[str, str] | None:
    if status == "cancelled":
        return "request_cancelled", "Request was cancelled"
    if status == "expired":
        return "request_timeout", "Request timed out"
    if status == "failed":
        code = (error or {}).get("code", "")
        msg = (error or {}).get("message", "Generation failed")
        if any(c in code for c in POLICY_CODES):
            return "content_policy_violation", msg
        return "internal_server_error", msg
    return None


def _fal_field(param: str) -> str:
    """Best-effort Ark param -> fal input name for validation errors from the shared validator."""
    if not param:
        return "input"
    if "content[1]" in param:
        return "image_url"
    if "content[2]" in param:
        return "end_image_url"
    return {"ratio": "aspect_ratio", "content": "prompt"}.get(param, param)
