"""Progress reporting: a live per-shot table on a terminal, one plain line per event otherwise.

The orchestrator only calls :class:`Progress` methods; what they print is decided here.
``render(progress=...)`` accepts ``None`` (auto: rich on a TTY, plain lines otherwise), ``False``
(silent), ``"plain"`` / ``"rich"``, a :class:`Progress`, or a callable receiving event dicts.
"""
from __future__ import annotations

import sys
import threading
import time
from typing import Any, Callable, TextIO


class Progress:
    """Silent base class."""

    def begin(self, rows: list[dict[str, Any]]) -> None:
        """``rows``: one dict per shot with ``id``, ``sequence``, ``expected`` (seconds)."""

    def shot(self, shot_id: str, state: str, detail: str = "") -> None:
        """A shot changed state (``submitted``, ``queued``, ``running``, ``downloading``...)."""

    def message(self, text: str) -> None:
        """A line for the user that is not about one shot."""

    def end(self) -> None:
        pass


class PlainProgress(Progress):
    """``  12.3s  sunrise          running     cgt-2025... (expected ~40s)``, one line per event."""

    def __init__(self, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic):
        self.stream = stream or sys.stderr
        self.clock = clock
        self.t0 = clock()
        self.width = 12
        self._lock = threading.Lock()

    def begin(self, rows):
        self.t0 = self.clock()
        if rows:
            self.width = max(self.width, *(len(r["id"]) for r in rows))

    def _write(self, text: str) -> None:
        with self._lock:
            self.stream.write(text + "\n")
            self.stream.flush()

    def shot(self, shot_id, state, detail=""):
        el = self.clock() - self.t0
        self._write(f"{el:7.1f}s  {shot_id:<{self.width}}  {state:<11} {detail}".rstrip())

    def message(self, text):
        self._write(text)


class RichProgress(Progress):
    """A live table: shot, sequence, state, elapsed / expected, detail."""

    def __init__(self, console=None, clock: Callable[[], float] = time.monotonic):
        from rich.console import Console

        self.console = console or Console(stderr=True)
        self.clock = clock
        self.rows: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.live = None

    def _table(self):
        from rich.table import Table
        from rich.text import Text

        t = Table(box=None, pad_edge=False, expand=False)
        for col in ("shot", "seq", "state", "elapsed", "expected", "detail"):
            t.add_column(col, no_wrap=col != "detail", overflow="fold")
        now = self.clock()
        style = {"done": "green", "reused": "green", "failed": "red", "stopped": "yellow",
                 "running": "cyan", "queued": "blue", "downloading": "magenta"}
        for r in self.rows.values():
            el = "" if r.get("t0") is None else f"{(r.get('t1') or now) - r['t0']:.0f}s"
            exp = f"~{r['expected']:.0f}s" if r.get("expected") else ""
            seq = r["sequence"] + 1 if isinstance(r["sequence"], int) else r["sequence"]
            t.add_row(Text(r["id"]), str(seq), Text(r["state"], style=style.get(r["state"], "")),
                      el, exp, Text(str(r.get("detail", ""))))
        return t

    def begin(self, rows):
        from rich.live import Live

        with self._lock:
            for r in rows:
                self.rows[r["id"]] = {**r, "state": "pending", "t0": None, "t1": None}
            self.live = Live(self._table(), console=self.console, refresh_per_second=4,
                             get_renderable=self._table)
            self.live.start()

    def shot(self, shot_id, state, detail=""):
        with self._lock:
            r = self.rows.setdefault(shot_id, {"id": shot_id, "sequence": "?", "t0": None,
                                               "t1": None})
            if r.get("t0") is None and state not in ("pending", "reused", "waiting"):
                r["t0"] = self.clock()
            if state in ("done", "reused", "failed", "stopped"):
                r["t1"] = self.clock()
            r["state"], r["detail"] = state, detail

    def message(self, text):
        self.console.print(text, markup=False, highlight=False)

    def end(self):
        if self.live is not None:
            self.live.stop()
            self.live = None


class CallbackProgress(Progress):
    def __init__(self, fn: Callable[[dict[str, Any]], None]):
        self.fn = fn

    def begin(self, rows):
        self.fn({"event": "begin", "shots": rows})

    def shot(self, shot_id, state, detail=""):
        self.fn({"event": "shot", "shot": shot_id, "state": state, "detail": detail,
                 "time": time.time()})

    def message(self, text):
        self.fn({"event": "message", "text": text})

    def end(self):
        self.fn({"event": "end"})


def make_progress(progress: Any = None, stream: TextIO | None = None) -> Progress:
    if isinstance(progress, Progress):
        return progress
    if progress is False:
        return Progress()
    if callable(progress):
        return CallbackProgress(progress)
    stream = stream or sys.stderr
    if progress == "rich" or (progress in (None, "auto") and stream.isatty()):
        try:
            from rich.console import Console

            return RichProgress(Console(file=stream))
        except Exception:  # pragma: no cover - rich missing or broken terminal
            pass
    return PlainProgress(stream)
