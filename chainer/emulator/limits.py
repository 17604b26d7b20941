"""An account's limits, enforced like the host, and the in-flight counts a test needs to prove a
client's limiter.

The host (hosts-2026.md s rate limits): tasks above the per-model concurrency wait ``queued``
(the scheduler in tasks.py does that with ``EmulatorConfig.concurrency``); above ``rpm`` creates
per minute per model a create is refused with 429; BytePlus also caps the queued tasks of an
account (120). Here:

- ``rpm``: creates per model in any sliding 60 s window; the next one is a 429
  ``RateLimitExceeded.EndpointRPMExceeded`` (which code the host returns is UNCONFIRMED; this is
  the one the reference lists first).
- ``queued_cap``: queued tasks of the account (all models); a create that would pass it is a 429
  ``RateLimitExceeded.QueuedTasksExceeded`` (code UNCONFIRMED; BytePlus documents the limit, not
  the error).

Counted on every status change (:meth:`AccountLimits.transition`): running and active (queued +
running) tasks per model and overall, their peaks, and running task-seconds per model (time
integral) so ``running_task_seconds / (elapsed * concurrency)`` is the account's utilisation.
Served under ``"limits"`` in ``/_emulator/stats``.
"""
from __future__ import annotations

import threading
import time
from collections import Counter, deque
from typing import Callable

from .validate import ApiError

WINDOW = 60.0


class AccountLimits:
    def __init__(self, *, concurrency: int, rpm: int | None = None, queued_cap: int | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.concurrency = concurrency
        self.rpm = rpm
        self.queued_cap = queued_cap
        self._clock = clock
        self._lock = threading.Lock()
        self._creates: dict[str, deque] = {}
        self._running: Counter[str] = Counter()
        self._queued: Counter[str] = Counter()
        self._peak_running: Counter[str] = Counter()
        self._peak_active: Counter[str] = Counter()
        self._peak_running_all = 0
        self._peak_active_all = 0
        self._running_seconds: Counter[str] = Counter()
        self._refused: Counter[str] = Counter()     # 429 code -> creates refused here
        self._since = clock()
        self._last = self._since

    def admit(self, model: str) -> None:
        """Before a create: raise the host's 429 when it is over a limit, else count it."""
        with self._lock:
            now = self._clock()
            if self.queued_cap is not None and sum(self._queued.values()) >= self.queued_cap:
                self._refused["RateLimitExceeded.QueuedTasksExceeded"] += 1
                raise ApiError(429, "RateLimitExceeded.QueuedTasksExceeded",
                               f"The account already has {self.queued_cap} queued tasks "
                               "(the limit); retry after some finish", None)
            if self.rpm is not None:
                q = self._creates.setdefault(model, deque())
                while q and q[0] <= now - WINDOW:
                    q.popleft()
                if len(q) >= self.rpm:
                    self._refused["RateLimitExceeded.EndpointRPMExceeded"] += 1
                    raise ApiError(429, "RateLimitExceeded.EndpointRPMExceeded",
                                   f"Requests per minute for model {model} exceeded the limit "
                                   f"({self.rpm})", None)
                q.append(now)

    def transition(self, model: str, old: str | None, new: str) -> None:
        """A task of ``model`` went from ``old`` (``None``: just created) to ``new``."""
        if old == new:
            return
        with self._lock:
            self._tick()
            for status, sign in ((old, -1), (new, +1)):
                if status == "queued":
                    self._queued[model] += sign
                elif status == "running":
                    self._running[model] += sign
            self._peak_running[model] = max(self._peak_running[model], self._running[model])
            active = self._running[model] + self._queued[model]
            self._peak_active[model] = max(self._peak_active[model], active)
            self._peak_running_all = max(self._peak_running_all, sum(self._running.values()))
            self._peak_active_all = max(self._peak_active_all,
                                        sum(self._running.values()) + sum(self._queued.values()))

    def _tick(self) -> None:
        now = self._clock()
        dt = now - self._last
        for model, n in self._running.items():
            self._running_seconds[model] += n * dt
        self._last = now

    def snapshot(self) -> dict:
        with self._lock:
            self._tick()
            return {
                "concurrency": self.concurrency, "rpm": self.rpm, "queued_cap": self.queued_cap,
                "running": {m: n for m, n in self._running.items() if n},
                "queued": {m: n for m, n in self._queued.items() if n},
                "peak_running_by_model": dict(self._peak_running),
                "peak_running": self._peak_running_all,
                "peak_active_by_model": dict(self._peak_active),
                "peak_active": self._peak_active_all,
                "running_task_seconds_by_model": {m: round(s, 3) for m, s in
                                                  self._running_seconds.items()},
                "refused": dict(self._refused),
                "elapsed_seconds": round(self._last - self._since, 3),
            }
