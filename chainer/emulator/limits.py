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
  ``QuotaExceeded`` (UNCONFIRMED: BytePlus documents the 120-task cap and an ``x-error-code``
  QuotaExceeded, not the body).

The one place these limits are enforced: ``EmulatorConfig.rpm``/``queued_cap`` and the fault rules
``rpm_limit``/``queue_cap`` (faults.py; a rule may also set its own status, code and message) both
configure this object (:meth:`AccountLimits.from_config`).

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
        self._rules: dict = {}                          # fault rules that set a limit (from_config)
        self._on_refuse: Callable[[str], None] = lambda rule: None
        self._since = clock()
        self._last = self._since

    @classmethod
    def from_config(cls, *, concurrency: int, rpm: int | None, queued_cap: int | None, rules: dict,
                    clock: Callable[[], float], on_refuse: Callable[[str], None] = lambda rule: None
                    ) -> "AccountLimits":
        """The account's limits from ``EmulatorConfig`` and the fault rules ``queue_cap`` /
        ``rpm_limit`` (the stricter of the two where both are given)."""
        def tighter(a: int | None, rule) -> int | None:
            b = rule.limit if rule is not None else None
            return b if a is None else (a if b is None else min(a, b))

        lim = cls(concurrency=concurrency, rpm=tighter(rpm, rules.get("rpm_limit")),
                  queued_cap=tighter(queued_cap, rules.get("queue_cap")), clock=clock)
        lim._rules = {"queue_cap": rules.get("queue_cap"), "rpm_limit": rules.get("rpm_limit")}
        lim._on_refuse = on_refuse
        return lim

    def _refuse(self, rule: str, code: str, message: str) -> ApiError:
        r = self._rules.get(rule)
        code = r.code if r is not None and r.code else code
        self._refused[code] += 1
        if r is not None:
            self._on_refuse(rule)          # counted as an injected fault where a rule set it
        return ApiError(r.status if r is not None and r.status else 429, code,
                        r.message if r is not None and r.message else message, None)

    def admit(self, model: str) -> None:
        """Before a create: raise the host's 429 when it is over a limit, else count it."""
        with self._lock:
            now = self._clock()
            queued = sum(self._queued.values())
            if self.queued_cap is not None and queued >= self.queued_cap:
                raise self._refuse("queue_cap", "QuotaExceeded",
                                   f"The account already has {queued} queued tasks; the limit is "
                                   f"{self.queued_cap}")
            if self.rpm is not None:
                q = self._creates.setdefault(model, deque())
                while q and q[0] <= now - WINDOW:
                    q.popleft()
                if len(q) >= self.rpm:
                    raise self._refuse("rpm_limit", "RateLimitExceeded.EndpointRPMExceeded",
                                       f"The request has exceeded the rate limit of {self.rpm} "
                                       "requests per minute for this model; please try again later")
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
