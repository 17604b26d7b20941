"""EmulatorConfig and the controllable clock."""
from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable


class OffsetClock:
    """Wall clock plus an adjustable offset: real time keeps flowing, tests can jump ahead.

    Pass one as ``EmulatorConfig(clock=...)`` and call ``advance(3600)`` to make a task reach its
    ``execution_expires_after`` or a result URL its TTL without sleeping.
    """

    def __init__(self, offset: float = 0.0, base: Callable[[], float] = time.time):
        self._offset = offset
        self._base = base
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._base() + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds


@dataclass
class EmulatorConfig:
    """How the emulator behaves.

    Time has two meanings here. ``latency``/``queue_delay`` are *real* seconds (monotonic): how long
    a task spends running (at least; rendering counts toward it) and queued. Everything Ark states in
    wall-clock terms — ``created_at``/``updated_at``, ``execution_expires_after``, result URL TTL,
    the 7-day list window, the 24 h retention of cancelled tasks — reads ``clock`` (epoch seconds,
    default ``time.time``), so a test can inject an :class:`OffsetClock` and jump hours ahead.
    """

    host: str = "127.0.0.1"
    port: int = 0
    latency: float = 1.0              # minimum seconds in "running" (render time counts toward it)
    concurrency: int | None = None    # running tasks per model (None: the model's own, Ark: 10)
    rpm: int | None = None            # creates per minute per model; more get a 429 (limits.py)
    queued_cap: int | None = None     # queued tasks per account; a create past it gets a 429
    faults: Any = None                # FaultConfig | dict | path to JSON/YAML | None
    url_ttl: float = 86400.0          # result URL time to live (seconds, by ``clock``)
    drift: float = 0.0                # per-clip colour/contrast drift (0.05 = subtle, 0.2 = strong)
    api_key: str | None = None        # None: any non-empty Bearer token is accepted
    data_dir: str | Path | None = None   # where clips are written (None: a temp dir removed on stop)
    queue_delay: float = 0.0          # minimum seconds in "queued" (real time)
    clock: Callable[[], float] | None = None
    rng: random.Random | None = None  # seeds for seed=-1, task id suffixes, URL tokens
    render_workers: int = 2           # clips rendered at once (CPU bound; tasks above wait, still "running")
    x264_preset: str = "medium"
    callback_timeout: float = 5.0
    callback_retries: int = 3
    callback_retry_delay: float = 1.0
    tick: float = 0.05                # scheduler wake-up interval (real seconds)
    api: str = "ark"                  # wire shape served: ark | byteplus | fal | replicate (profiles/)
