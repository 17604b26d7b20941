"""``summary.json``: rebuilt from the journal (never the other way round); review/ reads it.

Every path in it is relative to the run directory. The edit itself is not here: ``stitch`` holds
the assembly's numbers and ``"timeline": "timeline.json"``, the one timeline (chainer.timeline).

Format: docs/architecture.md ("summary.json"). Extra keys beyond the documented ones are allowed:
per shot ``task_ids`` (every attempt), absolute ``timings.submitted_at`` / ``frame_at`` (last
frame verified: the next shot may be submitted) / ``downloaded_at`` (clip verified), relative
``timings.frame``,
``frame_source``; at the top ``base_url``, ``draft``, ``status``, ``problems``; totals
``spent_all_attempts`` (every billed task this run directory ever caused, superseded ones included).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from . import journal as J


def _rel(t: float | None, t0: float | None) -> float | None:
    if t is None or t0 is None:
        return None
    return round(t - t0, 3)


def shot_entry(shot, att: J.Attempt | None, journal: J.Journal, currency: str) -> dict[str, Any]:
    attempts = journal.attempts(shot.id, att.shot_key) if att else []
    res = att.result if att else {}
    t0 = att.submitted_at if att else None
    downloaded = bool(att and att.state == J.SUCCEEDED and att.clip_sha and att.downloaded_at)
    status = "pending" if att is None else att.state
    return {
        "id": shot.id, "name": shot.name, "index": shot.index, "sequence": shot.sequence,
        "position": shot.position, "chained_from": shot.chained_from, "mode": shot.mode,
        "model": shot.model.id, "prompt": shot.prompt, "params": shot.params(),
        "width": shot.width, "height": shot.height, "frames": shot.frames,
        "task_id": att.task_id if att else None, "status": status,
        "seed": (att.seed if att and att.seed is not None else res.get("seed", shot.seed)),
        "timings": {"submitted": 0.0 if t0 is not None else None,
                    "queued": _rel(att.queued_at, t0) if att else None,
                    "running": _rel(att.running_at, t0) if att else None,
                    "succeeded": _rel(att.finished_at, t0) if att and att.state == J.SUCCEEDED else None,
                    "frame": _rel(att.frame_at, t0) if att else None,
                    "downloaded": _rel(att.downloaded_at, t0) if att else None,
                    "submitted_at": t0, "frame_at": att.frame_at if att else None,
                    "downloaded_at": att.downloaded_at if att else None},
        "tokens": {"estimated": shot.est_tokens, "actual": att.tokens if att else None},
        "cost": {"estimated": None if shot.est_cost is None else round(shot.est_cost, 6),
                 "actual": None if not att or att.cost is None else round(att.cost, 6),
                 "currency": currency},
        "clip": f"clips/{att.shot_id}.mp4" if downloaded else None,
        "last_frame": (f"frames/{att.shot_id}.last.png" if att and att.frame_sha else None),
        "take": att.shot_id if att else None,       # the current take (chainer.run.takes)
        "frame_source": att.frame_source if att else None,
        "attempts": len(attempts),
        "task_ids": [a.task_id for a in attempts if a.task_id],
        "error": ({"code": att.error_code, "message": att.error_message}
                  if att and att.state != J.SUCCEEDED and (att.error_code or att.error_message)
                  else None),
    }


def build_summary(plan, journal: J.Journal, run_dir: Path, current: dict[str, J.Attempt | None],
                  provider: str, *, base_url: str | None = None, stitch: dict | None = None,
                  output: Path | None = None, problems: list[str] | None = None) -> dict[str, Any]:
    sb = plan.storyboard
    shots = [shot_entry(s, current.get(s.id), journal, plan.currency) for s in plan.shots]
    all_attempts = journal.attempts()
    spent_all = sum(a.cost or 0.0 for a in all_attempts)
    complete = output is not None
    return {
        # every path a run dir stores is relative to the run dir (it may be moved or copied)
        "title": sb.title, "provider": provider,
        "storyboard": Path(os.path.relpath(Path(sb.source).resolve(),
                                           Path(run_dir).resolve())).as_posix(),
        "base_url": base_url, "draft": bool(plan.draft),
        "output": (sb.output.file or f"{sb.source.stem}.mp4"),
        "status": "complete" if complete else "incomplete",
        "shots": shots,
        "totals": {
            "tokens_estimated": sum(s["tokens"]["estimated"] or 0 for s in shots),
            "tokens_actual": sum(s["tokens"]["actual"] or 0 for s in shots),
            "cost_estimated": round(sum(s["cost"]["estimated"] or 0.0 for s in shots), 6),
            "cost_actual": round(sum(s["cost"]["actual"] or 0.0 for s in shots), 6),
            "currency": plan.currency,
            "cost_complete": bool(plan.cost_complete),
            "shots": len(shots),
            "succeeded": sum(1 for s in shots if s["clip"]),
            "tasks_submitted": sum(1 for a in all_attempts if a.task_id),
            "spent_all_attempts": round(spent_all, 6),
        },
        "stitch": stitch,
        "takes": _takes(run_dir),
        "problems": list(problems or []),
    }


def _takes(run_dir: Path) -> dict:
    from .takes import summary_takes

    return summary_takes(run_dir)


def write_summary(run_dir: Path, summary: dict[str, Any]) -> Path:
    path = Path(run_dir) / "summary.json"
    tmp = path.with_name(".summary.json.tmp")
    tmp.write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
