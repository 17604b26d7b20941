"""``chainer status OUT_DIR`` for a batch: films done, running, waiting, failed; spent vs
estimate; ETA (no network).

A film's state comes from its own run dir first (a complete summary with its output on disk is
done, whatever the manifest says), then from ``batch.json`` (failed in the last invocation), then
from whether its journal exists (running while the batch runs, stopped after it ended).
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from .manifest import is_batch_dir, read_manifest

__all__ = ["batch_status", "format_batch_status", "is_batch_dir", "status_text"]


def _film_state(entry: dict, batch_finished: bool) -> tuple[str, float, int]:
    """(state, spent, tasks in flight) of one film."""
    run_dir = Path(entry["run_dir"])
    spent, in_flight = 0.0, 0
    jpath = run_dir / "journal.sqlite"
    if jpath.exists():
        from ..run import journal as J

        journal = J.Journal(jpath)
        try:
            attempts = journal.attempts()
        finally:
            journal.close()
        spent = sum(a.cost or 0.0 for a in attempts)
        in_flight = sum(1 for a in attempts if a.in_flight)
    summary = run_dir / "summary.json"
    if summary.exists():
        try:
            data = json.loads(summary.read_text(encoding="utf-8"))
            if data.get("status") == "complete" and (run_dir / str(data.get("output"))).is_file():
                return "done", spent, in_flight
        except (OSError, ValueError):
            pass
    if entry.get("state") == "failed":
        return "failed", spent, in_flight
    if not jpath.exists():
        return "waiting", spent, in_flight
    return ("stopped" if batch_finished else "running"), spent, in_flight


def batch_status(out_dir: str | Path, *, now: float | None = None) -> dict[str, Any]:
    out_dir = Path(out_dir)
    m = read_manifest(out_dir)
    now = time.time() if now is None else now
    finished = m.get("finished_at") is not None
    films, counts, spent, in_flight = [], {}, 0.0, 0
    for entry in m["films"]:
        state, film_spent, film_flight = _film_state(entry, finished)
        counts[state] = counts.get(state, 0) + 1
        spent += film_spent
        in_flight += film_flight
        films.append({"name": entry["name"], "state": state, "shots": entry["shots"],
                      "spent": round(film_spent, 6), "in_flight": film_flight,
                      "est_cost": entry.get("est_cost"), "error": entry.get("error"),
                      "run_dir": entry["run_dir"]})
    left = [f for f, e in zip(films, m["films"]) if f["state"] in ("running", "waiting")]
    eta = None
    if left and not finished:
        elapsed = max(1e-9, now - m["started_at"])
        done_now = sum(1 for e in m["films"] if e.get("state") in ("done", "failed")
                       and e.get("finished_at") and e["finished_at"] >= m["started_at"])
        if done_now:
            eta = len(left) / (done_now / elapsed)
        else:   # nothing finished yet: the estimated critical paths, films_at_once at a time
            crit = {e["name"]: e.get("critical_seconds") or 0.0 for e in m["films"]}
            eta = sum(crit[f["name"]] for f in left) / max(1, m.get("films_at_once") or 1)
    return {"out_dir": str(out_dir), "invocation": m.get("invocation"),
            "provider": m.get("provider"), "cluster": m.get("cluster"),
            "started_at": m.get("started_at"), "finished_at": m.get("finished_at"),
            "films": films, "counts": {k: counts.get(k, 0) for k in
                                       ("done", "running", "waiting", "failed", "stopped")},
            "spent": round(spent, 6), "estimate": m.get("estimate"), "budget": m.get("budget"),
            "currency": m.get("currency", "CNY"), "in_flight": in_flight,
            "eta_seconds": None if eta is None else round(eta, 1), "limits": m.get("limits")}


def format_batch_status(report: dict[str, Any]) -> str:
    cur = report["currency"]
    c = report["counts"]
    lines = [f"{report['out_dir']}: batch of {len(report['films'])} film(s) "
             f"({report['provider']}" + (f", cluster {report['cluster']}" if report["cluster"] else "")
             + ")"]
    width = max([4] + [len(f["name"]) for f in report["films"]])
    for f in report["films"]:
        line = f"  {f['name']:<{width}}  {f['state']:<8} {f['shots']:>3} shot(s)  spent {f['spent']:.2f}"
        if f["in_flight"]:
            line += f", {f['in_flight']} in flight"
        if f["state"] in ("failed", "stopped") and f["error"]:
            line += f"  {f['error']}"
        lines.append(line)
    lines.append(", ".join(f"{n} {k}" for k, n in c.items() if n or k in ("done", "running", "waiting")))
    est = report["estimate"]
    money = f"spent {report['spent']:.2f} {cur}"
    money += f" of {est:.2f} estimated" if est is not None else " (estimate incomplete: unpriced models)"
    if report["budget"] is not None:
        money += f" (budget {report['budget']:.2f})"
    lines.append(money)
    if report["eta_seconds"] is not None:
        lines.append(f"ETA about {_duration(report['eta_seconds'])}")
    elif report["finished_at"] is not None:
        lines.append("the batch is not running; re-run the same `chainer batch` command to "
                     "resume any film not done" if c["stopped"] or c["failed"] or c["waiting"]
                     else "every film is done")
    return "\n".join(lines)


def status_text(out_dir: str | Path, *, as_json: bool = False) -> str:
    """What ``chainer status OUT_DIR`` prints for a batch directory."""
    report = batch_status(out_dir)
    return json.dumps(report, indent=2) if as_json else format_batch_status(report)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 90:
        return f"{seconds}s"
    if seconds < 5400:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
