"""``chainer review RUN_DIR``: (re)write a run's review outputs from summary.json and its media."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import InputError


def load_summary(run_dir: Path) -> dict:
    path = run_dir / "summary.json"
    if not run_dir.is_dir():
        raise InputError(f"{run_dir}: not a directory (give a run directory holding summary.json)")
    if not path.exists():
        raise InputError(f"{path}: not found (is {run_dir} a chainer run directory?)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("shots"), list):
        raise InputError(f"{path}: shots: missing (expected a list of shots)")
    return data


@click.command("review")
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--drift-guard", type=click.Choice(["off", "report", "match"]), default=None,
              help="How colour drift is shown: off, report (measure the clips), match (before and "
                   "after the drift-matched clips). Default: the run's own setting, else report.")
@click.option("--seams-per-page", type=click.IntRange(1, 200), default=12, show_default=True,
              help="Seams per contact-sheet page.")
@click.option("--no-export", is_flag=True, help="Skip the FCPXML/EDL exports (timeline.otio is always written).")
@click.option("--json", "as_json", is_flag=True, help="Print the paths written as JSON.")
def command(run_dir: Path, drift_guard: str | None, seams_per_page: int, no_export: bool,
            as_json: bool) -> None:
    """Write contact-sheet.png, report.html/.json, chapters.txt and timeline.otio into RUN_DIR
    from its summary.json and the downloaded clips. Nothing is submitted or re-rendered."""
    from ..review import write_review
    from ..run.lock import RunLock

    if not run_dir.is_dir():
        load_summary(run_dir)                   # its "not a directory" line; never create the dir
    with RunLock(run_dir, "review"):            # one owner per run dir (not during a render)
        summary = load_summary(run_dir)
        guard = drift_guard or summary.get("drift_guard") or "report"
        written = write_review(run_dir, summary, drift_guard=guard, seams_per_page=seams_per_page,
                               export_formats=not no_export)
    if as_json:
        click.echo(json.dumps({k: str(v) for k, v in written.items()}, indent=2))
        return
    for name, path in written.items():
        click.echo(f"{name:16} {path}")
