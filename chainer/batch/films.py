"""The films of a batch: which storyboards, their plans, run dirs, what is left to pay, the order.

Every storyboard is planned (validated) before anything is submitted, so bad input anywhere in the
batch stops it with one line and nothing billed. A film's run dir is ``OUT_DIR/<storyboard
stem>``; a film already rendered there (a re-run of the batch) is assessed from its journal, as
``chainer status`` does, so the estimate counts only what is left to submit.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

STORYBOARD_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass
class Film:
    name: str                 # the run dir's name (the storyboard's stem), unique in the batch
    storyboard: Path
    run_dir: Path
    shots: int
    critical_seconds: float   # the plan's longest sequence, in estimated generation seconds
    est_cost: float | None    # what is left to submit (None: an unpriced model)
    to_submit: int            # tasks left to submit
    currency: str = "CNY"

    def to_dict(self) -> dict:
        return {"name": self.name, "storyboard": str(self.storyboard), "run_dir": str(self.run_dir),
                "shots": self.shots, "critical_seconds": round(self.critical_seconds, 1),
                "est_cost": None if self.est_cost is None else round(self.est_cost, 6),
                "to_submit": self.to_submit}


def collect_storyboards(inputs: list[str | Path]) -> list[Path]:
    """STORYBOARD... or one DIR (its *.yaml, *.yml, *.json, sorted). Raises InputError."""
    if not inputs:
        raise InputError("batch: give storyboard files or one directory holding them")
    paths: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = sorted(p for p in item.iterdir()
                           if p.is_file() and p.suffix.lower() in STORYBOARD_SUFFIXES)
            if not found:
                raise InputError(f"{item}: no storyboard (*.yaml, *.yml, *.json) in this directory")
            paths.extend(found)
        elif item.is_file():
            paths.append(item)
        else:
            raise InputError(f"{item}: no such storyboard file or directory")
    seen: dict[str, Path] = {}
    for p in paths:
        other = seen.get(p.stem)
        if other is not None and other.resolve() != p.resolve():
            raise InputError(f"{p}: same name as {other}; each film renders into OUT_DIR/<name>, "
                             "so storyboard names must be unique in a batch")
        seen[p.stem] = p
    return list(seen.values())


def plan_films(paths: list[Path], out_dir: Path, *, draft: bool = False) -> list[Film]:
    """Plan every storyboard (raises the first one's validation error, naming the file)."""
    from ..plan import build_plan

    films = []
    for path in paths:
        plan = build_plan(path, draft=draft)
        run_dir = out_dir / path.stem
        left, cost = _left_to_submit(plan, run_dir)
        films.append(Film(path.stem, path, run_dir, len(plan.shots),
                          plan.critical_path.est_wall_seconds, cost, left, plan.currency))
    return films


def _left_to_submit(plan, run_dir: Path) -> tuple[int, float | None]:
    shots = plan.shots
    if (run_dir / "journal.sqlite").exists():
        from ..run.status import run_status

        report = run_status(run_dir)
        todo = {s["id"] for s in report["shots"] if s["action"] in ("submit", "resubmit", "wait")}
        shots = [s for s in plan.shots if s.id in todo]
    if any(s.est_cost is None for s in shots):
        return len(shots), None
    return len(shots), sum(s.est_cost for s in shots)


def shortest_first(films: list[Film]) -> list[Film]:
    """Shortest critical path first (finished films arrive early), then fewest shots, then name."""
    return sorted(films, key=lambda f: (f.critical_seconds, f.shots, f.name))
