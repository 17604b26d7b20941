"""What the parts of one render share: the injected provider, journal, gate, progress, policies,
the stop flag, and the few pieces of per-run state (current attempt per shot, shot keys)."""
from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..ark.retry import call_with_retry
from ..errors import ChainerError
from ..providers.base import Provider
from ..providers.poll import PollPolicy
from . import journal as J
from .gate import Gate
from .progress import Progress


class SequenceStop(ChainerError):
    """Stops one sequence (other sequences go on); the message says why and what to do.
    ``shot_id``: the shot it stopped at, when not the one being rendered."""

    def __init__(self, message: str, *, shot_id: str | None = None):
        super().__init__(message)
        self.shot_id = shot_id


class Interrupted(ChainerError):
    exit_code = 130


@dataclass
class RunContext:
    plan: Any
    run_dir: Path
    journal: J.Journal
    provider: Provider
    poll: PollPolicy
    gate: Gate
    progress: Progress
    rng: random.Random
    invocation: str
    retry_failed: int = 0
    resubmit: bool = False                 # the user allows re-creating a task proven gone
    verify_clip: Callable[..., Any] | None = None
    verify_frame: Callable[..., Any] | None = None
    preview: Any = None                    # LivePreview (run/live_preview.py) or None: off
    stop: threading.Event = field(default_factory=threading.Event)
    limiter: Any = None                    # chainer.batch.limiter.Limiter: account slots (batch)
    current: dict[str, J.Attempt | None] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    fresh: set[int] = field(default_factory=set)   # attempts whose URLs were fetched in this run
    problems: list[str] = field(default_factory=list)
    reroll: dict[str, int] = field(default_factory=dict)   # shot id -> re-roll number (--reroll)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def rand(self) -> random.Random:
        with self._lock:
            return random.Random(self.rng.random())

    def wait(self, seconds: float) -> bool:
        """Sleep; True when the run is being stopped."""
        return self.stop.wait(max(0.0, seconds))

    def problem(self, text: str) -> None:
        with self._lock:
            self.problems.append(text)
        self.progress.message(text)

    def call(self, fn, what: str, shot_id: str | None = None, attempt_id: int | None = None):
        """``fn()`` with the poll policy's retries for calls that are safe to repeat (reads)."""
        def on_retry(exc, n, delay):
            self.progress.shot(shot_id or "-", "retrying", f"{what}: {exc} (retry {n} in {delay:.1f}s)")
            self.journal.event(shot_id, "retry", {"what": what, "error": str(exc)}, attempt_id)
        return call_with_retry(fn, self.poll.retry, rng=self.rand(), wait=self.wait,
                               retryable=lambda e: self.provider.classify(e).retryable,
                               on_retry=on_retry)

    def landed(self, shot_id: str) -> None:
        """A shot's clip is on disk and verified: the live preview takes it (never blocks)."""
        if self.preview is not None:
            from .assess import clip_path

            self.preview.landed(shot_id, clip_path(self.run_dir, shot_id))

    def needs_frame(self, shot) -> bool:
        seq = self.plan.sequences[shot.sequence]
        nxt = shot.position + 1
        return nxt < len(seq.shots) and seq.shots[nxt].chained_from == shot.id

    def check_stop(self) -> None:
        if self.stop.is_set():
            raise Interrupted("interrupted")
