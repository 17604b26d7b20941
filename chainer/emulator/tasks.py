"""Task store, lifecycle and scheduler (ark-api.md s5, s6, s7).

``queued`` → ``running`` → ``succeeded``/``failed``; ``expired`` once a queued/running task passes
``created_at + execution_expires_after``; DELETE cancels queued tasks and removes finished ones.
At most ``concurrency`` tasks per model are running (default: the model table's limit, 10; 1.0
lite 5); the rest wait queued (priority first, then creation order). Optional account limits
(``EmulatorConfig.rpm``/``queued_cap`` or the fault rules ``rpm_limit``/``queue_cap``; BytePlus:
120 queued tasks per account) answer 429, enforced in limits.py; ``video_not_ready`` answers 400 on a download right after success. A running task renders its clip (at most ``render_workers`` renders at once) and
stays running at least ``latency`` real seconds.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import logging
import random
import string
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

from .. import models
from ..extension import billed_input_seconds
from .extend import render_start
from .faults import FaultInjector, Rule
from .limits import AccountLimits
from .render import RenderSpec, crop_to_aspect, render_clip
from .stats import Stats
from .validate import ApiError, TaskRequest

log = logging.getLogger("chainer.emulator")

STATUSES = ("queued", "running", "cancelled", "succeeded", "failed", "expired")
ACTIVE = ("queued", "running")
RETENTION = 7 * 86400           # task records (ark-api.md s4)
CANCELLED_RETENTION = 86400     # cancelled tasks are auto-deleted after 24 h (s7)
UTC8 = _dt.timezone(_dt.timedelta(hours=8))
_SUFFIX = string.ascii_lowercase + string.digits
DEFAULT_CONCURRENCY = 10        # Ark's per-model concurrency where the table has none


def request_id(rng: random.Random, now: float) -> str:
    """Server request id in the style of real ones: '021' + ms timestamp + 32 hex."""
    return f"021{int(now * 1000)}{rng.getrandbits(128):032x}"


@dataclass
class ResultFile:
    path: Path
    content_type: str
    expires_at: float             # by the injected clock
    task_id: str


@dataclass
class Task:
    id: str
    seq: int
    req: TaskRequest
    status: str
    created_at: int
    updated_at: int
    created_mono: float
    seed: int
    fail_rule: Rule | None = None
    stuck: bool = False
    started_mono: float | None = None
    error: dict | None = None
    video_url: str | None = None
    last_frame_url: str | None = None
    finished_at: float | None = None
    generation: int = 0           # bumps when the task leaves "running", so a late worker is ignored

    def body(self) -> dict:
        """The task object exactly as GET returns it (ark-api.md s5, s16)."""
        r = self.req
        b: dict = {"id": self.id, "model": r.model, "status": self.status}
        if self.status == "succeeded":
            content = {"video_url": self.video_url}
            if r.return_last_frame and not r.draft:
                content["last_frame_url"] = self.last_frame_url
            b["content"] = content
            d_in = sum(Fraction(billed_input_seconds(d)).limit_denominator(1000)
                       for d in r.reference_video_seconds)
            tokens = models.usage_tokens(
                r.width, r.height, Fraction(r.n_frames - 1, models.FPS), d_in, spec=r.spec,
                audio=bool(r.generate_audio), draft=r.draft,
                video_input=r.n_reference_videos > 0)
            b["usage"] = {"completion_tokens": tokens, "total_tokens": tokens}
        if self.status in ("failed", "expired") and self.error is not None:
            b["error"] = dict(self.error)
        b["created_at"] = self.created_at
        b["updated_at"] = self.updated_at
        if self.status == "succeeded":
            b["seed"] = self.seed
            b["resolution"] = r.resolution
            b["ratio"] = r.ratio
            if r.frames is not None:
                b["frames"] = r.frames
            else:
                b["duration"] = r.duration
            b["framespersecond"] = models.FPS
        # Every model echoes these in 2026 responses (TS-BP: service_tier, execution_expires_after,
        # priority and output_format "mp4" seen on a live 1.0-pro-fast task; 1.5 pro / 2.0 OBS).
        # UNCONFIRMED for 2.x: service_tier is echoed as "default" though the field is refused.
        b["service_tier"] = r.service_tier
        b["execution_expires_after"] = r.execution_expires_after
        b["priority"] = r.priority if r.priority is not None else 0
        b["output_format"] = r.output_format
        if r.spec.audio:            # 1.5 pro / 2.x (OBS, ark-api.md s16)
            b["generate_audio"] = bool(r.generate_audio)
            b["draft"] = r.draft
            if r.draft_task_id:
                b["draft_task_id"] = r.draft_task_id
        if r.omni_reference_task_type is not None:
            b["omni_reference_task_type"] = r.omni_reference_task_type
        if r.tools:
            b["tools"] = r.tools
        if r.safety_identifier is not None:
            b["safety_identifier"] = r.safety_identifier
        return b


class TaskStore:
    """All tasks and result files; the scheduler thread drives their lifecycle."""

    def __init__(self, *, clock: Callable[[], float], rng: random.Random, data_dir: Path,
                 latency: float, queue_delay: float, concurrency: int, render_workers: int,
                 url_ttl: float, drift: float, preset: str, tick: float, faults: FaultInjector,
                 stats: Stats, notify: Callable[[Task], None], file_url: Callable[[str, str], str],
                 limits: AccountLimits | None = None):
        self.clock = clock
        self.rng = rng
        self.data_dir = data_dir
        self.latency = latency
        self.queue_delay = queue_delay
        # None: each model's own limit from the table (Ark: 10; 1.0 lite 5; unknown -> 10)
        self.concurrency = None if concurrency is None else max(1, concurrency)
        self.url_ttl = url_ttl
        self.drift = drift
        self.preset = preset
        self.tick = tick
        self.faults = faults
        self.stats = stats
        self.limits = limits or AccountLimits.from_config(      # the one enforcer: limits.py
            concurrency=self.concurrency or DEFAULT_CONCURRENCY, rpm=None, queued_cap=None,
            rules=faults.config.rules, clock=clock, on_refuse=stats.fault)
        stats.add_section("limits", self.limits.snapshot)
        self._notify = notify
        self._file_url = file_url
        self._cond = threading.Condition(threading.RLock())
        self._tasks: dict[str, Task] = {}
        self._files: dict[str, ResultFile] = {}   # token -> file
        self._seq = 0
        self._render_sem = threading.BoundedSemaphore(max(1, render_workers))
        self._stop = threading.Event()
        self._workers: set[threading.Thread] = set()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="emulator-scheduler")

    # ---- lifecycle of the store itself --------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout=5)
        for t in list(self._workers):
            t.join(timeout=30)

    # ---- API operations ---------------------------------------------------------------------
    def create(self, req: TaskRequest) -> Task:
        with self._cond:
            self.limits.admit(req.model)
            now = self.clock()
            tid = self._new_id(now, flex=req.service_tier == "flex")
            seed = req.seed if req.seed is not None else self.rng.randrange(0, 2 ** 31 - 1)
            self._seq += 1
            task = Task(id=tid, seq=self._seq, req=req, status="queued", created_at=int(now),
                        updated_at=int(now), created_mono=time.monotonic(), seed=seed)
            task.fail_rule = self.faults.fire("task_failed")
            if task.fail_rule is not None:
                self.stats.fault("task_failed")
            task.stuck = self.faults.fire("task_stuck") is not None
            if task.stuck:
                self.stats.fault("task_stuck")
            self._tasks[tid] = task
            self.limits.transition(req.model, None, "queued")
            self.stats.created(req.model)
            self._cond.notify_all()
        self._notify(task)
        return task

    def get(self, task_id: str) -> Task:
        with self._cond:
            self._purge(self.clock())
            task = self._tasks.get(task_id)
            if task is None:
                raise not_found(task_id)
            return task

    def body(self, task_id: str) -> dict:
        with self._cond:
            return self.get(task_id).body()

    def list(self, *, status: str | None, task_ids: list[str], model: str | None,
             service_tier: str | None, page_num: int, page_size: int) -> dict:
        with self._cond:
            now = self.clock()
            self._purge(now)
            lo = now - RETENTION
            items = [t for t in self._tasks.values() if lo <= t.created_at < now + 1]
            if status:
                items = [t for t in items if t.status == status]
            if task_ids:
                wanted = set(task_ids)
                items = [t for t in items if t.id in wanted]
            if model:
                items = [t for t in items if t.req.model == model]
            # an unfiltered list shows only default-tier tasks: flex ones are hidden unless asked
            # for (TS-BP live; hosts-2026.md s3)
            tier = service_tier or "default"
            items = [t for t in items if t.req.service_tier == tier]
            # UNCONFIRMED ordering: newest first (creation order breaks ties within a second).
            items.sort(key=lambda t: (t.created_at, t.seq), reverse=True)
            start = (page_num - 1) * page_size
            page = items[start:start + page_size]
            return {"total": len(items), "items": [t.body() for t in page]}

    def delete(self, task_id: str) -> None:
        notify = None
        with self._cond:
            task = self.get(task_id)
            if task.status == "queued":
                self._set_status(task, "cancelled")
                notify = task
            elif task.status in ("succeeded", "failed", "expired"):
                del self._tasks[task_id]
            else:
                # UNCONFIRMED (ark-api.md s7): Ark's answer to a refused DELETE is undocumented. We use
                # 400 (ArkBadRequestError): not 409, which the SDK would silently retry twice.
                raise ApiError(400, "InvalidParameter.TaskStatus",
                               f"The task {task_id} is {task.status} and cannot be cancelled or deleted "
                               f"(only queued, succeeded, failed and expired tasks can)", "task_id")
            self._cond.notify_all()
        if notify is not None:
            # UNCONFIRMED whether Ark sends a callback for "cancelled"; we do (one attempt).
            self._notify(notify)

    def counts(self) -> tuple[dict[str, int], int]:
        with self._cond:
            out = {s: 0 for s in STATUSES}
            for t in self._tasks.values():
                out[t.status] += 1
            return out, out["queued"] + out["running"]

    def lookup_draft(self, task_id: str) -> TaskRequest | None:
        with self._cond:
            t = self._tasks.get(task_id)
            if t is None or t.status != "succeeded" or not t.req.draft:
                return None
            return dataclasses.replace(t.req, seed=t.seed)

    def file(self, token: str) -> ResultFile | None:
        with self._cond:
            return self._files.get(token)

    def video_not_ready(self, token: str) -> bool:
        """Whether the ``video_not_ready`` fault answers this download: it watches downloads made
        within ``seconds`` (by the clock) of the task's success (ArcReel: a 400 right after
        success; single source)."""
        rule = self.faults.config.rules.get("video_not_ready")
        if rule is None:
            return False
        with self._cond:
            f = self._files.get(token)
            task = self._tasks.get(f.task_id) if f is not None else None
            if task is None or task.finished_at is None or \
                    self.clock() - task.finished_at >= rule.seconds:
                return False
        if self.faults.fire("video_not_ready") is None:
            return False
        self.stats.fault("video_not_ready")
        return True

    def task_snapshot(self, task_id: str) -> Task | None:
        with self._cond:
            return self._tasks.get(task_id)

    # ---- internals ---------------------------------------------------------------------------
    def _new_id(self, now: float, flex: bool = False) -> str:
        stamp = _dt.datetime.fromtimestamp(int(now), UTC8).strftime("%Y%m%d%H%M%S")
        prefix = "cgt-batch" if flex else "cgt"      # flex ids: cgt-batch-... (TS-BP live)
        while True:
            tid = f"{prefix}-{stamp}-{''.join(self.rng.choice(_SUFFIX) for _ in range(5))}"
            if tid not in self._tasks:
                return tid

    def _limit(self, task: Task) -> int:
        return self.concurrency or task.req.spec.concurrency or DEFAULT_CONCURRENCY

    def _set_status(self, task: Task, status: str, error: dict | None = None) -> None:
        self.limits.transition(task.req.model, task.status, status)
        task.status = status
        task.updated_at = max(task.created_at, int(self.clock()))
        if error is not None:
            task.error = error
        if status not in ACTIVE:
            task.generation += 1
            if not task.req.draft:   # keep memory flat over long runs; drafts keep theirs for reuse
                task.req.first_image = task.req.last_image = None
                task.req.reference_images = []

    def _purge(self, now: float) -> None:
        for tid in [tid for tid, t in self._tasks.items()
                    if now - t.created_at >= RETENTION
                    or (t.status == "cancelled" and now - t.updated_at >= CANCELLED_RETENTION)]:
            del self._tasks[tid]

    def _loop(self) -> None:
        while not self._stop.is_set():
            notify: list[Task] = []
            with self._cond:
                now = self.clock()
                mono = time.monotonic()
                self._purge(now)
                running: dict[str, int] = {}
                for t in self._tasks.values():
                    if t.status in ACTIVE and now >= t.created_at + t.req.execution_expires_after:
                        msg = (f"The task was not finished within execution_expires_after "
                               f"({t.req.execution_expires_after} s). Request id: {request_id(self.rng, now)}")
                        # UNCONFIRMED expired body: we attach an error object (a third-party fixture does).
                        self._set_status(t, "expired", {"code": "TaskExpired", "message": msg})
                        notify.append(t)
                    elif t.status == "running":
                        running[t.req.model] = running.get(t.req.model, 0) + 1
                queued = sorted((t for t in self._tasks.values() if t.status == "queued"),
                                key=lambda t: (-(t.req.priority or 0), t.seq))
                for t in queued:
                    if running.get(t.req.model, 0) >= self._limit(t):
                        continue
                    if mono < t.created_mono + self.queue_delay:
                        continue
                    running[t.req.model] = running.get(t.req.model, 0) + 1
                    self._set_status(t, "running")
                    t.started_mono = mono
                    notify.append(t)
                    if not t.stuck:
                        w = threading.Thread(target=self._work, args=(t, t.generation), daemon=True,
                                             name=f"emulator-task-{t.id}")
                        self._workers.add(w)
                        w.start()
            for t in notify:
                self._notify(t)
            with self._cond:
                if not self._stop.is_set():
                    self._cond.wait(self.tick)

    def _still_running(self, task: Task, gen: int) -> bool:
        return task.status == "running" and task.generation == gen and not self._stop.is_set()

    def _work(self, task: Task, gen: int) -> None:
        try:
            self._work_inner(task, gen)
        except Exception as exc:  # noqa: BLE001 - a render bug must fail the task, not the server
            log.exception("emulator task %s crashed", task.id)
            with self._cond:
                if self._still_running(task, gen):
                    rid = request_id(self.rng, self.clock())
                    self._set_status(task, "failed", {"code": "InternalServiceError",
                                                      "message": f"Internal error: {exc}. Request id: {rid}"})
                    self._cond.notify_all()
            self._notify(task)
        finally:
            self._workers.discard(threading.current_thread())

    def _work_inner(self, task: Task, gen: int) -> None:
        req = task.req
        result = None
        if task.fail_rule is None:
            with self._render_sem:
                if not self._still_running(task, gen):
                    return
                t0 = time.monotonic()
                video = self.data_dir / f"{task.id}.mp4"
                png = self.data_dir / f"{task.id}.last.png"
                first, start = render_start(req, self.data_dir, crop_to_aspect)   # motion.py seams
                spec = RenderSpec(
                    width=req.width, height=req.height, n_frames=req.n_frames, prompt=req.prompt,
                    seed=task.seed, first_image=first,
                    last_image=crop_to_aspect(req.last_image, req.width, req.height) if req.last_image else None,
                    reference_images=[] if req.extend_index is not None else list(req.reference_images),
                    camera_fixed=req.camera_fixed, generate_audio=bool(req.generate_audio),
                    watermark=req.watermark, drift=self.drift, preset=self.preset, motion=start,
                    # Ark delivers 2.5 1080p and 2.0 4k as 10-bit HEVC (the table says which)
                    codec="hevc10" if req.spec.is_hevc_10bit(req.resolution) else "h264")
                result = render_clip(spec, video, png)
                self.stats.inc("renders")
                self.stats.inc("render_ms", int((time.monotonic() - t0) * 1000))
        remaining = (task.started_mono or time.monotonic()) + self.latency - time.monotonic()
        if remaining > 0 and self._stop.wait(remaining):
            return
        with self._cond:
            if not self._still_running(task, gen):
                return
            now = self.clock()
            if task.fail_rule is not None:
                rule = task.fail_rule
                msg = rule.message or ("The request failed because the output video may be related to "
                                       "copyright restrictions")
                self._set_status(task, "failed", {"code": rule.code or "OutputVideoSensitiveContentDetected",
                                                  "message": f"{msg}. Request id: {request_id(self.rng, now)}"})
            else:
                assert result is not None
                expires = now + self.url_ttl
                vt = f"{self.rng.getrandbits(128):032x}"
                self._files[vt] = ResultFile(result.video, "video/mp4", expires, task.id)
                task.video_url = self._file_url(vt, f"{task.id}.mp4")
                if req.return_last_frame and not req.draft:
                    pt = f"{self.rng.getrandbits(128):032x}"
                    self._files[pt] = ResultFile(result.last_frame_png, "image/png", expires, task.id)
                    task.last_frame_url = self._file_url(pt, f"{task.id}.png")
                task.finished_at = now
                self._set_status(task, "succeeded")
            self._cond.notify_all()
        self._notify(task)


def not_found(task_id: str) -> ApiError:
    # UNCONFIRMED code for an unknown/deleted task id (ark-api.md s17).
    return ApiError(404, "ResourceNotFound", f"The specified task {task_id} is not found", "task_id")
