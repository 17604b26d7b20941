"""Replicate predictions API (hosts-2026.md s6), served at the emulator root (``api.replicate.com``).

Routes::

    POST /v1/models/{owner}/{name}/predictions   create {"input": {...}} (``Prefer: wait[=N]`` honoured)
    GET  /v1/predictions/{id}                    the prediction
    POST /v1/predictions/{id}/cancel             cancel (queued or running)
    GET  /v1/predictions[?cursor=...]            list, newest first, {"next", "previous", "results"}

Auth: ``Authorization: Bearer <REPLICATE_API_TOKEN>`` (``Token`` accepted too). Statuses:
starting, processing, succeeded, failed, canceled. Inputs: ``prompt``, ``image`` (first frame),
``last_frame_image`` (needs ``image``), ``duration`` (int), ``resolution``, ``aspect_ratio``
(default 16:9; ``adaptive`` allowed), ``generate_audio``, ``seed``; ``camera_fixed``/``fps`` on 1.x.
Output: one URL string, no last frame. Errors are problem documents
``{"title", "detail", "status"[, "invalid_fields"]}`` (422 for bad input, 401, 404).

"For predictions created through the API, all input parameters, output values, output files, and
logs are automatically removed after an hour": result URLs here live at most :data:`RETENTION`
seconds after completion (``url_ttl_cap``, read on the emulator's injectable clock) and the
prediction then reads ``data_removed: true`` with ``output: null`` and ``input: {}``.

UNCONFIRMED (most plausible, stated once): unknown inputs are ignored; a task that expires reads
``failed`` with error "Prediction timed out"; there is no idempotency key.
"""
from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from ... import models
from ..validate import ApiError
from . import base
from .base import HostReply, HostRequest, Profile

RETENTION = 3600.0
SEED_MAX = 2 ** 32 - 1
RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "9:21", "adaptive")
PAGE_SIZE = 100
WAIT_MAX = 60
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_STATUS = {"queued": "starting", "running": "processing", "succeeded": "succeeded", "failed": "failed",
           "expired": "failed", "cancelled": "canceled"}


@dataclass
class _Prediction:
    id: str
    task_id: str
    model: str
    version: str
    input: dict
    seq: int
    started: float | None = None          # epoch (clock) when first seen running
    extra: dict = field(default_factory=dict)


def _problem(status: int, title: str, detail: str, invalid: list | None = None) -> HostReply:
    body: dict[str, Any] = {"title": title, "detail": detail, "status": status}
    if invalid is not None:
        body["invalid_fields"] = invalid
    return HostReply(status, body)


class _Invalid(Exception):
    def __init__(self, field_: str, description: str):
        super().__init__(description)
        self.field = field_
        self.description = description


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def models_served() -> dict[str, str]:
    """Replicate model name -> Volcengine id (only models the emulator's table renders)."""
    out = {}
    for spec in models.MODELS.values():
        name = models.host_model_id(spec, "replicate", "first_frame") if "replicate" in spec.hosts else None
        ark = models.host_model_id(spec, "ark", "first_frame") if "ark" in spec.hosts else None
        if name is not None and ark is not None and base.spec_for(ark) is not None:
            out[name] = ark
    return out


class ReplicateProfile(Profile):
    name = "replicate"
    base_path = ""
    url_ttl_cap = RETENTION

    def __init__(self):
        self._models = models_served()
        self._preds: dict[str, _Prediction] = {}
        self._lock = threading.Lock()
        self._seq = 0

    def owns(self, method: str, path: str) -> bool:
        return True

    # ---- routing ------------------------------------------------------------------------------
    def handle(self, emu, req: HostRequest) -> HostReply:
        parts = req.path.strip("/").split("/")
        if parts[:2] == ["v1", "models"] and len(parts) == 5 and parts[4] == "predictions":
            if req.method != "POST":
                return _problem(405, "Method not allowed", f"{req.method} is not allowed here")
            return self._create(emu, req, f"{parts[2]}/{parts[3]}")
        if parts[:2] == ["v1", "predictions"]:
            if len(parts) == 2 and req.method == "GET":
                return self._list(emu, req)
            if len(parts) == 3 and req.method == "GET":
                return self._get(emu, req, parts[2])
            if len(parts) == 4 and parts[3] == "cancel" and req.method == "POST":
                return self._cancel(emu, req, parts[2])
        return _problem(404, "Not found", "The requested resource could not be found.")

    def _auth(self, emu, req: HostRequest, endpoint: str) -> HostReply | None:
        token = base.bearer_or_scheme(req, ("Bearer", "Token"))
        if base.key_ok(emu, token):
            return None
        base.unauthorized(emu, endpoint)
        return _problem(401, "Unauthenticated", "You did not pass a valid authentication token")

    def _faults(self, emu, endpoint: str) -> HostReply | None:
        rule = base.call_faults(emu, endpoint)
        if rule is not None:
            return _problem(rule.status or 500, "Internal server error",
                            rule.message or "Something went wrong on our end")
        return None

    # ---- create ---------------------------------------------------------------------------------
    def _create(self, emu, req: HostRequest, model: str) -> HostReply:
        base.count_call(emu, "create")
        bad = self._auth(emu, req, "create") or self._faults(emu, "create")
        if bad is not None:
            return bad
        ark_model = self._models.get(model)
        if ark_model is None:
            base.rejected(emu, "NotFound")
            return _problem(404, "Not found", "The requested resource could not be found.")
        rule = base.rate_limited(emu)
        if rule is not None:
            base.rejected(emu, "Throttled")
            return HostReply(429, {"title": "Request was throttled", "status": 429,
                                   "detail": rule.message or "Request was throttled. Expected available in 1 second."},
                             {"Retry-After": "1"})
        try:
            body = base.parse_json(req.body)
            if not isinstance(body, dict) or not isinstance(body.get("input"), dict):
                raise _Invalid("input", "input is required and must be an object")
            inp = body["input"]
            ark_body, seed = self._to_ark(inp, ark_model)
            task_req = base.validate(emu, ark_body)
        except ValueError as exc:
            base.rejected(emu, "InvalidJSON")
            return _problem(400, "Invalid JSON", str(exc))
        except _Invalid as exc:
            base.rejected(emu, "InputValidation")
            return self._invalid(exc.field, exc.description)
        except ApiError as exc:
            base.rejected(emu, exc.code)
            return self._invalid(_rep_field(exc.param), base.api_error_text(exc, ark_model, model))
        task = base.create_task(emu, task_req, model=model, seed=seed, seed_given=seed is not None)
        with self._lock:
            self._seq += 1
            pid = "".join(_ID_ALPHABET[emu._id_rng.randrange(32)] for _ in range(26))
            version = hashlib.sha256(model.encode()).hexdigest()
            pred = _Prediction(pid, task.id, model, version, dict(inp), self._seq)
            self._preds[pid] = pred
        base.drop_after_create(emu)
        wait = _prefer_wait(req.headers.get("Prefer"))
        if wait:
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and not emu._stopped.is_set():
                t = base.snapshot(emu, task.id)
                if t is None or t.status not in ("queued", "running"):
                    break
                emu._stopped.wait(0.05)
        return HostReply(201, self._body(emu, pred))

    def _invalid(self, field_: str, description: str) -> HostReply:
        return _problem(422, "Input validation failed", f"- {field_}: {description}\n",
                        [{"type": "invalid", "field": field_, "description": description}])

    def _to_ark(self, inp: dict, ark_model: str) -> tuple[dict, int | None]:
        spec = base.spec_for(ark_model)
        prompt = inp.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise _Invalid("input.prompt", "prompt is required")
        content: list[dict] = [{"type": "text", "text": prompt}]
        image, last = inp.get("image"), inp.get("last_frame_image")
        refs = inp.get("reference_images")
        if refs:
            if image is not None:
                raise _Invalid("input.reference_images", "Cannot be combined with image")
            if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
                raise _Invalid("input.reference_images", "Invalid type. Expected: array of uri")
            content += [{"type": "image_url", "image_url": {"url": r}, "role": "reference_image"} for r in refs]
        if image is not None:
            if not isinstance(image, str):
                raise _Invalid("input.image", "Invalid type. Expected: string (uri)")
            content.append({"type": "image_url", "image_url": {"url": image}, "role": "first_frame"})
        if last is not None:
            if image is None:
                raise _Invalid("input.last_frame_image", "Only works if a first frame image is also provided")
            if not isinstance(last, str):
                raise _Invalid("input.last_frame_image", "Invalid type. Expected: string (uri)")
            content.append({"type": "image_url", "image_url": {"url": last}, "role": "last_frame"})
        ark: dict[str, Any] = {"model": ark_model, "content": content}
        duration = inp.get("duration", 5)
        if isinstance(duration, bool) or not isinstance(duration, int):
            raise _Invalid("input.duration", "Invalid type. Expected: integer")
        ark["duration"] = duration
        res = inp.get("resolution")
        if res is not None:
            if not isinstance(res, str):
                raise _Invalid("input.resolution", "Invalid type. Expected: string")
            ark["resolution"] = res
        ratio = inp.get("aspect_ratio", "16:9")
        if ratio not in RATIOS:
            raise _Invalid("input.aspect_ratio", f"aspect_ratio must be one of: {', '.join(RATIOS)}")
        if ratio == "9:21":
            raise _Invalid("input.aspect_ratio", "9:21 is not supported by this model")
        if spec.family == "1.0" and image is not None:
            ratio = "adaptive"          # 1.x: "aspect_ratio ignored if an image is used"
        ark["ratio"] = ratio
        audio = inp.get("generate_audio")
        if audio is not None:
            if not isinstance(audio, bool):
                raise _Invalid("input.generate_audio", "Invalid type. Expected: boolean")
            if spec.audio:
                ark["generate_audio"] = audio
        elif spec.audio:
            ark["generate_audio"] = spec.family != "1.5"   # Replicate: 1.5 pro defaults to False
        cf = inp.get("camera_fixed")
        if cf is not None and spec.camera_fixed:
            if not isinstance(cf, bool):
                raise _Invalid("input.camera_fixed", "Invalid type. Expected: boolean")
            ark["camera_fixed"] = cf
        seed = inp.get("seed")
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, int):
                raise _Invalid("input.seed", "Invalid type. Expected: integer")
            if not -1 <= seed <= SEED_MAX:
                raise _Invalid("input.seed", f"Must be between -1 and {SEED_MAX}")
            if seed == -1:
                seed = None
        return ark, seed

    # ---- read / cancel / list -------------------------------------------------------------------
    def _lookup(self, emu, req: HostRequest, pid: str, endpoint: str) -> tuple[_Prediction | None, HostReply | None]:
        base.count_call(emu, endpoint)
        bad = self._auth(emu, req, endpoint) or self._faults(emu, endpoint)
        if bad is not None:
            return None, bad
        with self._lock:
            pred = self._preds.get(pid)
        if pred is None or base.snapshot(emu, pred.task_id) is None:
            return None, _problem(404, "Not found", "The requested resource could not be found.")
        return pred, None

    def _get(self, emu, req: HostRequest, pid: str) -> HostReply:
        pred, bad = self._lookup(emu, req, pid, "get")
        return bad or HostReply(200, self._body(emu, pred))

    def _cancel(self, emu, req: HostRequest, pid: str) -> HostReply:
        pred, bad = self._lookup(emu, req, pid, "delete")
        if bad is not None:
            return bad
        task = base.snapshot(emu, pred.task_id)
        if task is not None:
            base.cancel_task(emu, task, running_too=True)   # finished ones stay as they are
        return HostReply(200, self._body(emu, pred))

    def _list(self, emu, req: HostRequest) -> HostReply:
        base.count_call(emu, "list")
        bad = self._auth(emu, req, "list") or self._faults(emu, "list")
        if bad is not None:
            return bad
        q = parse_qs(req.query)
        start = 0
        cursor = (q.get("cursor") or [""])[-1]
        if cursor:
            try:
                start = int(base64.urlsafe_b64decode(cursor.encode()).decode())
            except (ValueError, UnicodeDecodeError):
                return _problem(400, "Invalid cursor", "The cursor is not valid")
        with self._lock:
            preds = sorted(self._preds.values(), key=lambda p: -p.seq)
        preds = [p for p in preds if base.snapshot(emu, p.task_id) is not None]
        page = preds[start:start + PAGE_SIZE]
        nxt = None
        if start + PAGE_SIZE < len(preds):
            token = base64.urlsafe_b64encode(str(start + PAGE_SIZE).encode()).decode()
            nxt = f"{emu.root_url}/v1/predictions?cursor={token}"
        return HostReply(200, {"next": nxt, "previous": None, "results": [self._body(emu, p) for p in page]})

    def _body(self, emu, pred: _Prediction) -> dict:
        task = base.snapshot(emu, pred.task_id)
        now = emu.clock()
        with base.store_lock(emu):
            status = task.status if task is not None else "failed"
            error = task.error if task is not None else None
            video_url = task.video_url if task is not None else None
            created = task.created_at if task is not None else now
            finished = task.finished_at if task is not None else None
            updated = task.updated_at if task is not None else now
        if status != "queued" and pred.started is None:
            pred.started = float(updated if status == "running" else created)
        terminal = status not in ("queued", "running")
        completed = (finished if finished is not None else float(updated)) if terminal else None
        removed = terminal and completed is not None and now >= completed + RETENTION
        root = f"{emu.root_url}/v1/predictions/{pred.id}"
        out: dict[str, Any] = {
            "id": pred.id, "model": pred.model, "version": pred.version,
            "input": {} if removed else pred.input, "logs": "", "output": None, "data_removed": removed,
            "error": None, "status": _STATUS[status], "source": "api",
            "created_at": _iso(float(created)), "started_at": _iso(pred.started),
            "completed_at": _iso(completed), "urls": {"get": root, "cancel": root + "/cancel"},
        }
        if status == "succeeded" and not removed:
            out["output"] = video_url
        if status == "failed":
            out["error"] = (error or {}).get("message", "Prediction failed")
        elif status == "expired":
            out["error"] = "Prediction timed out"
        if terminal and pred.started is not None and completed is not None:
            out["metrics"] = {"predict_time": round(max(0.0, completed - pred.started), 3)}
        return out


def _prefer_wait(header: str | None) -> float:
    """Seconds to hold the create answer for ``Prefer: wait[=N]`` (0 when absent)."""
    if not header:
        return 0.0
    for part in header.split(","):
        part = part.strip().lower()
        if part == "wait":
            return float(WAIT_MAX)
        if part.startswith("wait="):
            try:
                return float(min(max(int(part[5:]), 1), WAIT_MAX))
            except ValueError:
                return 0.0
    return 0.0


def _rep_field(param: str) -> str:
    if not param:
        return "input"
    if "content" in param and "image_url" in param:
        return "input.image"
    return {"ratio": "input.aspect_ratio", "content": "input.prompt"}.get(param, f"input.{param}")
