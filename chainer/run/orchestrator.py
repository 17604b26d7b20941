"""``render``: storyboard -> chained tasks -> verified clips -> one video, durable and resumable.

Per sequence (sequences run concurrently up to ``concurrency``; shots within one strictly in
order): build the request, record a create *intent* (with a client-side marker sent as
``safety_identifier``), POST, record the task id, poll, and the moment the task succeeds download
its last frame (a small PNG, verified by decoding and against the clip's W x H), journal it, and
submit the next shot from it (its URL while fresh; its bytes are hashed into the next shot's
key). The clip itself is downloaded and verified by decoding on a small download pool
(``DOWNLOAD_WORKERS``) meanwhile, off the chain's critical path; the run is complete only when
every clip is. Every step is committed to the journal first, so a re-run after a crash resumes
exactly where the last one stopped:

- a shot whose key has a succeeded, downloaded task is reused (no network);
- a task in flight is polled again, never submitted twice;
- a create whose outcome is unknown (timeout, dropped connection, 5xx) is resolved by listing the
  provider's recent tasks and adopting the one carrying our marker; if that cannot be decided the
  sequence stops and says so rather than risk a duplicate paid task;
- a succeeded task whose result URL expired before the download finished means a new task (with
  the returned seed where the model takes one), said clearly. When the clip's URL expires after
  later shots were already chained from the old last frame, the sequence goes back to that shot:
  the later shots are kept if the new clip ends on the same last frame (their input is then
  byte-identical) and rendered again from the new frame otherwise, exactly as after an edit of
  that shot, since the old clips would not join the new one seamlessly. Both cases are said.
"""
from __future__ import annotations

import json
import os
import random
import secrets
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..ark import (ArkClient, ArkConnectionError, ArkError, ArkHTTPError, ArkNotFoundError,
                   ArkResponseError, ArkURLExpiredError, DownloadError, Task)
from ..ark.client import DEFAULT_BASE_URL
from ..ark.retry import RetryPolicy, call_with_retry, create_retryable, default_retryable
from ..errors import ChainerError, InputError
from . import assembly
from . import journal as J
from .budget import Budget
from .download import fetch, sha256_file, url_fresh, verify_png, verify_video
from .keys import body_fingerprint, compact_body, data_url_png
from .progress import Progress, make_progress

CONFIRM_ABOVE = 10.0            # CNY: ask before spending more than this (--yes skips)
EMULATOR_KEY = "chainer-emulator"
LIST_PAGES = 5                  # pages of 100 tasks scanned to resolve an ambiguous create
CREATE_SLACK = 120.0            # seconds of clock skew tolerated when matching created_at
DOWNLOAD_WORKERS = 2            # clips downloaded and verified at once, off the chain's path


# ---- policies and results -------------------------------------------------------------------------

EXPIRES_DEFAULT = 172800        # Ark's default execution_expires_after (s): a task still
                                # queued/running that long after created_at becomes "expired"
EXPIRES_MARGIN = 600.0          # keep polling this long past it, to see the "expired" status


@dataclass(frozen=True)
class PollPolicy:
    """When to poll a task and how long to wait for it; also the retry backoff for calls.

    The interval before the next poll is a pure function of the time elapsed since the task was
    submitted (:meth:`next_delay`): ``initial`` before the first poll, then
    ``max(floor, fraction * elapsed)`` capped at ``cap``, so it backs off as a task runs long but
    a task is never seen more than ``max(floor, fraction * elapsed)`` after it finished. Jitter
    only shortens an interval (the bound holds). With ``aim``, a poll that would pass the
    expected completion time is moved onto it. ``fraction=0`` and ``floor == cap == initial``
    is a fixed interval (:meth:`fast`). ``max_wait`` bounds the total wait per task, counted
    from its submission; ``None`` means the task's ``execution_expires_after`` (after which the
    provider itself expires it) plus a margin.
    """

    initial: float = 10.0
    floor: float = 10.0
    fraction: float = 0.15
    cap: float = 60.0
    jitter: float = 0.2
    aim: bool = True
    max_wait: float | None = None
    retry: RetryPolicy = RetryPolicy()

    @classmethod
    def for_provider(cls, provider: str) -> "PollPolicy":
        if provider == "emulator":
            return cls(initial=2.0, floor=2.0, max_wait=3600.0)
        return cls()

    @classmethod
    def fast(cls, interval: float = 0.1, max_wait: float = 300.0) -> "PollPolicy":
        """A fixed schedule (tests, benchmarks, ``--poll-interval``): poll every ``interval`` s,
        no jitter; failed calls are retried after ``interval`` s growing to 4x."""
        return cls(initial=interval, floor=interval, fraction=0.0, cap=interval, jitter=0.0,
                   aim=False, max_wait=max_wait,
                   retry=RetryPolicy(initial=interval, factor=1.5, cap=interval * 4, attempts=8))

    @property
    def fixed(self) -> bool:
        return self.fraction == 0 and self.floor == self.cap == self.initial and not self.jitter

    def bound(self, elapsed: float) -> float:
        """The longest interval allowed after ``elapsed`` seconds."""
        if elapsed <= 0:
            return self.initial
        return min(self.cap, max(self.floor, self.fraction * elapsed))

    def next_delay(self, elapsed: float, expected: float | None, rng: random.Random) -> float:
        """Seconds to wait before the next poll of a task submitted ``elapsed`` seconds ago whose
        generation is expected to take ``expected`` seconds (``None``: unknown)."""
        d = self.bound(elapsed)
        if self.jitter:
            d *= 1.0 - self.jitter * rng.random()
        if self.aim and expected and elapsed < expected < elapsed + d:
            d = max(expected - elapsed, min(1.0, d))
        return d

    def schedule(self, expected: float | None, rng: random.Random, until: float) -> list[float]:
        """Poll times (seconds after submission) up to ``until``: for tests and benchmarks."""
        out, t = [], 0.0
        while t < until:
            t += self.next_delay(t, expected, rng)
            out.append(t)
        return out

    def detected_at(self, latency: float, expected: float | None = None,
                    rng: random.Random | None = None) -> tuple[float, int]:
        """When a task finishing ``latency`` s after submission is seen, and the GETs it took."""
        times = self.schedule(expected, rng or random.Random(0), latency)
        return times[-1], len(times)

    def wait_limit(self, request: dict | None) -> float:
        """Total seconds to wait for one task, counted from its submission."""
        if self.max_wait is not None:
            return self.max_wait
        expires = (request or {}).get("execution_expires_after")
        return float(expires if isinstance(expires, (int, float)) else EXPIRES_DEFAULT) + EXPIRES_MARGIN


@dataclass
class RenderResult:
    run_dir: Path
    output: Path | None
    summary: dict
    shots: list[dict]
    ok: bool = True
    problems: list[str] = field(default_factory=list)


class SequenceStop(ChainerError):
    """Stops one sequence (other sequences go on); the message says why and what to do.
    ``shot_id``: the shot it stopped at, when not the one being rendered."""

    def __init__(self, message: str, *, shot_id: str | None = None):
        super().__init__(message)
        self.shot_id = shot_id


@dataclass
class VideoJob:
    attempt_id: int
    future: Any     # Future[tuple[str, str]]: see Runner._video_job


class Interrupted(ChainerError):
    exit_code = 130


@dataclass
class Provider:
    name: str                 # "emulator" | "ark"
    base_url: str
    api_key: str
    identity: str             # part of every shot key: results from different providers differ
    emulator: Any = None


# ---- assessment: what a (re-)run would do ---------------------------------------------------------

@dataclass
class ShotState:
    shot_id: str
    action: str               # reuse | download | poll | resolve | submit | resubmit | wait | blocked
    reason: str = ""
    key: str | None = None
    attempt: J.Attempt | None = None
    frame_ready: bool = False   # the next shot can chain from it (see chain_ready)


def clip_path(run_dir: Path, shot_id: str) -> Path:
    return run_dir / "clips" / f"{shot_id}.mp4"


def frame_path(run_dir: Path, shot_id: str) -> Path:
    return run_dir / "frames" / f"{shot_id}.last.png"


def provider_identity(name: str, base_url: str) -> str:
    if name == "emulator":
        return "emulator"
    import httpx

    host = httpx.URL(base_url).host
    if host in ("127.0.0.1", "localhost", "::1") or host.startswith("127."):
        return f"ark@{host}:{httpx.URL(base_url).port}"
    return "ark"


def shot_key(shot, identity: str, first_png: bytes | None) -> str:
    body = shot.request_body(data_url_png(first_png) if first_png is not None else None)
    body["_provider"] = identity
    return body_fingerprint(body)


def local_ok(att: J.Attempt | None, run_dir: Path, need_frame: bool) -> bool:
    """Whether ``att``'s clip (and last frame when needed) are on disk, intact."""
    if att is None or att.state != J.SUCCEEDED or not att.clip_sha:
        return False
    clip = clip_path(run_dir, att.shot_id)
    if not clip.exists() or clip.stat().st_size != (att.clip_bytes or -1) or sha256_file(clip) != att.clip_sha:
        return False
    if need_frame:
        frame = frame_path(run_dir, att.shot_id)
        if not att.frame_sha or not frame.exists() or sha256_file(frame) != att.frame_sha:
            return False
    return True


def frame_ok(att: J.Attempt | None, run_dir: Path) -> bool:
    """Whether ``att``'s last frame is on disk, intact."""
    if att is None or not att.frame_sha:
        return False
    frame = frame_path(run_dir, att.shot_id)
    return frame.exists() and sha256_file(frame) == att.frame_sha


def chain_ready(st: "ShotState") -> bool:
    """Whether the next shot can be rendered from ``st``'s shot: its result is on disk, or its
    task succeeded and its last frame is (the clip downloads meanwhile)."""
    return st.action == "reuse" or (st.action == "download" and st.frame_ready)


def assess(plan, journal: J.Journal, run_dir: Path, identity: str, *,
           now: float | None = None) -> list[ShotState]:
    """For every planned shot, what running now would do (no network)."""
    now = time.time() if now is None else now
    out: list[ShotState] = []
    for seq in plan.sequences:
        blocked: str | None = None
        prev: ShotState | None = None
        for i, shot in enumerate(seq.shots):
            if blocked:
                out.append(ShotState(shot.id, "wait", blocked))
                continue
            need_frame = i + 1 < len(seq.shots) and seq.shots[i + 1].chained_from == shot.id
            first = None
            if shot.chained_from:
                fp = frame_path(run_dir, shot.chained_from)
                if prev is None or not chain_ready(prev) or not fp.exists():
                    out.append(ShotState(shot.id, "wait", f"after {shot.chained_from}"))
                    blocked = f"after {shot.chained_from}"
                    continue
                first = fp.read_bytes()
            try:
                key = shot_key(shot, identity, first)
            except InputError as exc:
                out.append(ShotState(shot.id, "blocked", str(exc)))
                blocked = f"after {shot.id}"
                continue
            att = journal.latest(shot.id, key)
            st = ShotState(shot.id, "submit", "not rendered yet", key, att)
            if att is None:
                if journal.attempts(shot.id):
                    st.reason = "inputs changed (prompt, parameters or input frame)"
            elif att.state == J.SUCCEEDED:
                if local_ok(att, run_dir, need_frame):
                    st.action, st.reason = "reuse", f"task {att.task_id} downloaded"
                elif att.url_expired:
                    st.action, st.reason = "resubmit", "result URL expired before download"
                else:
                    st.action, st.reason = "download", f"task {att.task_id} succeeded, not downloaded"
            elif att.state in (J.CREATING, J.AMBIGUOUS):
                st.action, st.reason = "resolve", "create outcome unknown: will look for the task"
            elif att.in_flight:
                st.action, st.reason = "poll", f"task {att.task_id} {att.state}"
            else:
                st.action = "resubmit"
                st.reason = f"last attempt {att.state}" + (
                    f": {att.error_code}" if att.error_code else "")
            if st.action == "download" and need_frame and not frame_ok(att, run_dir):
                st.reason += " (last frame missing: the next shot waits for it)"
            st.frame_ready = st.action == "reuse" or (
                st.action == "download" and (not need_frame or frame_ok(att, run_dir)))
            out.append(st)
            if not chain_ready(st):
                blocked = f"after {shot.id}"
            prev = st
    return out


# ---- the run ---------------------------------------------------------------------------------------

def _default_run_dir(storyboard_path: Path, draft: bool) -> Path:
    stem = storyboard_path.stem
    return Path("renders") / (f"{stem}-draft" if draft else stem)


def _resolve_provider(provider: str, base_url: str | None, api_key: str | None) -> tuple[str, str | None, str | None]:
    key = api_key or os.environ.get("ARK_API_KEY") or None
    if provider not in ("auto", "ark", "emulator"):
        raise InputError(f"--provider: {provider!r} is not one of auto, ark, emulator")
    if provider == "auto":
        provider = "ark" if key else "emulator"
    if provider == "ark":
        if not key:
            raise InputError("--provider ark needs an API key: set ARK_API_KEY "
                             "(or use --provider emulator)")
        return "ark", (base_url or os.environ.get("ARK_BASE_URL") or DEFAULT_BASE_URL), key
    return "emulator", None, None


def render(storyboard_path, *, run_dir=None, provider: str = "auto", base_url: str | None = None,
           api_key: str | None = None, concurrency: int = 3, budget: float | None = None,
           draft: bool = False, yes: bool = False, retry_failed: int = 0,
           cancel_on_interrupt: bool = False, emulator_config=None, progress=None,
           confirm: Callable[[str], bool] | None = None, poll: PollPolicy | float | None = None,
           confirm_above: float = CONFIRM_ABOVE, transport=None, rng: random.Random | None = None,
           stitch_options: dict | None = None) -> RenderResult:
    """Render a storyboard into ``run_dir`` (see module docstring). Raises :class:`InputError`
    (nothing submitted) for a bad storyboard, a refused budget or an unconfirmed estimate."""
    from ..plan import build_plan

    if concurrency < 1:
        raise InputError(f"--concurrency: {concurrency} must be at least 1")
    if retry_failed < 0:
        raise InputError(f"--retry-failed: {retry_failed} must be 0 or more")
    if budget is not None and budget < 0:
        raise InputError(f"--budget: {budget} must not be negative")
    storyboard_path = Path(storyboard_path)
    plan = build_plan(storyboard_path, draft=draft)
    run_dir = Path(run_dir) if run_dir else _default_run_dir(storyboard_path, draft)
    name, url, key = _resolve_provider(provider, base_url, api_key)
    prog = make_progress(progress)
    if isinstance(poll, (int, float)):
        if not poll > 0:
            raise InputError(f"--poll-interval: {poll} must be a positive number of seconds")
        poll = PollPolicy.fast(float(poll))
    runner = Runner(plan, run_dir, prog, concurrency=concurrency, budget=budget, yes=yes,
                    retry_failed=retry_failed, cancel_on_interrupt=cancel_on_interrupt,
                    confirm=confirm, confirm_above=confirm_above, rng=rng or random.Random(),
                    stitch_options=stitch_options or {})
    if name == "emulator":
        from ..emulator import Emulator, EmulatorConfig

        cfg = emulator_config or EmulatorConfig()
        with Emulator(cfg) as emu:
            prov = Provider("emulator", emu.base_url, EMULATOR_KEY, "emulator", emu)
            if provider == "auto":
                prog.message(f"ARK_API_KEY is not set: rendering with the built-in emulator at "
                             f"{emu.base_url} (procedural clips, nothing is billed)")
            return runner.run(prov, poll or PollPolicy.for_provider("emulator"), transport)
    prov = Provider("ark", url, key, provider_identity("ark", url))
    return runner.run(prov, poll or PollPolicy.for_provider("ark"), transport)


class Runner:
    def __init__(self, plan, run_dir: Path, progress: Progress, *, concurrency: int,
                 budget: float | None, yes: bool, retry_failed: int, cancel_on_interrupt: bool,
                 confirm, confirm_above: float, rng: random.Random, stitch_options: dict):
        self.plan = plan
        self.run_dir = Path(run_dir)
        self.progress = progress
        self.concurrency = concurrency
        self.budget_limit = budget
        self.yes = yes
        self.retry_failed = retry_failed
        self.cancel_on_interrupt = cancel_on_interrupt
        self.confirm = confirm
        self.confirm_above = confirm_above
        self.rng = rng
        self._rng_lock = threading.Lock()
        self.stitch_options = stitch_options
        self.stop = threading.Event()
        self.invocation = time.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
        self.current: dict[str, J.Attempt | None] = {}
        self.problems: list[str] = []
        self._problems_lock = threading.Lock()
        self.budget = Budget(budget, plan.currency)
        self._keys: dict[str, str] = {}
        self._fresh: set[int] = set()     # attempts whose result URLs were fetched in this run
        self._videos: dict[str, VideoJob] = {}   # shot id -> its latest clip download
        self._videos_lock = threading.Lock()
        self._dl_pool: ThreadPoolExecutor | None = None

    # ---- helpers ---------------------------------------------------------------------------
    def _rand(self) -> random.Random:
        with self._rng_lock:
            return random.Random(self.rng.random())

    def _wait(self, seconds: float) -> bool:
        """Sleep; True when the run is being stopped."""
        return self.stop.wait(max(0.0, seconds))

    def _problem(self, text: str) -> None:
        with self._problems_lock:
            self.problems.append(text)
        self.progress.message(text)

    def _call(self, fn, what: str, shot_id: str | None = None):
        def on_retry(exc, n, delay):
            self.progress.shot(shot_id or "-", "retrying", f"{what}: {exc} (retry {n} in {delay:.1f}s)")
            self.journal.event(shot_id, "retry", {"what": what, "error": str(exc)})
        return call_with_retry(fn, self.poll.retry, rng=self._rand(), wait=self._wait,
                               retryable=default_retryable, on_retry=on_retry)

    # ---- top level -------------------------------------------------------------------------
    def run(self, prov: Provider, poll: PollPolicy, transport) -> RenderResult:
        self.prov, self.poll = prov, poll
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "clips").mkdir(exist_ok=True)
        (self.run_dir / "frames").mkdir(exist_ok=True)
        self.journal = J.Journal(self.run_dir / "journal.sqlite")
        try:
            return self._run(transport)
        finally:
            self.journal.close()

    def _run(self, transport) -> RenderResult:
        plan, prov = self.plan, self.prov
        self.journal.set_meta("storyboard", str(plan.storyboard.source.resolve()))
        self.journal.set_meta("draft", bool(plan.draft))
        self.journal.set_meta("provider", prov.name)
        self.journal.set_meta("base_url", prov.base_url)
        self.journal.set_meta("identity", prov.identity)
        self.journal.event(None, "run", {"invocation": self.invocation, "provider": prov.name,
                                         "base_url": prov.base_url})
        states = assess(plan, self.journal, self.run_dir, prov.identity)
        self._preflight(states)
        rows = [{"id": s.id, "sequence": s.sequence,
                 "expected": s.est_wall_seconds if prov.name == "ark" else None}
                for s in plan.shots]
        self.progress.begin(rows)
        self.client = ArkClient(prov.base_url, prov.api_key, transport=transport)
        interrupted = False
        try:
            try:
                self._run_sequences()
            except KeyboardInterrupt:
                interrupted = True
                self.stop.set()
                self.progress.message("interrupted: stopping (the journal is consistent; "
                                      "re-run the same command to resume)")
                self._drain()
                if self.cancel_on_interrupt:
                    self._cancel_queued()
            output, stitch_result = None, None
            done = all(local_ok(self.current.get(s.id), self.run_dir, self._needs_frame(s))
                       for s in plan.shots)
            failure: ChainerError | None = None
            if done and not interrupted:
                try:
                    assembled = assembly.assemble_run(
                        plan, self.run_dir, self.journal,
                        {s.id: (clip_path(self.run_dir, s.id), self.current[s.id].clip_sha)
                         for s in plan.shots},
                        message=self.progress.message, options=self.stitch_options)
                    output, stitch_result = assembled.output, assembled.stitch
                except assembly.AssemblyFailed as exc:
                    self._problem(str(exc))
                    failure = exc
            from .summary import build_summary, write_summary

            summary = build_summary(plan, self.journal, self.run_dir, self.current, prov.name,
                                    base_url=prov.base_url, stitch=stitch_result,
                                    output=output, problems=self.problems)
            summary["drift_guard"] = plan.storyboard.drift_guard
            write_summary(self.run_dir, summary)
            if output is not None:
                assembly.write_run_review(plan, self.run_dir, summary,
                                          message=self.progress.message, problem=self._problem)
        finally:
            self.client.close()
            self.progress.end()
        if interrupted:
            raise KeyboardInterrupt
        if failure is not None:
            raise failure
        return RenderResult(self.run_dir, output, summary, summary["shots"],
                            ok=output is not None, problems=list(self.problems))

    def _needs_frame(self, shot) -> bool:
        seq = self.plan.sequences[shot.sequence]
        nxt = shot.position + 1
        return nxt < len(seq.shots) and seq.shots[nxt].chained_from == shot.id

    def _preflight(self, states: list[ShotState]) -> None:
        """Print the estimate, enforce --budget, ask for confirmation when it is large."""
        plan = self.plan
        todo = [s for s in states if s.action in ("submit", "resubmit", "wait", "blocked")]
        todo_shots = [plan.shot(s.shot_id) for s in todo]
        reused = sum(1 for s in states if s.action == "reuse")
        pending = sum(1 for s in states if s.action in ("poll", "download", "resolve"))
        tokens = sum(s.est_tokens for s in todo_shots)
        unpriced = sorted({s.model.id for s in todo_shots if s.est_cost is None})
        cost = sum(s.est_cost or 0.0 for s in todo_shots)
        cur = plan.currency
        what = f"{len(todo_shots)} task(s) to submit, {tokens:,} tokens est."
        if todo_shots:
            what += f", {cost:.2f} {cur}" + (f" + unknown price for {', '.join(unpriced)}" if unpriced else "")
        extra = []
        if reused:
            extra.append(f"{reused} reused")
        if pending:
            extra.append(f"{pending} in flight or awaiting download")
        free = " (emulator: nothing is billed)" if self.prov.name == "emulator" else ""
        self.progress.message(f"estimate: {what}" + (f"; {', '.join(extra)}" if extra else "") + free)
        if self.budget_limit is not None and todo_shots:
            if unpriced:
                raise InputError(f"--budget cannot be enforced: no price is known for "
                                 f"{', '.join(unpriced)} (add pricing: {{MODEL: CNY per million "
                                 f"tokens}} to the storyboard); nothing submitted")
            if cost > self.budget_limit + 1e-9:
                raise InputError(f"estimated {cost:.2f} {cur} for {len(todo_shots)} task(s) exceeds "
                                 f"--budget {self.budget_limit:.2f} {cur}; nothing submitted")
        if self.prov.name != "ark" or self.yes or not todo_shots:
            return
        if not unpriced and cost <= self.confirm_above:
            return
        question = (f"Submit {len(todo_shots)} paid task(s) to {self.prov.base_url} for about "
                    f"{cost:.2f} {cur}" + (" plus unpriced models" if unpriced else "") + "?")
        confirm = self.confirm
        if confirm is None:
            import sys

            if not sys.stdin.isatty():
                raise InputError(f"estimated {cost:.2f} {cur}" + (" (+ unpriced)" if unpriced else "")
                                 + f" is above the confirmation threshold ({self.confirm_above:.2f} "
                                 f"{cur}) and there is no terminal to ask: pass --yes to submit")
            import click

            confirm = lambda q: click.confirm(q, default=False, err=True)  # noqa: E731
        self.progress.end()
        if not confirm(question):
            raise InputError("not confirmed; nothing submitted")

    def _run_sequences(self) -> None:
        seqs = list(self.plan.sequences)
        self._dl_pool = ThreadPoolExecutor(max_workers=DOWNLOAD_WORKERS, thread_name_prefix="dl")
        try:
            with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="seq") as pool:
                futures = {pool.submit(self._sequence, q): q for q in seqs}
                pending = set(futures)
                try:
                    while pending:
                        done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                        for f in done:
                            exc = f.exception()
                            if exc is not None and not isinstance(exc, (SequenceStop, Interrupted)):
                                q = futures[f]
                                self._problem(f"sequence {q.index}: unexpected error: "
                                              f"{type(exc).__name__}: {exc}")
                except KeyboardInterrupt:
                    self.stop.set()
                    raise
        finally:
            # clips still downloading finish (a re-run would otherwise fetch them again);
            # downloads not started yet are dropped (a re-run starts them)
            self._dl_pool.shutdown(wait=True, cancel_futures=self.stop.is_set())
            for sid, att in list(self.current.items()):
                if att is not None:
                    self.current[sid] = self.journal.get(att.id)

    def _drain(self) -> None:
        """After Ctrl-C: worker threads notice ``stop`` at their next wait; nothing to do here
        (the pool's context manager already joined them)."""

    # ---- one sequence ----------------------------------------------------------------------
    def _sequence(self, seq) -> None:
        """Render the shots of ``seq`` in order. A shot is done for the chain when its task
        succeeded and its last frame is on disk (verified); its clip downloads meanwhile on the
        download pool. Before each shot, and at the end, finished downloads are checked: a clip
        whose URL expired sends the sequence back to that shot (a new task; the later shots
        follow from its new last frame), a clip that cannot be downloaded stops the sequence."""
        shots = seq.shots
        i = 0
        while True:
            while i < len(shots):
                shot = shots[i]
                if self.stop.is_set():
                    self.progress.shot(shot.id, "stopped", "interrupted")
                    return
                try:
                    back = self._video_outcomes(seq, i, block=False)
                    if back is not None:
                        i = self._rewind(seq, back)
                        continue
                    prev = self.current.get(shots[i - 1].id) if i else None
                    self.current[shot.id] = self._shot(shot, prev)
                    i += 1
                except SequenceStop as exc:
                    self._stopped(seq, exc.shot_id or shot.id, exc)
                    return
                except Interrupted:
                    key = self._keys.get(shot.id)
                    self.current[shot.id] = self.journal.latest(shot.id, key) if key else None
                    self.progress.shot(shot.id, "stopped", "interrupted")
                    return
            try:
                back = self._video_outcomes(seq, len(shots), block=True)
            except SequenceStop as exc:
                self._stopped(seq, exc.shot_id or shots[-1].id, exc)
                return
            except Interrupted:
                return
            if back is None:
                return
            i = self._rewind(seq, back)

    def _stopped(self, seq, shot_id: str, exc: Exception) -> None:
        """Record that ``seq`` stopped at ``shot_id``. Later shots keep their results only when
        ``shot_id``'s last frame (their input) is settled; otherwise they are pending again."""
        ids = [s.id for s in seq.shots]
        k = ids.index(shot_id)
        key = self._keys.get(shot_id)
        att = self.journal.latest(shot_id, key) if key else None
        self.current[shot_id] = att
        settled = (att is not None and att.state == J.SUCCEEDED and not att.url_expired
                   and self._frame_ok(att, seq.shots[k]))
        self.progress.shot(shot_id, "failed" if not self.stop.is_set() else "stopped", str(exc))
        if not self.stop.is_set():
            self._problem(f"sequence {seq.index} stopped at {shot_id}: {exc}")
        for later in seq.shots[k + 1:]:
            if not settled:
                self.current.pop(later.id, None)
            if self.current.get(later.id) is None:
                self.progress.shot(later.id, "stopped", f"not rendered (sequence stopped at {shot_id})")

    def _rewind(self, seq, k: int) -> int:
        """Go back to shot ``k`` of ``seq``: later shots will be looked up again by key."""
        for later in seq.shots[k + 1:]:
            self.current.pop(later.id, None)
        return k

    def _video_outcomes(self, seq, upto: int, *, block: bool) -> int | None:
        """Check the clip downloads of ``seq.shots[:upto]``: the index of the first shot that
        needs a new task (URL expired), ``None`` when none does; raises :class:`SequenceStop` for
        a clip that could not be downloaded. ``block`` waits for downloads still running."""
        for k, shot in enumerate(seq.shots[:upto]):
            job = self._videos.get(shot.id)
            if job is None:
                continue
            if block:
                while not job.future.done():
                    if self._wait(0.05):
                        raise Interrupted("interrupted")
            elif not job.future.done():
                continue
            outcome, detail = job.future.result()
            if outcome == "expired":
                return k
            if outcome == "error":
                raise SequenceStop(detail, shot_id=shot.id)
        return None

    def _frame_ok(self, att: J.Attempt, shot) -> bool:
        return not self._needs_frame(shot) or frame_ok(att, self.run_dir)

    def _shot(self, shot, prev: J.Attempt | None) -> J.Attempt:
        """Bring ``shot`` to the point where the next shot can chain from it: its task
        succeeded and its last frame is on disk. Its clip is downloaded on the download pool."""
        need_frame = self._needs_frame(shot)
        first_png = None
        if shot.chained_from:
            first_png = frame_path(self.run_dir, shot.chained_from).read_bytes()
        key = shot_key(shot, self.prov.identity, first_png)
        self._keys[shot.id] = key
        failures = lost = ambiguous_retries = 0
        force_data_url = False
        seed_override: int | None = None
        replaced: J.Attempt | None = None     # a succeeded attempt whose clip could not be fetched
        while True:
            if self.stop.is_set():
                raise Interrupted("interrupted")
            att = self.journal.latest(shot.id, key)
            if att is not None and att.state == J.SUCCEEDED and not att.url_expired \
                    and self._frame_ok(att, shot):
                if local_ok(att, self.run_dir, need_frame):
                    job = self._videos.get(shot.id)
                    if job is None or job.attempt_id != att.id:
                        self.progress.shot(shot.id, "reused", f"task {att.task_id}")
                    return att
                self._schedule_video(shot, att)
                return att
            if att is None or att.state in J.DEAD_STATES or (att.state == J.SUCCEEDED and att.url_expired):
                if att is not None and att.state == J.SUCCEEDED and att.url_expired:
                    replaced = att
                    seed_override = att.seed if (shot.model.seed and shot.seed is None) else None
                    note = (f"seed {att.seed} reused" if seed_override is not None else
                            "same seed" if shot.seed is not None else
                            "this model takes no seed: the new clip will differ")
                    self.progress.message(f"{shot.id}: the result URL of task {att.task_id} expired "
                                          f"before it was downloaded; submitting a new task ({note})"
                                          + self._chained_note(shot, att))
                att = self._submit(shot, key, prev, first_png, force_data_url, seed_override)
                if att.state == J.REJECTED and att.error_code == "first-frame-url":
                    force_data_url = True
                    continue
            if att.state in (J.CREATING, J.AMBIGUOUS):
                att = self._resolve(att)
                if att.state == J.REJECTED:
                    ambiguous_retries += 1
                    if ambiguous_retries > self.poll.retry.attempts:
                        raise SequenceStop("creates keep failing without creating a task")
                    continue
                if att.state == J.AMBIGUOUS:
                    raise SequenceStop(att.error_message or "create outcome unknown")
            if att.in_flight:
                att = self._poll(shot, att)
            if att.state == J.SUCCEEDED:
                att = self._fetch_frame(shot, att, need_frame)
                if not att.url_expired:
                    if replaced is not None and need_frame:
                        self._report_new_frame(shot, replaced, att)
                        replaced = None
                    if local_ok(att, self.run_dir, need_frame):
                        self.progress.shot(shot.id, "done", f"task {att.task_id}")
                    else:
                        self._schedule_video(shot, att)
                    return att
                continue
            # a dead task: failed / expired / cancelled / lost
            msg = f"task {att.task_id} {att.state}"
            if att.error_code or att.error_message:
                msg += f": {att.error_code or ''} {att.error_message or ''}".rstrip()
            if att.state == J.LOST:
                lost += 1
                if lost > 2:
                    raise SequenceStop(msg)
                self.progress.message(f"{shot.id}: {msg}; submitting it again")
                continue
            failures += 1
            if failures > self.retry_failed:
                hint = "" if self.retry_failed else " (--retry-failed N resubmits failed shots)"
                raise SequenceStop(msg + hint)
            self.progress.message(f"{shot.id}: {msg}; resubmitting ({failures}/{self.retry_failed})")

    def _later_rendered(self, shot) -> list[str]:
        """Later shots of ``shot``'s sequence that have a task on record (any inputs)."""
        seq = self.plan.sequences[shot.sequence]
        return [s.id for s in seq.shots[shot.position + 1:] if self.journal.attempts(s.id)]

    def _chained_note(self, shot, old: J.Attempt) -> str:
        later = self._later_rendered(shot) if self._needs_frame(shot) else []
        if not later:
            return ""
        return (f". {', '.join(later)} already chained from the last frame of task {old.task_id}: "
                f"they are kept if the new clip ends on the same frame, otherwise rendered again "
                f"from the new one (as after an edit of {shot.id}), so the sequence stays seamless")

    def _report_new_frame(self, shot, old: J.Attempt, new: J.Attempt) -> None:
        later = self._later_rendered(shot)
        if not later:
            return
        if old.frame_sha and old.frame_sha == new.frame_sha:
            self.progress.message(f"{shot.id}: the new clip ends on the same last frame as task "
                                  f"{old.task_id}: {', '.join(later)} are kept")
        else:
            self.progress.message(f"{shot.id}: the new clip ends on a different last frame than "
                                  f"task {old.task_id}: rendering {', '.join(later)} again from it "
                                  "(their earlier clips would not join it seamlessly)")

    # ---- submit and resolve ----------------------------------------------------------------
    def _first_frame(self, shot, prev: J.Attempt | None, first_png: bytes | None,
                     force_data_url: bool) -> tuple[str | None, str]:
        if not shot.chained_from:
            return None, ""
        if (not force_data_url and prev is not None and prev.frame_source == "provider"
                and prev.id in self._fresh
                and url_fresh(prev.last_frame_url, prev.urls_at, time.time())):
            return prev.last_frame_url, "url"
        return data_url_png(first_png), "data"

    def _submit(self, shot, key: str, prev, first_png, force_data_url, seed_override) -> J.Attempt:
        if self.stop.is_set():
            raise Interrupted("interrupted")
        first_url, how = self._first_frame(shot, prev, first_png, force_data_url)
        body = shot.request_body(first_url)
        if seed_override is not None:
            body["seed"] = seed_override
        marker = "chainer-" + secrets.token_hex(12)
        body["safety_identifier"] = marker
        est = shot.est_cost
        if not self.budget.reserve(marker, est):
            st = self.budget.state()
            raise SequenceStop(f"budget: spent {st.spent:.2f} + in flight {st.in_flight:.2f} + "
                               f"{(est or 0):.2f} for this shot would pass --budget "
                               f"{st.limit:.2f} {st.currency}; not submitted")
        att = self.journal.add_intent(
            shot.id, key, marker, model=shot.model.id, base_url=self.prov.base_url,
            request_json=json.dumps(compact_body(body)), seed_sent=body.get("seed"),
            est_tokens=shot.est_tokens, est_cost=est, price=shot.price_per_mtok,
            invocation=self.invocation)
        self.progress.shot(shot.id, "submitting", f"first frame as {how}" if how else "")

        def on_retry(exc, n, delay):
            self.progress.shot(shot.id, "retrying", f"create: {exc} (retry {n} in {delay:.1f}s)")
            self.journal.event(shot.id, "retry", {"what": "create", "error": str(exc)}, att.id)

        try:
            task_id = call_with_retry(lambda: self.client.create(body), self.poll.retry,
                                      rng=self._rand(), wait=self._wait,
                                      retryable=create_retryable, on_retry=on_retry)
        except ArkHTTPError as exc:
            if exc.status < 500 and exc.status != 408:
                # the provider refused it: certainly no task
                self.budget.release(marker)
                if how == "url" and exc.status == 400 and _about_image(exc):
                    self.journal.update(att.id, state=J.REJECTED, error_code="first-frame-url",
                                        error_message=exc.provider_message, event="rejected",
                                        detail={"error": str(exc)})
                    self.progress.message(f"{shot.id}: the provider could not use the previous "
                                          f"last-frame URL ({exc.code}); sending the local copy")
                    return self.journal.get(att.id)
                self.journal.update(att.id, state=J.REJECTED, error_code=exc.code,
                                    error_message=exc.provider_message, finished_at=time.time(),
                                    event="rejected", detail={"error": str(exc)})
                raise SequenceStop(f"create refused: HTTP {exc.status} {exc.code}"
                                   + (f" (param {exc.param})" if exc.param else "")
                                   + f": {exc.provider_message}") from None
            return self._ambiguous(att, exc)
        except ArkConnectionError as exc:
            if not exc.sent:
                self.budget.release(marker)
                self.journal.update(att.id, state=J.REJECTED, error_code="connection",
                                    error_message=str(exc), event="rejected")
                if self.stop.is_set():
                    raise Interrupted("interrupted") from None
                raise SequenceStop(f"cannot reach {self.prov.base_url}: {exc}") from None
            return self._ambiguous(att, exc)
        except ArkResponseError as exc:
            return self._ambiguous(att, exc)
        att = self.journal.update(att.id, task_id=task_id, state=J.SUBMITTED,
                                  submitted_at=time.time(), event="submitted",
                                  detail={"task_id": task_id})
        self.progress.shot(shot.id, "submitted", task_id)
        return att

    def _ambiguous(self, att: J.Attempt, exc: Exception) -> J.Attempt:
        self.journal.event(att.shot_id, "create-ambiguous", {"error": str(exc)}, att.id)
        self.progress.shot(att.shot_id, "checking", f"create outcome unknown ({exc}); "
                                                     "looking for the task")
        return self.journal.get(att.id)

    def _resolve(self, att: J.Attempt) -> J.Attempt:
        """Find the task an interrupted/ambiguous create may have made: adopt it, or prove none
        exists, or stop (AMBIGUOUS) without risking a duplicate."""
        found: list[Task] = []
        items: list[Task] = []
        try:
            for page in range(1, LIST_PAGES + 1):
                total, batch = self._call(lambda: self.client.list(model=att.model, page_num=page,
                                                                   page_size=100),
                                          "list tasks", att.shot_id)
                items.extend(batch)
                if len(batch) < 100 or len(items) >= total:
                    break
        except ArkError as exc:
            if self.stop.is_set():
                raise Interrupted("interrupted") from None
            att = self.journal.update(att.id, state=J.AMBIGUOUS, error_code="unresolved",
                                      error_message=f"create outcome unknown and the task list is "
                                      f"unavailable ({exc}); re-run to check again",
                                      event="ambiguous")
            self.budget.release(att.marker)
            return att
        found = [t for t in items if t.safety_identifier == att.marker]
        known = self.journal.known_task_ids()
        if found:
            task = found[0]
            extra = [t.id for t in found[1:]]
            att = self.journal.update(att.id, task_id=task.id, state=J.SUBMITTED,
                                      submitted_at=time.time(), event="adopted",
                                      detail={"task_id": task.id, "duplicates": extra})
            self.progress.shot(att.shot_id, "adopted", f"found task {task.id} created by the "
                                                        "interrupted request")
            if extra:
                self._problem(f"{att.shot_id}: the provider holds duplicate tasks {', '.join(extra)} "
                              f"for one request (adopted {task.id})")
            return att
        echoes = any(t.safety_identifier for t in items)
        lo = (att.intent_at or 0) - CREATE_SLACK
        candidates = [t for t in items if t.id not in known and t.created_at is not None
                      and t.created_at >= lo]
        if echoes or not candidates:
            self.budget.release(att.marker)
            return self.journal.update(att.id, state=J.REJECTED, error_code="not-created",
                                       error_message="no task was created by the failed request",
                                       event="not-created")
        others = [a for a in self.journal.attempts(states=(J.CREATING, J.AMBIGUOUS))
                  if a.id != att.id and a.model == att.model]
        if len(candidates) == 1 and not others:
            task = candidates[0]
            self.progress.shot(att.shot_id, "adopted", f"task {task.id} (created in the window "
                                                        "of the interrupted request)")
            return self.journal.update(att.id, task_id=task.id, state=J.SUBMITTED,
                                       submitted_at=time.time(), event="adopted",
                                       detail={"task_id": task.id, "by": "window"})
        ids = ", ".join(t.id for t in candidates[:10])
        self.budget.release(att.marker)
        return self.journal.update(
            att.id, state=J.AMBIGUOUS, error_code="ambiguous",
            error_message=(f"a create may have produced a task, and it cannot be told apart from "
                           f"{len(candidates)} other recent task(s) of {att.model} ({ids}); "
                           "not resubmitting to avoid a duplicate paid task. Check them, delete "
                           "the unwanted ones, then re-run"), event="ambiguous")

    # ---- poll -------------------------------------------------------------------------------
    def _poll(self, shot, att: J.Attempt) -> J.Attempt:
        """Poll until the task is terminal. The schedule runs from the task's submission (a
        resumed run continues it rather than starting over); a task submitted just now is first
        polled after the policy's initial interval, a resumed one at once."""
        pol = self.poll
        rng = self._rand()
        since = max(0.0, time.time() - (att.submitted_at or time.time()))
        t0 = time.monotonic() - since
        expected = shot.est_wall_seconds if (pol.aim and self.prov.name == "ark") else None
        limit = pol.wait_limit(att.request)
        last_state = att.state
        if since < pol.initial and att.state == J.SUBMITTED:
            if self._wait(pol.next_delay(0.0, expected, rng) - since):
                raise Interrupted("interrupted")
        while True:
            try:
                task = self._call(lambda: self.client.get(att.task_id), "poll", shot.id)
            except ArkNotFoundError:
                self.budget.release(att.marker)
                return self.journal.update(att.id, state=J.LOST, finished_at=time.time(),
                                           error_code="NotFound",
                                           error_message="the provider no longer knows this task",
                                           event="lost")
            except ArkError as exc:
                if self.stop.is_set():
                    raise Interrupted("interrupted") from None
                raise SequenceStop(f"cannot poll task {att.task_id}: {exc}; re-run to resume "
                                   "(the task is recorded)") from None
            now = time.time()
            if task.status != last_state:
                att = self._record_status(att, task, now)
                last_state = task.status
                self.progress.shot(shot.id, task.status if not task.terminal or task.status != "succeeded"
                                   else "downloading", att.task_id)
            if task.terminal:
                return att
            elapsed = time.monotonic() - t0
            if elapsed > limit:
                raise SequenceStop(f"task {att.task_id} still {task.status} after "
                                   f"{elapsed:.0f}s; re-run to keep waiting")
            if self._wait(pol.next_delay(elapsed, expected, rng)):
                raise Interrupted("interrupted")

    def _record_status(self, att: J.Attempt, task: Task, now: float) -> J.Attempt:
        vals: dict[str, Any] = {"provider_created_at": task.created_at,
                                "provider_updated_at": task.updated_at}
        if task.status in ("queued", "running", "succeeded", "failed", "expired", "cancelled"):
            vals["state"] = task.status
        if task.status == "queued":
            vals["queued_at"] = att.queued_at or now
        elif task.status == "running":
            vals["running_at"] = att.running_at or now
        elif task.terminal:
            vals["finished_at"] = now
            if att.running_at is None and task.status == "succeeded":
                vals["running_at"] = now
        if task.status == "succeeded":
            tokens = task.completion_tokens
            price = att.price
            cost = None
            if tokens is not None and price is not None:
                cost = tokens / 1e6 * price * (0.5 if (task.service_tier == "flex") else 1.0)
            vals.update(seed=task.seed, video_url=task.video_url, last_frame_url=task.last_frame_url,
                        urls_at=now, tokens=tokens, cost=cost,
                        result_json=json.dumps({k: task.raw.get(k) for k in (
                            "resolution", "ratio", "duration", "frames", "framespersecond",
                            "seed", "service_tier", "generate_audio")}))
            self.budget.settle(att.marker, cost)
            self._fresh.add(att.id)
        elif task.terminal:
            vals.update(error_code=task.error_code or task.status,
                        error_message=task.error_message)
            self.budget.release(att.marker)
        return self.journal.update(att.id, event=task.status,
                                   detail={"task_id": att.task_id, "error": task.error_code}, **vals)

    # ---- downloads --------------------------------------------------------------------------
    # The chain waits only for the last frame (small; verified by decoding and checked against
    # the clip's W x H); the clip is downloaded and verified on the download pool meanwhile.
    # Journal order per attempt: frame_sha (before its rename), frame_at; clip_sha (before its
    # rename), downloaded_at. A kill between any two leaves a state the next run resumes from.

    def _result_size(self, shot, att: J.Attempt) -> tuple[int, int] | None:
        res = att.result
        try:
            if res.get("resolution") and res.get("ratio") and res["ratio"] != "adaptive":
                return shot.model.pixels(res["resolution"], res["ratio"])
        except KeyError:
            pass
        return None

    def _refresh_urls(self, shot, att: J.Attempt) -> J.Attempt | None:
        """After a 403/expired download: ask the provider for fresh URLs (once). The updated
        attempt, or ``None`` when there are none (the result is gone)."""
        try:
            task = self._call(lambda: self.client.get(att.task_id), "refresh URLs", shot.id)
        except ArkError:
            return None
        if task.status == "succeeded" and (task.video_url != att.video_url
                                           or task.last_frame_url != att.last_frame_url):
            att = self.journal.update(att.id, video_url=task.video_url,
                                      last_frame_url=task.last_frame_url,
                                      urls_at=time.time(), event="urls-refreshed")
            self._fresh.add(att.id)
            return att
        return None

    def _fetch_frame(self, shot, att: J.Attempt, need_frame: bool) -> J.Attempt:
        """Download and verify the last frame when the next shot chains from it (the clip too,
        first, when the provider returned no last frame). Sets ``url_expired`` when the result
        is gone; raises :class:`SequenceStop` when it cannot be downloaded."""
        if not need_frame or self._frame_ok(att, shot):
            return att
        frame = frame_path(self.run_dir, shot.id)

        def download(att: J.Attempt) -> J.Attempt:
            if att.last_frame_url:
                self.progress.shot(shot.id, "downloading", "last frame")
                size = self._result_size(shot, att)
                aid = att.id
                fetch(self.client, att.last_frame_url, frame, part(att),
                      verify=lambda p: verify_png(p, size=size),
                      before_rename=lambda sha, n: self.journal.update(
                          aid, frame_sha=sha, frame_source="provider",
                          frame_path=str(frame.relative_to(self.run_dir))))
            else:
                # no last frame from the provider: it comes from the clip, so the clip is
                # on the critical path here
                att = self._fetch_clip(shot, att)
                if att.url_expired:
                    return att
                from ..media.ffmpeg import extract_frame_png

                self.progress.message(f"{shot.id}: the provider returned no last frame; "
                                      "using the clip's decoded last frame")
                tmp = frame.parent / f".{shot.id}.extract.png"
                extract_frame_png(clip_path(self.run_dir, shot.id), tmp, last=True)
                self.journal.update(att.id, frame_sha=sha256_file(tmp), frame_source="extracted",
                                    frame_path=str(frame.relative_to(self.run_dir)))
                os.replace(tmp, frame)
            return self.journal.update(att.id, frame_at=time.time(), event="frame",
                                       detail={"frame": frame.name})

        def part(att: J.Attempt) -> Path:
            return frame.parent / f".{shot.id}.{att.task_id}.png.part"

        try:
            return self._with_fresh_urls(shot, att, "last frame", part, download)
        except DownloadError as exc:
            raise SequenceStop(f"download of the last frame of task {att.task_id} failed: "
                               f"{exc}; re-run to retry (the task is recorded)") from None

    def _fetch_clip(self, shot, att: J.Attempt) -> J.Attempt:
        """Download and verify the clip (decoded in full: frame count, W x H — the result's, or
        the last frame's when the result does not say). Sets ``url_expired`` when it is gone;
        raises :class:`DownloadError`."""
        clip = clip_path(self.run_dir, shot.id)
        if att.clip_sha and clip.exists() and sha256_file(clip) == att.clip_sha:
            return att
        res = att.result
        expected_frames = res.get("frames") or (
            res["duration"] * 24 + 1 if isinstance(res.get("duration"), int) and res["duration"] > 0
            else None)
        size = self._result_size(shot, att)
        if size is None and att.frame_sha and att.frame_source == "provider":
            frame = frame_path(self.run_dir, shot.id)
            if frame.exists():
                size = verify_png(frame)

        def download(att: J.Attempt) -> J.Attempt:
            if not att.video_url:
                raise DownloadError(f"task {att.task_id} succeeded without a video URL")
            self.progress.shot(shot.id, "downloading", "video")
            aid = att.id
            fetch(self.client, att.video_url, clip, part(att),
                  verify=lambda p: verify_video(p, expected_frames=expected_frames, size=size),
                  before_rename=lambda sha, n: self.journal.update(
                      aid, clip_sha=sha, clip_bytes=n,
                      clip_path=str(clip.relative_to(self.run_dir))))
            return self.journal.get(att.id)

        def part(att: J.Attempt) -> Path:
            return clip.parent / f".{shot.id}.{att.task_id}.mp4.part"

        return self._with_fresh_urls(shot, att, "video", part, download)

    def _with_fresh_urls(self, shot, att: J.Attempt, what: str, part, download) -> J.Attempt:
        """Run ``download(att)``. When the signed result URL has expired, ask the provider once
        for fresh URLs (the task is re-read) and try again; when the result is gone for good,
        drop the partial file and journal ``url_expired`` for ``what``."""
        refreshed = False
        while True:
            try:
                return download(att)
            except ArkURLExpiredError:
                if not refreshed:
                    refreshed = True
                    fresh = self._refresh_urls(shot, att)
                    if fresh is not None:
                        att = fresh
                        continue
                part(att).unlink(missing_ok=True)     # the result is gone: nothing to resume
                return self.journal.update(att.id, url_expired=1, event="url-expired",
                                           detail={"what": what})

    def _schedule_video(self, shot, att: J.Attempt) -> None:
        """Download ``att``'s clip on the download pool (once per attempt)."""
        with self._videos_lock:
            job = self._videos.get(shot.id)
            if job is not None and job.attempt_id == att.id and (
                    not job.future.done() or job.future.result()[0] == "ok"):
                return
            fut = self._dl_pool.submit(self._video_job, shot, att.id)
            self._videos[shot.id] = VideoJob(att.id, fut)

    def _video_job(self, shot, attempt_id: int) -> tuple[str, str]:
        """Pool task: ("ok", ""), ("expired", message) or ("error", message). Never raises."""
        att = self.journal.get(attempt_id)
        try:
            if self.stop.is_set():
                return "error", "interrupted before the clip was downloaded; re-run to resume"
            att = self._fetch_clip(shot, att)
            if att.url_expired:
                return "expired", f"the result URL of task {att.task_id} expired"
            self.journal.update(att.id, downloaded_at=time.time(), event="downloaded",
                                detail={"clip": clip_path(self.run_dir, shot.id).name})
            self.progress.shot(shot.id, "done", f"task {att.task_id}")
            return "ok", ""
        except DownloadError as exc:
            return "error", (f"download of task {att.task_id} failed: {exc}; re-run to retry "
                             "(the task is recorded)")
        except Exception as exc:  # noqa: BLE001 - reported as this shot's stop, never lost
            return "error", (f"download of task {att.task_id} failed unexpectedly: "
                             f"{type(exc).__name__}: {exc}; re-run to retry (the task is recorded)")

    # ---- interrupt ---------------------------------------------------------------------------
    def _cancel_queued(self) -> None:
        for att in self.journal.attempts(states=(J.SUBMITTED, J.QUEUED)):
            if att.invocation != self.invocation or not att.task_id:
                continue
            try:
                task = self.client.get(att.task_id)
                if task.status == "queued":
                    self.client.delete(att.task_id)
                    self.journal.update(att.id, state=J.CANCELLED, finished_at=time.time(),
                                        event="cancelled", detail={"by": "interrupt"})
                    self.progress.message(f"{att.shot_id}: cancelled queued task {att.task_id}")
                else:
                    self._record_status(att, task, time.time())
            except ArkError as exc:
                self.progress.message(f"{att.shot_id}: could not cancel {att.task_id}: {exc}")


def _about_image(exc: ArkHTTPError) -> bool:
    text = f"{exc.param or ''} {exc.code} {exc.provider_message}".lower()
    return any(w in text for w in ("image", "content", "first_frame", "url"))
