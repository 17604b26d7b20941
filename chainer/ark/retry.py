"""Bounded exponential backoff with jitter, for calls that are safe to repeat.

Never wrap ``ArkClient.create`` in :func:`call_with_retry` with the default predicate alone: a
create may only be repeated when the request never reached the server (see
:attr:`ArkConnectionError.sent`) or the server refused it (429); the orchestrator handles the
ambiguous cases by adopting the task it may have created.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, TypeVar

from .errors import ArkConnectionError, ArkError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    initial: float = 1.0       # first wait (s)
    factor: float = 2.0
    cap: float = 30.0          # longest single wait (s)
    attempts: int = 6          # total attempts, including the first
    jitter: float = 0.25       # each wait is multiplied by a factor in [1 - jitter, 1]

    def delay(self, retry: int, rng: random.Random) -> float:
        """Wait before retry number ``retry`` (1-based)."""
        base = min(self.cap, self.initial * self.factor ** (retry - 1))
        return base * (1.0 - self.jitter * rng.random())


def default_retryable(exc: BaseException) -> bool:
    return isinstance(exc, ArkError) and bool(getattr(exc, "retryable", False))


def create_retryable(exc: BaseException) -> bool:
    """A create may be repeated only if it certainly did not create a task."""
    if isinstance(exc, ArkConnectionError):
        return not exc.sent
    status = getattr(exc, "status", None)
    return status == 429


def call_with_retry(fn: Callable[[], T], policy: RetryPolicy, *, rng: random.Random,
                    wait: Callable[[float], bool], retryable: Callable[[BaseException], bool] = default_retryable,
                    on_retry: Callable[[BaseException, int, float], None] | None = None) -> T:
    """Call ``fn`` until it succeeds, a non-retryable error occurs or attempts run out.

    ``wait(seconds)`` sleeps and returns True when the caller wants to stop (Ctrl-C): the last
    error is then re-raised immediately.
    """
    retry = 0
    while True:
        try:
            return fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            retry += 1
            if not retryable(exc) or retry >= policy.attempts:
                raise
            delay = policy.delay(retry, rng)
            if on_retry:
                on_retry(exc, retry, delay)
            if wait(delay):
                raise
