"""One budget for every film of a batch.

The runner calls the same four methods as :class:`chainer.run.budget.Budget` (which it uses for a
single render): ``reserve(key, estimate) -> bool`` before a create (refused when spent + in
flight + the estimate would pass the limit), ``settle(key, actual)`` once the task's cost is
known, ``release(key)`` when the task ended without cost, ``state()``. Keys are the per-create
markers, unique across films.

- :class:`SharedBudget`: threads of one process (the local batch): one ``Budget`` shared.
- :class:`LedgerBudget`: processes on one machine or on shared storage (a cluster): a small
  SQLite ledger in the batch directory, every reservation one ``BEGIN IMMEDIATE`` transaction.
  The limit covers this batch invocation (like ``render --budget`` covers one invocation): each
  invocation has its own id. A reservation of a process that died stays counted as in flight
  (the safe side: never more than the limit is spent).
"""
from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from ..run.budget import Budget, BudgetState


class SharedBudget(Budget):
    """A thread-safe budget shared by every film rendered in this process."""


class LedgerBudget:
    def __init__(self, path: str | Path, limit: float | None, invocation: str,
                 currency: str = "CNY"):
        self.path = str(path)
        self.limit = limit
        self.invocation = invocation
        self.currency = currency
        self._local = threading.local()
        with self._db() as db:
            db.execute("CREATE TABLE IF NOT EXISTS ledger (invocation TEXT, key TEXT, "
                       "estimate REAL, actual REAL, state TEXT, at REAL, "
                       "PRIMARY KEY (invocation, key))")

    def __getstate__(self):
        return {"path": self.path, "limit": self.limit, "invocation": self.invocation,
                "currency": self.currency}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._local = threading.local()

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            db.execute("PRAGMA journal_mode=DELETE")
            self._local.db = db
        return db

    def _tx(self, fn):
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            out = fn(db)
            db.execute("COMMIT")
            return out
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _totals(self, db) -> tuple[float, float]:
        spent, held = db.execute(
            "SELECT COALESCE(SUM(CASE WHEN state='settled' THEN actual END), 0), "
            "COALESCE(SUM(CASE WHEN state='reserved' THEN estimate END), 0) "
            "FROM ledger WHERE invocation=?", (self.invocation,)).fetchone()
        return float(spent), float(held)

    def reserve(self, key: object, estimate: float | None) -> bool:
        est = float(estimate or 0.0)

        def go(db):
            if self.limit is not None:
                spent, held = self._totals(db)
                if spent + held + est > self.limit + 1e-9:
                    return False
            db.execute("INSERT OR REPLACE INTO ledger VALUES (?, ?, ?, NULL, 'reserved', ?)",
                       (self.invocation, str(key), est, time.time()))
            return True
        return self._tx(go)

    def settle(self, key: object, actual: float | None) -> None:
        self._tx(lambda db: db.execute(
            "UPDATE ledger SET actual=COALESCE(?, estimate), state='settled', at=? "
            "WHERE invocation=? AND key=?", (actual, time.time(), self.invocation, str(key))))

    def release(self, key: object) -> None:
        self._tx(lambda db: db.execute(
            "UPDATE ledger SET state='released', at=? WHERE invocation=? AND key=? "
            "AND state='reserved'", (time.time(), self.invocation, str(key))))

    def state(self) -> BudgetState:
        spent, held = self._tx(self._totals)
        return BudgetState(self.limit, spent, held, self.currency)
