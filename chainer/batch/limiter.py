"""Account limiter: one per provider account, shared by every film of a batch.

A provider limits an *account*, per model: how many tasks may be running (or queued) at once and
how many creates a minute it accepts (Ark: 10 running per model, 600 RPM; BytePlus: 120 queued
tasks per account). A task holds one *slot* of its (account, model) from just before its create
until it is terminal (or the shot stops); each create also spends one unit of the create rate.

The runner only sees the :class:`Limiter` protocol::

    lease = limiter.acquire(account, model, film, create=True, cancel=stop_event)
    ...   # create, poll until terminal
    lease.release()

``acquire`` blocks until a slot (and, with ``create=True``, a create within the rate) is
granted, or returns ``None`` once ``cancel`` is set. ``create=False`` is for a task that already
exists (a resumed run polling it): it takes a slot but spends no rate.

Two implementations:

- :class:`AccountLimiter`: threads of one process. Fair across films: a free slot goes to the
  waiting film holding the fewest slots of that (account, model), ties to the longest waiter, so
  a long storyboard cannot starve short ones.
- :class:`DaskAccountLimiter`: processes of a Dask cluster, through lease-based
  ``distributed.Semaphore`` objects (a dead worker's leases expire; see docs/scale.md). Picklable:
  it holds only names and numbers and opens its semaphores in whichever process uses it.
"""
from __future__ import annotations

import itertools
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Callable, Protocol

RATE_WINDOW = 60.0     # seconds: the create rate is per minute


class Lease(Protocol):
    def release(self) -> None: ...


class Limiter(Protocol):
    def acquire(self, account: str, model: str, film: str, *, create: bool = True,
                cancel: threading.Event | None = None) -> Lease | None: ...


@dataclass(frozen=True)
class Limits:
    """An account's limits for one model. ``concurrency``: tasks holding a slot at once (running
    or queued on the account); ``rpm``: creates per minute (``None``: unlimited)."""

    concurrency: int
    rpm: int | None = None

    def __post_init__(self):
        if self.concurrency < 1:
            raise ValueError(f"concurrency {self.concurrency} must be at least 1")
        if self.rpm is not None and self.rpm < 1:
            raise ValueError(f"rpm {self.rpm} must be at least 1")


LimitsFor = Callable[[str, str], Limits]     # (account, model) -> Limits


def fixed_limits(concurrency: int, rpm: int | None = None) -> LimitsFor:
    lim = Limits(concurrency, rpm)
    return lambda account, model: lim


# ---- one process ---------------------------------------------------------------------------------

@dataclass
class _Pool:
    limits: Limits
    held: Counter = field(default_factory=Counter)        # film -> slots held
    waiting: list = field(default_factory=list)           # [(ticket, film)] in arrival order
    creates: deque = field(default_factory=deque)         # monotonic times of recent creates
    peak: int = 0
    busy_seconds: float = 0.0                             # integral of slots held over time
    since: float = field(default_factory=time.monotonic)
    last: float = field(default_factory=time.monotonic)

    def total(self) -> int:
        return sum(self.held.values())

    def tick(self, now: float) -> None:
        self.busy_seconds += self.total() * (now - self.last)
        self.last = now


class _LocalLease:
    def __init__(self, limiter: "AccountLimiter", key: tuple[str, str], film: str):
        self._limiter, self._key, self._film = limiter, key, film
        self._done = False

    def release(self) -> None:
        if not self._done:
            self._done = True
            self._limiter._release(self._key, self._film)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


class AccountLimiter:
    """Thread-safe, fair per-(account, model) concurrency and create-rate limiter."""

    def __init__(self, limits: LimitsFor | Limits | int, *, clock: Callable[[], float] = time.monotonic):
        if isinstance(limits, int):
            limits = Limits(limits)
        self._limits_for: LimitsFor = (limits if callable(limits)
                                       else (lambda a, m, _l=limits: _l))
        self._clock = clock
        self._cond = threading.Condition()
        self._pools: dict[tuple[str, str], _Pool] = {}
        self._tickets = itertools.count()

    def _pool(self, key: tuple[str, str]) -> _Pool:
        pool = self._pools.get(key)
        if pool is None:
            now = self._clock()
            pool = self._pools[key] = _Pool(self._limits_for(*key), since=now, last=now)
        return pool

    def acquire(self, account: str, model: str, film: str, *, create: bool = True,
                cancel: threading.Event | None = None) -> _LocalLease | None:
        key = (account, model)
        with self._cond:
            pool = self._pool(key)
            ticket = (next(self._tickets), film, create)
            pool.waiting.append(ticket)
            try:
                while True:
                    if cancel is not None and cancel.is_set():
                        return None
                    wait = self._grantable(pool, ticket, create)
                    if wait == 0.0:
                        now = self._clock()
                        pool.tick(now)
                        pool.held[film] += 1
                        pool.peak = max(pool.peak, pool.total())
                        if create:
                            pool.creates.append(now)
                        return _LocalLease(self, key, film)
                    # woken by a release; also re-checks cancel and the rate window
                    self._cond.wait(min(wait, 0.2))
            finally:
                pool.waiting.remove(ticket)
                self._cond.notify_all()

    def _grantable(self, pool: _Pool, ticket, create: bool) -> float:
        """0.0 when ``ticket`` may take a slot now, else seconds worth waiting before re-checking."""
        if pool.total() >= pool.limits.concurrency:
            return 1.0
        rate_wait = 0.0
        if pool.limits.rpm is not None:
            now = self._clock()
            while pool.creates and pool.creates[0] <= now - RATE_WINDOW:
                pool.creates.popleft()
            if len(pool.creates) >= pool.limits.rpm:
                rate_wait = max(0.001, pool.creates[0] + RATE_WINDOW - now)
        if create and rate_wait:
            return rate_wait
        # fairness: among the waiters that could go now, the one whose film holds the fewest
        # slots goes first, then arrival order (a create held back by the rate does not block
        # a task that exists already)
        eligible = [t for t in pool.waiting if not (t[2] and rate_wait)]
        first = min(eligible, key=lambda t: (pool.held[t[1]], t[0]))
        return 0.0 if first is ticket else 1.0

    def _release(self, key: tuple[str, str], film: str) -> None:
        with self._cond:
            pool = self._pools[key]
            pool.tick(self._clock())
            pool.held[film] -= 1
            if pool.held[film] <= 0:
                del pool.held[film]
            self._cond.notify_all()

    def stats(self) -> dict[str, dict]:
        """Per "account model": limit, held now, peak held, time-averaged utilisation."""
        out = {}
        with self._cond:
            now = self._clock()
            for (account, model), pool in self._pools.items():
                pool.tick(now)
                span = max(1e-9, now - pool.since)
                out[f"{account} {model}"] = {
                    "limit": pool.limits.concurrency, "held": pool.total(), "peak": pool.peak,
                    "utilisation": pool.busy_seconds / span / pool.limits.concurrency}
        return out


# ---- a Dask cluster ------------------------------------------------------------------------------

class _DaskLease:
    def __init__(self, sem, rate, rate_seconds: float):
        self._sem, self._rate, self._rate_seconds = sem, rate, rate_seconds
        self._done = False

    def release(self) -> None:
        if self._done:
            return
        self._done = True
        self._sem.release()


class DaskAccountLimiter:
    """The same protocol across the processes of a Dask cluster.

    Each (account, model) is a ``distributed.Semaphore(max_leases=concurrency)``; the create rate
    is a second semaphore with ``rpm`` leases, each taken at a create and given back
    :data:`RATE_WINDOW` seconds later (so at most ``rpm`` creates start in any minute). Leases
    live on the scheduler and are kept alive by the process holding them: when a worker dies,
    its leases time out (``distributed.scheduler.locks.lease-timeout``) and the slots come back.
    Fairness across films here comes from the batch's ordering (shortest first, one film per
    task), not from the semaphore, which grants in no particular order.
    """

    def __init__(self, limits: Limits, *, prefix: str = "chainer", poll: float = 0.5):
        self.limits = limits
        self.prefix = prefix
        self.poll = poll
        self._sems: dict[str, object] = {}
        self._lock: threading.Lock | None = None
        self._rpc = self._loop = None

    def bind(self, client) -> "DaskAccountLimiter":
        """Use ``client``'s scheduler connection (call it in the Dask task: the render's own
        threads have no worker context to find it)."""
        self._rpc, self._loop = client.scheduler, client.loop
        return self

    def __getstate__(self):
        return {"limits": self.limits, "prefix": self.prefix, "poll": self.poll}

    def __setstate__(self, state):
        self.__init__(state["limits"], prefix=state["prefix"], poll=state["poll"])

    def _sem(self, name: str, leases: int):
        if self._lock is None:
            self._lock = threading.Lock()
        with self._lock:
            sem = self._sems.get(name)
            if sem is None:
                from distributed import Semaphore

                sem = self._sems[name] = Semaphore(max_leases=leases, name=name,
                                                   scheduler_rpc=self._rpc, loop=self._loop)
            return sem

    def acquire(self, account: str, model: str, film: str, *, create: bool = True,
                cancel: threading.Event | None = None) -> _DaskLease | None:
        base = f"{self.prefix}:{account}:{model}"
        sem = self._sem(base, self.limits.concurrency)
        while not sem.acquire(timeout=self.poll):
            if cancel is not None and cancel.is_set():
                return None
        rate = None
        if create and self.limits.rpm is not None:
            rate = self._sem(base + ":rpm", self.limits.rpm)
            while not rate.acquire(timeout=self.poll):
                if cancel is not None and cancel.is_set():
                    sem.release()
                    return None
            # give the rate lease back one window later (a daemon timer; a dead process's lease
            # expires on the scheduler instead)
            t = threading.Timer(RATE_WINDOW, rate.release)
            t.daemon = True
            t.start()
        return _DaskLease(sem, rate, RATE_WINDOW)
