"""What a run directory holds and what re-running ``chainer render`` would do (no network)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ChainerError
from . import journal as J

_NEXT = {"reuse": "reuse (nothing to do)", "download": "download the finished result",
         "poll": "poll the task in flight", "resolve": "look for the task of an interrupted create",
         "submit": "submit", "resubmit": "submit again", "wait": "render after the previous shot",
         "blocked": "nothing (blocked)",
         "elsewhere": "nothing here: the task lives at another provider"}


def run_status(run_dir: str | Path) -> dict[str, Any]:
    run_dir = Path(run_dir)
    journal = J.open_run_journal(run_dir, create=False)
    try:
        return _status(run_dir, journal)
    finally:
        journal.close()


def _status(run_dir: Path, journal: J.Journal) -> dict[str, Any]:
    meta = journal.meta()
    notes: list[str] = []
    attempts = journal.attempts()
    spent = sum(a.cost or 0.0 for a in attempts)
    in_flight = sum(1 for a in attempts if a.in_flight)
    report: dict[str, Any] = {"run_dir": str(run_dir), "provider": meta.get("provider"),
                              "base_url": meta.get("base_url"), "storyboard": meta.get("storyboard"),
                              "draft": meta.get("draft", False), "currency": "CNY", "shots": [],
                              "notes": notes}
    plan = None
    sb_path = meta.get("storyboard")
    if sb_path and Path(sb_path).exists():
        from ..plan import build_plan
        from ..providers.choose import plan_host

        try:   # planned for the host the run rendered on (its ids, prices and currency)
            plan = build_plan(sb_path, draft=bool(meta.get("draft")),
                              host=plan_host(str(meta.get("provider") or "ark")))
        except ChainerError as exc:
            notes.append(f"the storyboard no longer validates: {str(exc).splitlines()[0]}")
    elif sb_path:
        notes.append(f"storyboard {sb_path} not found: showing the journal only")
    to_submit, to_submit_cost = 0, 0.0
    if plan is not None:
        from .assess import PAID_ACTIONS, assess

        report["currency"] = plan.currency
        where = meta.get("provider_identity")
        states = assess(plan, journal, run_dir, meta.get("identity") or "emulator",
                        identity=where, ephemeral=bool(where and where.endswith("@in-process")))
        for shot, st in zip(plan.shots, states):
            latest = st.attempt or (journal.attempts(shot.id) or [None])[-1]
            cost = sum(a.cost or 0.0 for a in journal.attempts(shot.id))
            state = latest.state if latest else "not started"
            if latest is not None and st.attempt is None:
                state += " (inputs changed since)"
            next_ = _NEXT.get(st.action, st.action)
            if st.reason and st.action not in ("reuse",):
                next_ += f" — {st.reason}"
            if st.action in PAID_ACTIONS:
                to_submit += 1
                to_submit_cost += shot.est_cost or 0.0
            report["shots"].append({
                "id": shot.id, "sequence": shot.sequence + 1, "state": state,   # 1-based, as in `plan`
                "task_id": latest.task_id if latest else None,
                "attempts": len(journal.attempts(shot.id)), "cost": cost if cost else None,
                "where": latest.provider_identity if latest else None,
                "est_cost": shot.est_cost, "action": st.action, "next": next_,
                "error": (f"{latest.error_code}: {latest.error_message}"
                          if latest and latest.error_code and latest.state != J.SUCCEEDED else None)})
    else:
        seen: dict[str, J.Attempt] = {}
        for a in attempts:
            seen[a.shot_id] = a
        for sid, a in seen.items():
            report["shots"].append({"id": sid, "sequence": "?", "state": a.state,
                                    "task_id": a.task_id,
                                    "attempts": sum(1 for x in attempts if x.shot_id == sid),
                                    "cost": sum(x.cost or 0.0 for x in attempts if x.shot_id == sid) or None,
                                    "est_cost": a.est_cost, "action": "unknown",
                                    "next": "unknown (storyboard unavailable)", "error": a.error_message})
    report["totals"] = {"spent": spent, "tasks": sum(1 for a in attempts if a.task_id),
                        "in_flight": in_flight, "to_submit": to_submit,
                        "to_submit_cost": to_submit_cost}
    return report
