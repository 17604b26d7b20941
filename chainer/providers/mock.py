"""``MockProvider``: a provider with no HTTP and no encoding, for fast orchestrator tests.

Tasks live in memory and advance one step per ``get`` along a script (default
``queued -> running -> succeeded``). Results are tiny files written on "download": a PNG last
frame of the shot's size and a clip made by a ``clip_maker`` callable (default: a placeholder
byte string; pass one that writes a real video when the test decodes clips). Everything is
scriptable per shot or per call:

- ``script[shot_id] = ["queued", "failed"]``: the statuses successive gets return;
- ``fail_create[n] = exc``: the n-th create (1-based) raises ``exc`` (``ambiguous_after_create``
  creates the task and then raises, like a dropped response);
- ``not_found_gets = {task_id: k}``: the next k gets of that task answer 404 (the task exists);
- ``forget(task_id)``: the provider no longer knows the task (lookup says absent);
- ``list_mode``: "echo" (markers echoed, complete), "strip" (no markers), "partial" (scan
  stops before total); ``list_lag``: tasks younger than this many seconds are missing from it;
- ``expire_urls(task_id)``: its result URLs answer "gone"; ``expire_on_success = {shot_id}``:
  the first task of that shot succeeds with URLs that are already gone;
- ``flaky_404 = {shot_id: k}``: the first k gets of that shot's first task answer 404;
- ``vanish = {shot_id}``: that shot's first task is forgotten the moment it is created;
- ``add_foreign(model, params)``: a task another client created (no marker of ours);
- ``reuse_ids = True``: creates answer an id given before (a broken provider).

``creates`` counts create calls that made a task, per shot id (``creates_for(shot_id)``).
"""
from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from .base import (Failure, FindResult, Lookup, Price, Provider, ProviderRequest, TaskStatus,
                   decide_ownership, register)
from .poll import PollPolicy


class MockError(Exception):
    """An error a MockProvider raises; ``kind`` is its :class:`Failure` kind."""

    def __init__(self, kind: str, message: str = "", *, code: str | None = None,
                 about_input: bool = False):
        super().__init__(message or kind)
        self.kind = kind
        self.code = code
        self.about_input = about_input


@dataclass
class MockTask:
    id: str
    shot_id: str
    request: ProviderRequest
    created_at: float
    script: list[str]
    step: int = 0
    seed: int = 0
    known: bool = True
    urls_gone: bool = False

    @property
    def state(self) -> str:
        return self.script[min(self.step, len(self.script) - 1)]


def _placeholder_clip(path: Path, shot_id: str, size: tuple[int, int]) -> None:
    path.write_bytes(b"mock clip " + shot_id.encode())


def _png(path: Path, size: tuple[int, int], colour: tuple[int, int, int]) -> None:
    from PIL import Image

    Image.new("RGB", size, colour).save(path, format="PNG")


class MockProvider(Provider):
    name = "mock"
    currency = "CNY"
    returns_last_frame = True
    ephemeral = False      # its tasks live as long as the object (tests reuse it across renders)

    def __init__(self, base_url: str | None = None, api_key: str | None = None, *,
                 script: dict[str, list[str]] | None = None, default_script: Iterable[str] = (
                     "queued", "running", "succeeded"),
                 clip_maker: Callable[[Path, str, tuple[int, int]], None] | None = None,
                 list_mode: str = "echo", price_per_mtok: float | None = None,
                 tokens: int = 100_000, poll: PollPolicy | None = None, list_lag: float = 0.0,
                 clock: Callable[[], float] = time.time, identity: str | None = None,
                 billed: bool = True, **_: Any):
        super().__init__(base_url or "mock://local")
        self.script = dict(script or {})
        self.default_script = list(default_script)
        self.clip_maker = clip_maker or _placeholder_clip
        self.list_mode = list_mode
        self.list_lag = list_lag
        self.price_per_mtok = price_per_mtok
        self.tokens = tokens
        self._poll = poll or PollPolicy.fast(0.001, max_wait=30.0)
        self._clock = clock
        self._identity = identity
        self.billed = billed
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.tasks: dict[str, MockTask] = {}
        self.create_calls = 0
        self.fail_create: dict[int, BaseException | str] = {}
        self.not_found_gets: dict[str, int] = {}
        self.cancelled: list[str] = []
        self.expire_on_success: set[str] = set()
        self.flaky_404: dict[str, int] = {}
        self.vanish: set[str] = set()
        self.reuse_ids = False
        self.calls: list[tuple[str, str]] = []

    @property
    def identity(self) -> str:
        return self._identity or super().identity

    # -- counting --
    def creates_for(self, shot_id: str) -> int:
        return sum(1 for t in self.tasks.values() if t.shot_id == shot_id)

    @property
    def creates(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in self.tasks.values():
            out[t.shot_id] = out.get(t.shot_id, 0) + 1
        return out

    def add_foreign(self, model: str, params: dict, *, shot_id: str = "(foreign)") -> str:
        """A task created by another client: same account, no marker of ours."""
        with self._lock:
            tid = f"mock-{next(self._ids):04d}"
            req = ProviderRequest(body={"model": model, "shot": shot_id, "resolution": "480p",
                                        "ratio": "16:9", "duration": 2, "w": 16, "h": 16},
                                  model=model, params=dict(params))
            self.tasks[tid] = MockTask(tid, shot_id, req, self._clock(), ["running"])
            return tid

    def forget(self, task_id: str) -> None:
        self.tasks[task_id].known = False

    def expire_urls(self, task_id: str) -> None:
        self.tasks[task_id].urls_gone = True

    # -- requests and tasks --
    def build_request(self, shot, first_frame: str | None = None, *, marker: str | None = None,
                      seed: int | None = None) -> ProviderRequest:
        body = {"model": shot.model.id, "shot": shot.id, "prompt": shot.prompt,
                "resolution": shot.resolution, "ratio": shot.request_ratio,
                "duration": shot.duration, "w": shot.width, "h": shot.height}
        if shot.chained_from is not None:
            if not first_frame:
                raise ValueError(f"shot {shot.id} chains from {shot.chained_from}: first frame required")
            body["first_frame"] = {"url": first_frame}
        sd = seed if seed is not None else shot.seed
        if sd is not None:
            body["seed"] = sd
        if marker:
            body["marker"] = marker
        params = {k: body[k] for k in ("resolution", "duration") if k in body}
        how = None if first_frame is None else ("data" if first_frame.startswith("data:") else "url")
        return ProviderRequest(body=body, model=shot.model.id, params=params, marker=marker,
                               marker_sent=bool(marker), first_frame=how)

    def submit(self, request: ProviderRequest) -> str:
        with self._lock:
            self.create_calls += 1
            n = self.create_calls
            fail = self.fail_create.get(n)
            if isinstance(fail, BaseException):
                raise fail
            tid = f"mock-{next(self._ids):04d}"
            shot = request.body["shot"]
            if self.reuse_ids and self.tasks:        # a broken provider: an id it gave before
                tid = next(iter(self.tasks))
                self.calls.append(("create", tid))
                return tid
            self.tasks[tid] = MockTask(tid, shot, request, self._clock(),
                                       list(self.script.get(shot, self.default_script)),
                                       seed=request.body.get("seed") or 1000 + n)
            self.calls.append(("create", tid))
            first = self.creates_for(shot) == 1
            if first and shot in self.flaky_404:
                self.not_found_gets[tid] = self.flaky_404[shot]
            if first and shot in self.vanish:
                self.tasks[tid].known = False
            if first and shot in self.expire_on_success:
                self.tasks[tid].urls_gone = True
            if fail == "ambiguous_after_create":
                raise MockError("ambiguous", "connection lost after the create was sent")
            return tid

    def _status(self, t: MockTask) -> TaskStatus:
        st = t.state
        req = t.request
        marker = req.marker if self.list_mode != "strip" else None
        params = dict(req.params)
        res = {"resolution": req.body["resolution"], "ratio": req.body["ratio"],
               "duration": req.body["duration"], "seed": t.seed}
        kw: dict[str, Any] = {}
        if st == "succeeded":
            kw = dict(video_url=f"mock://{t.id}/clip.mp4", last_frame_url=f"mock://{t.id}/last.png",
                      seed=t.seed, tokens=self.tokens)
        if st in ("failed", "expired"):
            kw.update(error_code="MockFailure", error_message="scripted failure")
        return TaskStatus(id=t.id, state=st, model=req.model, created_at=t.created_at,
                          updated_at=t.created_at, marker=marker, params=params, result=res, **kw)

    def get(self, task_id: str) -> TaskStatus:
        with self._lock:
            self.calls.append(("get", task_id))
            left = self.not_found_gets.get(task_id, 0)
            if left:
                self.not_found_gets[task_id] = left - 1
                raise MockError("not_found", f"task {task_id} not found", code="NotFound")
            t = self.tasks.get(task_id)
            if t is None or not t.known:
                raise MockError("not_found", f"task {task_id} not found", code="NotFound")
            status = self._status(t)
            if t.step < len(t.script) - 1:
                t.step += 1
            return status

    def find(self, request: ProviderRequest, *, since: float, known_ids: Iterable[str] = ()) -> FindResult:
        with self._lock:
            items = [t for t in self.tasks.values() if t.known and t.request.model == request.model]
            if self.list_lag:
                now = self._clock()
                items = [t for t in items if now - t.created_at >= self.list_lag]
            statuses = [self._status(t) for t in items]
        complete = self.list_mode != "partial"
        now = self._clock()
        window = (since - 5.0, now + 5.0)
        return decide_ownership(request, statuses, complete=complete, window=window,
                                known_ids=known_ids,
                                markers_echoed=self.list_mode == "echo")

    def lookup(self, task_id: str) -> Lookup:
        with self._lock:
            t = self.tasks.get(task_id)
            if t is None or not t.known:
                return Lookup.absent("unknown by id and absent from the filtered list")
            return Lookup.present(self._status(t))

    def cancel(self, task_id: str) -> None:
        with self._lock:
            t = self.tasks.get(task_id)
            if t is not None and t.state == "queued":
                t.script = ["cancelled"]
                t.step = 0
                self.cancelled.append(task_id)

    def classify(self, exc: BaseException) -> Failure:
        if isinstance(exc, MockError):
            return Failure(exc.kind, str(exc), retryable=exc.kind in (
                "rate_limited", "not_sent", "ambiguous", "download"), code=exc.code,
                about_input=exc.about_input)
        return Failure("other", f"{type(exc).__name__}: {exc}")

    def poll_policy(self) -> PollPolicy:
        return self._poll

    def price(self, shot) -> Price | None:
        per = self.price_per_mtok if self.price_per_mtok is not None else getattr(
            shot, "price_per_mtok", None)
        return Price(float(per), self.currency) if per is not None else None

    def download(self, url: str, dest: Path, *, max_bytes: int, deadline: float) -> int:
        tid, _, what = url[len("mock://"):].partition("/")
        with self._lock:
            t = self.tasks.get(tid)
            if t is None or t.urls_gone:
                raise MockError("result_gone", "result URL no longer valid")
            body = t.request.body
        dest = Path(dest)
        size = (int(body["w"]), int(body["h"]))
        if what == "last.png":
            h = sum(body["shot"].encode()) % 200
            _png(dest, size, (h, 255 - h, 90))
        else:
            self.clip_maker(dest, body["shot"], size)
        return dest.stat().st_size


register("mock", lambda base_url=None, api_key=None, **kw: MockProvider(base_url, api_key, **kw))
