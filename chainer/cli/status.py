"""``chainer status RUN_DIR``: each shot's state, cost so far and what a re-run would do.

The text fits the terminal (80 columns by default) without splitting a word: a table when its
fixed columns leave room for "a re-run would", else one block per shot. Sequences are numbered
from 1 (as in ``chainer plan``)."""
from __future__ import annotations

import json
import shutil
import textwrap

import click

_HEAD = ("shot", "seq", "state", "task", "tries", "cost", "a re-run would")
_GAP = "  "
_MIN_NEXT = 16


def _wrap(text: str, width: int, indent: str = "") -> list[str]:
    """Word-wrapped lines (a word longer than the line stays whole: it is never split); control
    characters (a provider's error text may hold some) are dropped."""
    text = "".join(ch for ch in " ".join(str(text).split()) if ch.isprintable())
    return textwrap.wrap(text, width=max(1, width), initial_indent=indent,
                         subsequent_indent=indent, break_long_words=False,
                         break_on_hyphens=False) or [indent.rstrip()]


def _longest_word(texts) -> int:
    return max((len(w) for t in texts for w in str(t).split()), default=0)


def status_lines(report: dict, width: int = 80) -> list[str]:
    """The report of :func:`chainer.run.status.run_status` as lines of at most ``width``
    characters (unless one word is longer), no word split across lines."""
    width = max(40, width)
    cur = report["currency"]
    out = _wrap(f"{report['run_dir']} — {report['provider']}", width)
    if report.get("storyboard"):
        out += _wrap(f"storyboard {report['storyboard']}", width)
    out.append("")
    rows = [tuple(" ".join(_wrap(c, 10**6)) for c in (
        s["id"], s["sequence"], s["state"], s["task_id"] or "–", s["attempts"],
        "" if s["cost"] is None else f"{s['cost']:.2f}", s["next"])) for s in report["shots"]]
    fixed = [max([len(_HEAD[k])] + [len(r[k]) for r in rows]) for k in range(6)]
    # the state wraps at words when long ("succeeded (inputs changed since)")
    fixed[2] = max(_longest_word(r[2] for r in rows), min(fixed[2], 12))
    room = width - sum(fixed) - len(_GAP) * 6
    if room >= max(_MIN_NEXT, _longest_word(r[6] for r in rows)):
        widths = fixed + [room]
        right = (False, True, False, False, True, True, False)

        def line(cells: list[str]) -> str:
            parts = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)]
            return _GAP.join(parts).rstrip()

        out.append(line(list(_HEAD)))
        out.append(_GAP.join("─" * w for w in widths)[:width])
        for r in rows:
            cols = [[c] if k not in (2, 6) else _wrap(c, widths[k]) for k, c in enumerate(r)]
            for i in range(max(len(c) for c in cols)):
                out.append(line([c[i] if i < len(c) else "" for c in cols]))
    else:                            # too narrow for a table: one block per shot
        for r in rows:
            sid, seq, state, task, tries, cost, nxt = r
            money = f", {cost} {cur}" if cost else ""
            out += _wrap(f"{sid} · sequence {seq} · {state} · {tries} attempt(s){money}", width)
            out += _wrap(f"task {task}", width, "    ")
            out += _wrap(f"a re-run would: {nxt}", width, "    ")
    t = report["totals"]
    out.append("")
    out += _wrap(f"spent so far: {t['spent']:.2f} {cur} over {t['tasks']} task(s)"
                 + (f"; {t['in_flight']} in flight" if t["in_flight"] else "")
                 + (f"; a re-run would submit {t['to_submit']} task(s), about "
                    f"{t['to_submit_cost']:.2f} {cur}" if t["to_submit"] else "; nothing to submit"),
                 width)
    for note in report.get("notes", []):
        out += _wrap(note, width)
    return out


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
    for ln in status_lines(report, shutil.get_terminal_size((80, 24)).columns):
        click.echo(ln)
