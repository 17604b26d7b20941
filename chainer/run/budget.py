"""Money: what this invocation has spent and has in flight, against an optional limit."""
from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class BudgetState:
    limit: float | None
    spent: float
    in_flight: float
    currency: str = "CNY"


class Budget:
    """Thread-safe ledger. ``reserve`` before a create; ``settle`` or ``release`` when it ends.

    Spending is counted for tasks submitted by this invocation: actual cost once usage is known,
    the estimate while in flight. A reservation is refused when spent + in flight + the new
    estimate would pass the limit.
    """

    def __init__(self, limit: float | None, currency: str = "CNY"):
        self.limit = limit
        self.currency = currency
        self._lock = threading.Lock()
        self._in_flight: dict[object, float] = {}
        self._spent: dict[object, float] = {}

    def reserve(self, key: object, estimate: float | None) -> bool:
        with self._lock:
            est = float(estimate or 0.0)
            if self.limit is not None:
                total = sum(self._spent.values()) + sum(self._in_flight.values()) + est
                if total > self.limit + 1e-9:
                    return False
            self._in_flight[key] = est
            return True

    def settle(self, key: object, actual: float | None) -> None:
        with self._lock:
            est = self._in_flight.pop(key, 0.0)
            self._spent[key] = float(actual if actual is not None else est)

    def release(self, key: object) -> None:
        with self._lock:
            self._in_flight.pop(key, None)

    def state(self) -> BudgetState:
        with self._lock:
            return BudgetState(self.limit, sum(self._spent.values()),
                               sum(self._in_flight.values()), self.currency)
