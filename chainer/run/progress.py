"""Progress reporting: a live display that fits the terminal, one plain line per event otherwise.

The runner only calls :class:`Progress` methods; what they show is decided here.
``render(progress=...)`` accepts ``None`` (auto: rich on a TTY, plain lines otherwise), ``False``
(silent), ``"plain"`` / ``"rich"``, a :class:`Progress`, or a callable receiving event dicts.

Events (all optional but ``shot``):

- ``begin(rows)``: one dict per shot: ``id``, ``sequence`` (0-based, shown from 1),
  ``expected`` (seconds the provider is expected to take, or None), ``cost`` (estimate, or None),
  and ``concurrency`` / ``currency`` on any row (the run's);
- ``shot(id, state, detail)``: a shot changed state (``submitting``, ``submitted``, ``queued``,
  ``running``, ``downloading``, ``done``, ``reused``, ``failed``, ``stopped``...);
- ``cost(id, amount)``: what the shot's task actually cost;
- ``step(name, done, total, unit)``: a long local step (colour matching, assembly, review) has done
  ``done`` of ``total``; ``done == total`` ends it;
- ``message(text)``: a line that is not about one shot.

The live display (:class:`Display`, pure: state in, lines out) is one summary line (shots done /
total, tasks running and queued, spent vs estimate, elapsed and ETA), the current local step with
its own ETA, then only the active shots and as many recently finished ones as fit: a 30-shot
render stays followable in a 24-line terminal, messages scrolling above it.
"""
from __future__ import annotations

import sys
import threading
import time
from typing import Any, Callable, TextIO

# states of a shot whose task is with the provider or whose files are coming down
ACTIVE = ("submitting", "submitted", "queued", "running", "succeeded", "downloading", "checking",
          "adopted", "retrying")
RUNNING = ("running", "succeeded", "downloading")      # the rest of ACTIVE counts as queued
FAILED = ("failed", "stopped", "expired", "cancelled")
FINISHED = ("done", "reused", *FAILED)
STYLE = {"done": "green", "reused": "green", "failed": "red", "stopped": "yellow",
         "expired": "red", "cancelled": "yellow",
         "running": "cyan", "queued": "blue", "submitted": "blue", "downloading": "magenta",
         "retrying": "yellow", "checking": "yellow"}


class Progress:
    """Silent base class."""

    def begin(self, rows: list[dict[str, Any]]) -> None:
        """``rows``: one dict per shot with ``id``, ``sequence``, ``expected`` (seconds)."""

    def shot(self, shot_id: str, state: str, detail: str = "") -> None:
        """A shot changed state (``submitted``, ``queued``, ``running``, ``downloading``...)."""

    def cost(self, shot_id: str, amount: float) -> None:
        """What the shot's task actually cost."""

    def step(self, name: str, done: float, total: float, unit: str = "") -> None:
        """A long local step's progress (``done == total`` ends it)."""

    def message(self, text: str) -> None:
        """A line for the user that is not about one shot."""

    def end(self) -> None:
        pass


def fmt_duration(seconds: float | None) -> str:
    """``42s``, ``3m05s``, ``1h02m``; ``?`` when unknown."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "?"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class Display:
    """The state of a render as the user sees it, and its rendering into at most ``height`` lines
    of at most ``width`` characters. Thread-safe; ``clock`` injected."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.t0 = clock()
        self.rows: dict[str, dict[str, Any]] = {}
        self.concurrency: int | None = None
        self.currency = ""
        self.steps: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    # ---- events ----------------------------------------------------------------------------
    def begin(self, rows):
        with self._lock:
            self.t0 = self.clock()
            for r in rows:
                self.rows[r["id"]] = {"id": r["id"], "sequence": r.get("sequence"),
                                      "expected": r.get("expected"), "est_cost": r.get("cost"),
                                      "cost": None, "state": "pending", "detail": "",
                                      "t0": None, "t1": None}
                self.concurrency = r.get("concurrency") or self.concurrency
                self.currency = r.get("currency") or self.currency

    def shot(self, shot_id, state, detail=""):
        with self._lock:
            now = self.clock()
            r = self.rows.setdefault(shot_id, {"id": shot_id, "sequence": None, "expected": None,
                                               "est_cost": None, "cost": None, "t0": None,
                                               "t1": None})
            if r.get("t0") is None and state in ACTIVE:
                r["t0"] = now
            if state in FINISHED:
                r["t1"] = now
            elif state in ACTIVE:
                r["t1"] = None
            r["state"], r["detail"] = state, detail or ""

    def cost(self, shot_id, amount):
        with self._lock:
            if shot_id in self.rows and amount is not None:
                self.rows[shot_id]["cost"] = float(amount)

    def step(self, name, done, total, unit=""):
        with self._lock:
            now = self.clock()
            st = self.steps.get(name)
            if st is None or done < st["done"]:
                st = self.steps[name] = {"name": name, "t0": now, "done": 0.0, "total": total,
                                         "unit": unit, "t1": None}
            st.update(done=float(done), total=float(total), unit=unit)
            st["t1"] = now if total and done >= total else None

    # ---- derived ----------------------------------------------------------------------------
    def _expected(self, r) -> float | None:
        if r.get("expected"):
            return float(r["expected"])
        seen = [x["t1"] - x["t0"] for x in self.rows.values()
                if x["state"] == "done" and x["t0"] is not None and x["t1"] is not None]
        return sum(seen) / len(seen) if seen else None

    def eta(self, now: float) -> float | None:
        """Seconds left: the longest remaining sequence, or the remaining work spread over the
        concurrency, whichever is longer (from each shot's expected latency, less what its task
        has already run)."""
        per_seq: dict[Any, float] = {}
        total = 0.0
        for r in self.rows.values():
            if r["state"] in FINISHED:
                continue
            exp = self._expected(r)
            if exp is None:
                return None
            left = exp - (now - r["t0"]) if r["t0"] is not None else exp
            left = max(left, 1.0)
            per_seq[r["sequence"]] = per_seq.get(r["sequence"], 0.0) + left
            total += left
        if not per_seq:
            return 0.0
        return max(max(per_seq.values()), total / max(1, self.concurrency or len(per_seq)))

    def summary(self, now: float, width: int = 200) -> str:
        """``12/30 done · 3 running · 2 queued · spent 3.20/9.60 CNY · 4m12s elapsed · ETA
        6m30s``, in shorter words when ``width`` is too narrow for that."""
        rows = list(self.rows.values())
        done = sum(1 for r in rows if r["state"] in ("done", "reused"))
        failed = sum(1 for r in rows if r["state"] in FAILED)
        running = sum(1 for r in rows if r["state"] in RUNNING)
        queued = sum(1 for r in rows if r["state"] in ACTIVE and r["state"] not in RUNNING)
        spent = sum(r["cost"] or 0.0 for r in rows)
        est = [r["est_cost"] for r in rows if r["est_cost"] is not None]
        cur = f" {self.currency}" if self.currency else ""
        money = None
        if est or spent:
            money = f"{spent:.2f}/{sum(est):.2f}{cur}" if est else f"{spent:.2f}{cur}"
        open_ = done + failed < len(rows)
        eta = fmt_duration(self.eta(now)) if open_ else None
        el = fmt_duration(now - self.t0)
        text = ""
        for level in (0, 1, 2):
            long = level < 2
            parts = [f"{done}/{len(rows)} done", f"{running} running" if long else f"{running} run",
                     f"{queued} queued" if long else f"{queued} q"]
            if failed:
                parts.append(f"{failed} failed" if long else f"{failed} fail")
            if money:
                parts.append(f"spent {money}" if level == 0 else money)
            parts.append(f"{el} elapsed" if level == 0 else el)
            if eta:
                parts.append(f"ETA {eta}")
            text = " · ".join(parts)
            if len(text) <= width:
                break
        return text

    def step_line(self, now: float, width: int) -> str | None:
        live = [s for s in self.steps.values() if s["t1"] is None or now - s["t1"] < 3.0]
        if not live:
            return None
        s = max(live, key=lambda x: x["t0"])
        frac = min(1.0, s["done"] / s["total"]) if s["total"] else 0.0
        el = now - s["t0"]
        if s["t1"] is not None:
            tail = f"done in {fmt_duration(s['t1'] - s['t0'])}"
        elif s["done"] > 0:
            tail = f"ETA {fmt_duration(el / s['done'] * (s['total'] - s['done']))}"
        else:
            tail = "ETA ?"
        unit = f" {s['unit']}" if s["unit"] else ""
        count = f"{s['done']:g}/{s['total']:g}{unit}"
        head = f"{s['name']} "
        rest = f" {count} · {tail}"
        bar_w = max(0, min(30, width - len(head) - len(rest) - 2))
        fill = int(round(frac * bar_w))
        bar = "[" + "#" * fill + "-" * (bar_w - fill) + "]" if bar_w >= 4 else ""
        return _cut(head + bar + rest, width)

    def lines(self, width: int = 80, height: int = 24) -> list[tuple[str, str]]:
        """(text, style) lines: summary, step, header, then active and recently finished shots;
        never more than ``height`` lines, none wider than ``width``."""
        with self._lock:
            now = self.clock()
            out = [(_cut(self.summary(now, width), width), "bold")]
            sl = self.step_line(now, width)
            if sl:
                out.append((sl, "cyan"))
            rows = list(self.rows.values())
            active = [r for r in rows if r["state"] in ACTIVE]
            finished = sorted((r for r in rows if r["state"] in FINISHED and r["t1"] is not None),
                              key=lambda r: r["t1"], reverse=True)
            room = height - len(out) - 1
            if room <= 0 or not (active or finished):
                return out[:height]
            idw = min(24, max([5] + [len(r["id"]) for r in active + finished]))
            out.append((_cut(f"{'seq':>3} {'shot':<{idw}} {'state':<11} {'time':>13}  detail", width),
                        "dim"))
            show_active = active
            more = 0
            if len(active) > room:
                show_active, more = active[:room - 1], len(active) - (room - 1)
            for r in show_active:
                out.append(self._row(r, now, idw, width))
            if more:
                out.append((f"    … {more} more active", "dim"))
            for r in finished[:max(0, room - len(show_active) - (1 if more else 0))]:
                out.append(self._row(r, now, idw, width))
            return out

    def _row(self, r, now, idw, width) -> tuple[str, str]:
        seq = r["sequence"] + 1 if isinstance(r["sequence"], int) else (r["sequence"] or "")
        el = "" if r["t0"] is None else fmt_duration((r["t1"] or now) - r["t0"])
        exp = self._expected(r) if r["state"] in ACTIVE else None
        tm = f"{el}/~{fmt_duration(exp)}" if exp and el else el
        sid = r["id"] if len(r["id"]) <= idw else r["id"][:idw - 1] + "…"
        text = f"{seq!s:>3} {sid:<{idw}} {r['state']:<11} {tm:>13}  {r['detail']}"
        return _cut(text.rstrip(), width), STYLE.get(r["state"], "")


def _cut(text: str, width: int) -> str:
    text = " ".join(text.split("\n"))
    return text if len(text) <= width else text[:max(0, width - 1)] + "…"


class PlainProgress(Progress):
    """``  12.3s  sunrise          running     cgt-2025... (expected ~40s)``, one line per event;
    a local step prints at its start, every quarter and at its end."""

    def __init__(self, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic):
        self.stream = stream or sys.stderr
        self.clock = clock
        self.t0 = clock()
        self.width = 12
        self._lock = threading.Lock()
        self._quarters: dict[str, int] = {}
        self._step_t0: dict[str, float] = {}

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

    def step(self, name, done, total, unit=""):
        now = self.clock()
        q = int(4 * done / total) if total else 4
        if name not in self._quarters or done == 0:
            self._step_t0[name] = now
            self._quarters[name] = -1
        if q <= self._quarters[name]:
            return
        self._quarters[name] = q
        el = now - self._step_t0[name]
        u = f" {unit}" if unit else ""
        if total and done >= total:
            tail = f"done in {fmt_duration(el)}"
            self._quarters.pop(name, None)
        else:
            tail = f"ETA {fmt_duration(el / done * (total - done))}" if done else "started"
        self._write(f"{now - self.t0:7.1f}s  {name}: {done:g}/{total:g}{u} · {tail}")

    def message(self, text):
        self._write(text)


class RichProgress(Progress):
    """The :class:`Display` kept live at the bottom of the terminal (messages scroll above)."""

    def __init__(self, console=None, clock: Callable[[], float] = time.monotonic,
                 reserve: int = 4):
        from rich.console import Console

        self.console = console or Console(stderr=True)
        self.display = Display(clock)
        self.reserve = reserve          # terminal lines left for messages scrolling above
        self.live = None

    def renderable(self):
        from rich.console import Group
        from rich.text import Text

        w, h = self.console.size
        lines = self.display.lines(width=max(20, w - 1), height=max(3, h - self.reserve))
        return Group(*(Text(t, style=s, no_wrap=True, overflow="ellipsis") for t, s in lines))

    def begin(self, rows):
        from rich.live import Live

        self.display.begin(rows)
        self.live = Live(console=self.console, refresh_per_second=4, transient=False,
                         get_renderable=self.renderable, vertical_overflow="crop")
        self.live.start()

    def shot(self, shot_id, state, detail=""):
        self.display.shot(shot_id, state, detail)

    def cost(self, shot_id, amount):
        self.display.cost(shot_id, amount)

    def step(self, name, done, total, unit=""):
        self.display.step(name, done, total, unit)

    def message(self, text):
        self.console.print(text, markup=False, highlight=False, soft_wrap=False)

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

    def cost(self, shot_id, amount):
        self.fn({"event": "cost", "shot": shot_id, "amount": amount})

    def step(self, name, done, total, unit=""):
        self.fn({"event": "step", "name": name, "done": done, "total": total, "unit": unit})

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
