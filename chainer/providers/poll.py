"""When to poll a task and how long to wait for it (a pure schedule; providers give defaults)."""
from __future__ import annotations

import random
from dataclasses import dataclass

from ..ark.retry import RetryPolicy

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
    recheck: float = 30.0       # seconds over which a 404 on a known task is re-checked (rule 1)

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
                   aim=False, max_wait=max_wait, recheck=interval * 5,
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
