"""``chainer pick RUN_DIR SHOT TAKE``: swap a take in; the shots chained after it render again."""
from __future__ import annotations

import click


@click.command("pick")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("shot")
@click.argument("take")
@click.option("--storyboard", default=None, type=click.Path(dir_okay=False),
              help="The storyboard (default: the one RUN_DIR was rendered from).")
@click.option("--provider", default="auto", show_default=True,
              help="Provider to render the downstream shots with (as for render).")
@click.option("--base-url", default=None, help="Provider base URL.")
@click.option("--budget", type=float, default=None, metavar="AMOUNT",
              help="Stop before spending more than AMOUNT on this re-render.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask before spending above the threshold.")
@click.option("--progress", "progress_mode", type=click.Choice(["auto", "rich", "plain", "off"]),
              default="auto", show_default=True)
@click.option("--poll-interval", type=float, default=None, hidden=True, metavar="SECONDS")
def command(run_dir, shot, take, storyboard, provider, base_url, budget, yes, progress_mode,
            poll_interval):
    """Make TAKE (e.g. s2.take3, or 3) the current take of SHOT in RUN_DIR; the shots chained
    after it are rendered again from it (estimate, confirmation, budget), then the film."""
    from ..run.orchestrator import pick_take
    from .render import _terminal_confirm

    progress = {"auto": None, "off": False}.get(progress_mode, progress_mode)
    result = pick_take(run_dir, shot, take, storyboard=storyboard, provider=provider,
                       base_url=base_url, budget=budget, yes=yes, progress=progress,
                       poll=poll_interval, confirm=_terminal_confirm())
    if result.ok:
        click.echo(f"wrote {result.output} with {shot} = take {take}; summary in "
                   f"{result.run_dir / 'summary.json'}")
        return
    click.echo(f"incomplete: `chainer status {result.run_dir}` shows what a re-run would do",
               err=True)
    raise SystemExit(1)
