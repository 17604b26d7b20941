"""``chainer status RUN_DIR``: each shot's state, cost so far and what a re-run would do."""
from __future__ import annotations

import json

import click


@click.command("status")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def command(run_dir, as_json):
    """Show RUN_DIR's shots: state, task, cost so far, and what `chainer render` would do next.
    For a `chainer batch` OUT_DIR: its films (done, running, waiting), spent vs estimate, ETA."""
    from ..batch.status import is_batch_dir, status_text

    if is_batch_dir(run_dir):
        click.echo(status_text(run_dir, as_json=as_json))
        return
    from ..run.status import run_status

    report = run_status(run_dir)
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console()
    head = f"{report['run_dir']} — {report['provider']}"
    if report.get("storyboard"):
        head += f", storyboard {report['storyboard']}"
    table = Table(title=head, box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("shot", "seq", "state", "task", "attempts", "cost", "a re-run would"):
        table.add_column(col, overflow="fold", no_wrap=col in ("shot", "task"))
    cur = report["currency"]
    for s in report["shots"]:
        cost = "" if s["cost"] is None else f"{s['cost']:.2f}"
        table.add_row(s["id"], str(s["sequence"]), s["state"], s["task_id"] or "",
                      str(s["attempts"]), cost, s["next"])
    console.print(table)
    t = report["totals"]
    console.print(f"spent so far: {t['spent']:.2f} {cur} over {t['tasks']} task(s)"
                  + (f"; {t['in_flight']} in flight" if t["in_flight"] else "")
                  + (f"; a re-run would submit {t['to_submit']} task(s), about "
                     f"{t['to_submit_cost']:.2f} {cur}" if t["to_submit"] else "; nothing to submit"),
                  highlight=False)
    for note in report.get("notes", []):
        console.print(note, highlight=False, markup=False)
