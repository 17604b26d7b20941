"""The run journal: one SQLite file in the run directory, the single source of truth of a run.

Every submission intent, task id, status change, download and usage figure is committed the moment
it happens (``synchronous=FULL``), so a crash or ``kill -9`` at any point loses nothing that was
already paid for. Nothing here ever stores an API key.

The journal uses SQLite's rollback journal (``journal_mode=DELETE``), not WAL: between
transactions the whole journal is in ``journal.sqlite`` alone, so copying a run dir (without any
``-wal``/``-journal`` side file) loses nothing. A journal written in WAL mode by an earlier version
is checkpointed into the main file when it is opened.

Columns are provider-neutral: ``provider`` (registry name), ``provider_identity`` (where the task
lives: name + normalised base URL; a task is only polled through that identity), ``marker`` (the
client marker a host echoes), ``currency``. Journals of schema 1 are migrated on open (columns
added; ``provider_identity`` filled from the run's meta).

Tables
- ``meta(key, value)``: storyboard path, provider, base URL, draft flag...
- ``attempts``: one row per submission *intent* (a shot key, a client-side marker, then a task id)
- ``events``: an append-only log (status changes, retries, downloads) for timings and audits.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Iterator

SCHEMA_VERSION = 2

# attempt states
CREATING = "creating"        # intent recorded, create POST may or may not have reached the provider
SUBMITTED = "submitted"      # task id known, not polled yet
QUEUED, RUNNING, SUCCEEDED = "queued", "running", "succeeded"
FAILED, EXPIRED, CANCELLED = "failed", "expired", "cancelled"
LOST = "lost"                # the provider no longer knows the task (404: deleted, >7 days, emulator restarted)
REJECTED = "rejected"        # the create was refused (4xx) or certainly never arrived: no task exists
AMBIGUOUS = "ambiguous"      # the create may have produced a task we could not identify
IN_FLIGHT_STATES = (CREATING, SUBMITTED, QUEUED, RUNNING)
DEAD_STATES = (FAILED, EXPIRED, CANCELLED, LOST, REJECTED)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    shot_id TEXT NOT NULL,
    shot_key TEXT NOT NULL,
    number INTEGER NOT NULL,
    marker TEXT NOT NULL,
    state TEXT NOT NULL,
    task_id TEXT UNIQUE,
    base_url TEXT,
    model TEXT,
    request_json TEXT,
    seed_sent INTEGER,
    est_tokens INTEGER,
    est_cost REAL,
    price REAL,
    invocation TEXT,
    intent_at REAL,
    submitted_at REAL,
    queued_at REAL,
    running_at REAL,
    finished_at REAL,
    provider_created_at INTEGER,
    provider_updated_at INTEGER,
    seed INTEGER,
    video_url TEXT,
    last_frame_url TEXT,
    urls_at REAL,
    url_expired INTEGER NOT NULL DEFAULT 0,
    tokens INTEGER,
    cost REAL,
    error_code TEXT,
    error_message TEXT,
    result_json TEXT,
    clip_path TEXT,
    clip_sha TEXT,
    clip_bytes INTEGER,
    frame_path TEXT,
    frame_sha TEXT,
    frame_source TEXT,
    frame_at REAL,
    downloaded_at REAL,
    provider TEXT,
    provider_identity TEXT,
    currency TEXT,
    chain_digest TEXT
);
CREATE INDEX IF NOT EXISTS attempts_shot ON attempts (shot_id, shot_key);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    shot_id TEXT,
    attempt_id INTEGER,
    kind TEXT NOT NULL,
    detail TEXT
);
"""


@dataclass
class Attempt:
    id: int
    shot_id: str
    shot_key: str
    number: int
    marker: str
    state: str
    task_id: str | None = None
    base_url: str | None = None
    model: str | None = None
    request_json: str | None = None
    seed_sent: int | None = None
    est_tokens: int | None = None
    est_cost: float | None = None
    price: float | None = None
    invocation: str | None = None
    intent_at: float | None = None
    submitted_at: float | None = None
    queued_at: float | None = None
    running_at: float | None = None
    finished_at: float | None = None
    provider_created_at: int | None = None
    provider_updated_at: int | None = None
    seed: int | None = None
    video_url: str | None = None
    last_frame_url: str | None = None
    urls_at: float | None = None
    url_expired: int = 0
    tokens: int | None = None
    cost: float | None = None
    error_code: str | None = None
    error_message: str | None = None
    result_json: str | None = None
    clip_path: str | None = None
    clip_sha: str | None = None
    clip_bytes: int | None = None
    frame_path: str | None = None
    frame_sha: str | None = None
    frame_source: str | None = None
    chain_digest: str | None = None    # key digest of the last frame as first obtained (keys.py)
    frame_at: float | None = None         # last frame on disk, verified (the next shot may chain)
    downloaded_at: float | None = None    # clip (and last frame when needed) on disk, verified
    provider: str | None = None           # registry name of the provider that created the task
    provider_identity: str | None = None  # where the task lives (name@normalised base URL)
    currency: str | None = None           # of est_cost / price / cost

    @property
    def in_flight(self) -> bool:
        return self.state in IN_FLIGHT_STATES

    @property
    def request(self) -> dict[str, Any]:
        return json.loads(self.request_json) if self.request_json else {}

    @property
    def result(self) -> dict[str, Any]:
        return json.loads(self.result_json) if self.result_json else {}


# columns added after SCHEMA_VERSION 1 shipped: (name, SQL declaration)
_ADDED_COLUMNS = (("frame_at", "REAL"), ("provider", "TEXT"), ("provider_identity", "TEXT"),
                  ("currency", "TEXT"), ("chain_digest", "TEXT"))
_COLUMNS = tuple(f.name for f in fields(Attempt))
_UPDATABLE = frozenset(_COLUMNS) - {"id", "shot_id", "shot_key", "number", "marker"}


@dataclass
class Event:
    id: int
    ts: float
    shot_id: str | None
    attempt_id: int | None
    kind: str
    detail: dict[str, Any]


class Journal:
    """Thread-safe access to ``journal.sqlite``; every write is its own committed transaction."""

    def __init__(self, path: str | Path, *, clock=time.time):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False,
                                   timeout=30.0)
        self._db.row_factory = sqlite3.Row
        with self._lock:
            self._db.execute("PRAGMA journal_mode=DELETE")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            self._migrate()
            if (self.get_meta("schema_version") or 0) < SCHEMA_VERSION:
                self.set_meta("schema_version", SCHEMA_VERSION)

    def _migrate(self) -> None:
        """Add columns that journals written by older versions lack (additive only)."""
        have = {r["name"] for r in self._db.execute("PRAGMA table_info(attempts)").fetchall()}
        for name, decl in _ADDED_COLUMNS:
            if name not in have:
                try:
                    self._db.execute(f"ALTER TABLE attempts ADD COLUMN {name} {decl}")
                except sqlite3.OperationalError as exc:   # another process added it meanwhile
                    if "duplicate column" not in str(exc):
                        raise
        # schema 1 -> 2: each attempt's provider identity, from the run's meta (rule 6). An
        # in-process emulator's tasks died with it: one identity for all of them.
        if (self.get_meta("schema_version") or 1) < 2:
            name = self.get_meta("provider") or "ark"
            if name == "emulator":
                ident = "emulator@in-process"
            else:
                from ..providers.base import normalise_base_url

                url = self.get_meta("base_url")
                ident = f"{name}@{normalise_base_url(url)}" if url else None
            self._db.execute("UPDATE attempts SET provider = COALESCE(provider, ?), "
                             "provider_identity = COALESCE(provider_identity, ?), "
                             "currency = COALESCE(currency, 'CNY')", (name, ident))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- meta -------------------------------------------------------------------------------
    def set_meta(self, key: str, value: Any) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                             (key, json.dumps(value)))

    def get_meta(self, key: str, default: Any = None) -> Any:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row["value"])

    def meta(self) -> dict[str, Any]:
        with self._lock:
            rows = self._db.execute("SELECT key, value FROM meta").fetchall()
        return {r["key"]: json.loads(r["value"]) for r in rows}

    # ---- attempts ---------------------------------------------------------------------------
    def add_intent(self, shot_id: str, shot_key: str, marker: str, **values: Any) -> Attempt:
        """Record that we are about to POST a create (committed before the request is sent)."""
        bad = set(values) - _UPDATABLE
        if bad:
            raise KeyError(f"unknown attempt fields {sorted(bad)}")
        values.setdefault("state", CREATING)
        values.setdefault("intent_at", self._clock())
        with self._lock:
            # count + insert + event: one transaction (two writers never get one number)
            self._db.execute("BEGIN IMMEDIATE")
            try:
                number = 1 + self._db.execute(
                    "SELECT COUNT(*) FROM attempts WHERE shot_id = ? AND shot_key = ?",
                    (shot_id, shot_key)).fetchone()[0]
                cols = ["shot_id", "shot_key", "number", "marker", *values]
                cur = self._db.execute(
                    f"INSERT INTO attempts ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                    (shot_id, shot_key, number, marker, *values.values()))
                attempt_id = cur.lastrowid
                self._event(shot_id, attempt_id, "intent", {"marker": marker, "number": number})
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return self.get(attempt_id)

    def update(self, attempt_id: int, *, event: str | None = None,
               detail: dict[str, Any] | None = None, **values: Any) -> Attempt:
        """Update fields of one attempt (and optionally log an event) in one transaction."""
        bad = set(values) - _UPDATABLE
        if bad:
            raise KeyError(f"unknown attempt fields {sorted(bad)}")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if values:
                    sets = ", ".join(f"{k} = ?" for k in values)
                    self._db.execute(f"UPDATE attempts SET {sets} WHERE id = ?",
                                     (*values.values(), attempt_id))
                if event:
                    row = self._db.execute("SELECT shot_id FROM attempts WHERE id = ?",
                                           (attempt_id,)).fetchone()
                    self._event(row["shot_id"] if row else None, attempt_id, event, detail or {})
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return self.get(attempt_id)

    def get(self, attempt_id: int) -> Attempt:
        with self._lock:
            row = self._db.execute("SELECT * FROM attempts WHERE id = ?", (attempt_id,)).fetchone()
        if row is None:
            raise KeyError(attempt_id)
        return _attempt(row)

    def by_task(self, task_id: str) -> Attempt | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM attempts WHERE task_id = ?", (task_id,)).fetchone()
        return _attempt(row) if row else None

    def attempts(self, shot_id: str | None = None, shot_key: str | None = None,
                 states: tuple[str, ...] | None = None) -> list[Attempt]:
        """Attempts in creation order, optionally filtered."""
        sql, args = "SELECT * FROM attempts WHERE 1=1", []
        if shot_id is not None:
            sql += " AND shot_id = ?"
            args.append(shot_id)
        if shot_key is not None:
            sql += " AND shot_key = ?"
            args.append(shot_key)
        if states:
            sql += f" AND state IN ({', '.join('?' * len(states))})"
            args.extend(states)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY id", args).fetchall()
        return [_attempt(r) for r in rows]

    def latest(self, shot_id: str, shot_key: str) -> Attempt | None:
        rows = self.attempts(shot_id, shot_key)
        return rows[-1] if rows else None

    def known_task_ids(self) -> set[str]:
        with self._lock:
            rows = self._db.execute("SELECT task_id FROM attempts WHERE task_id IS NOT NULL").fetchall()
        return {r["task_id"] for r in rows}

    # ---- events -----------------------------------------------------------------------------
    def event(self, shot_id: str | None, kind: str, detail: dict[str, Any] | None = None,
              attempt_id: int | None = None) -> None:
        with self._lock:
            self._event(shot_id, attempt_id, kind, detail or {})

    def _event(self, shot_id, attempt_id, kind, detail) -> None:
        self._db.execute("INSERT INTO events (ts, shot_id, attempt_id, kind, detail) VALUES (?,?,?,?,?)",
                         (self._clock(), shot_id, attempt_id, kind, json.dumps(detail, default=str)))

    def events(self, shot_id: str | None = None, kind: str | None = None) -> Iterator[Event]:
        sql, args = "SELECT * FROM events WHERE 1=1", []
        if shot_id is not None:
            sql += " AND shot_id = ?"
            args.append(shot_id)
        if kind is not None:
            sql += " AND kind = ?"
            args.append(kind)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY id", args).fetchall()
        for r in rows:
            yield Event(r["id"], r["ts"], r["shot_id"], r["attempt_id"], r["kind"],
                        json.loads(r["detail"] or "{}"))


def _attempt(row: sqlite3.Row) -> Attempt:
    return Attempt(**{k: row[k] for k in _COLUMNS})


class JournalMissing(Exception):
    """Raised by :func:`open_run_journal`; carries the one line for the user."""


def run_outputs(run_dir: Path) -> list[str]:
    """What in ``run_dir`` shows an earlier render paid for something (clips, frames, summary)."""
    found = []
    for sub, pattern in (("clips", "*.mp4"), ("frames", "*.png")):
        d = run_dir / sub
        if d.is_dir() and any(d.glob(pattern)):
            found.append(f"{sub}/")
    if (run_dir / "summary.json").exists():
        found.append("summary.json")
    return found


def open_run_journal(run_dir: str | Path, *, create: bool = True) -> Journal:
    """Open ``run_dir``'s journal for a render (rule 4: the journal is the only proof of what
    was paid). A run dir holding clips, frames or a summary whose journal is missing, empty or
    unreadable is refused with :class:`~chainer.errors.InputError` (exit 2) rather than rendered
    again, which would pay a second time for shots that exist."""
    from ..errors import InputError

    run_dir = Path(run_dir)
    path = run_dir / "journal.sqlite"
    outputs = run_outputs(run_dir)
    recover = (f"restore {path} from a copy (with its -wal file if it has one), or move "
               f"{', '.join(outputs)} aside to render again from nothing (paid again)")
    if not path.exists() or path.stat().st_size == 0:
        if outputs:
            what = "missing" if not path.exists() else "empty"
            raise InputError(f"{run_dir}: holds {', '.join(outputs)} from an earlier render but "
                             f"journal.sqlite is {what}, so what was paid cannot be known; "
                             f"nothing submitted. To recover: {recover}")
        if not create:
            raise InputError(f"{run_dir}: no journal.sqlite here (not a chainer run directory)")
    try:
        journal = Journal(path)
        has_record = bool(journal.attempts()) or journal.get_meta("storyboard") is not None
    except (sqlite3.DatabaseError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: corrupt or unreadable journal ({exc}); nothing submitted. To recover: "
                         f"{recover}") from None
    if outputs and not has_record:
        journal.close()
        raise InputError(f"{run_dir}: holds {', '.join(outputs)} from an earlier render but "
                         f"journal.sqlite records no render, so what was paid cannot be known; "
                         f"nothing submitted. To recover: {recover}")
    # a clip the journal has never heard of was paid for by a journal we do not have (an older
    # copy restored, or a WAL lost in a copy)
    known = {a.shot_id for a in journal.attempts()}
    clips = run_dir / "clips"
    strays = sorted(p.stem for p in clips.glob("*.mp4")) if clips.is_dir() else []
    strays = [s for s in strays if s not in known]
    if strays:
        journal.close()
        raise InputError(f"{run_dir}: clips/{strays[0]}.mp4" + (f" (and {len(strays) - 1} more)"
                         if len(strays) > 1 else "") + " has no task in journal.sqlite (an older "
                         f"or incomplete copy?), so what was paid cannot be known; nothing "
                         f"submitted. To recover: {recover}")
    return journal
