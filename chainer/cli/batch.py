"""``chainer batch STORYBOARD... | DIR``: many films, one account limiter, one budget."""
from __future__ import annotations

import click


@click.command("batch")
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--out-dir", "out_dir", type=click.Path(file_okay=False), default="renders",
              show_default=True, help="Each film renders into OUT_DIR/<storyboard name>/.")
@click.option("--provider", type=click.Choice(["auto", "ark", "emulator"]), default="auto",
              show_default=True, help="auto: Ark when ARK_API_KEY is set, else the built-in emulator.")
@click.option("--base-url", default=None, help="Ark base URL (default $ARK_BASE_URL or the "
              "official endpoint); point it at a proxy or a `chainer emulator`.")
@click.option("--budget", type=float, default=None, metavar="TOTAL",
              help="One budget (CNY) for the whole batch: refuse to start above it and stop "
                   "submitting before spent + in flight would pass it.")
@click.option("--concurrency-per-model", type=click.IntRange(1), default=10, show_default=True,
              metavar="N", help="Tasks in flight per model on the account (Ark: 10).")
@click.option("--rpm", type=click.IntRange(1), default=600, show_default=True,
              help="Creates per minute per model on the account (Ark: 600).")
@click.option("--films-at-once", type=click.IntRange(1), default=None, metavar="N",
              help="Films rendering at once on this machine (default 2 x --concurrency-per-model).")
@click.option("--draft", is_flag=True, help="Every film as a cheap preview (fast variants, 480p).")
@click.option("-y", "--yes", is_flag=True, help="Do not ask before spending above the "
              "confirmation threshold.")
@click.option("--cluster", default=None, metavar="tcp://HOST:PORT | local:N",
              help="Run each film as a task on a Dask cluster (pip install 'chainer[cluster]'); "
                   "local:N starts N worker processes here.")
@click.option("--poll-interval", type=float, default=None, hidden=True, metavar="SECONDS",
              help="Poll every SECONDS, fixed (tests and benchmarks).")
def command(inputs, out_dir, provider, base_url, budget, concurrency_per_model, rpm,
            films_at_once, draft, yes, cluster, poll_interval):
    """Render every STORYBOARD (or every storyboard in DIR) into its own run dir under OUT_DIR,
    sharing the account's limits and one budget. Re-running the same command resumes all."""
    import sys

    from ..batch.run import run_batch
    from ..errors import InputError

    if poll_interval is not None and not poll_interval > 0:
        raise InputError(f"--poll-interval: {poll_interval} must be a positive number of seconds")
    confirm = None
    if sys.stdin.isatty():
        confirm = lambda q: click.confirm(q, default=False, err=True)  # noqa: E731
    options = {} if poll_interval is None else {"poll": poll_interval}
    result = run_batch(list(inputs), out_dir=out_dir, provider=provider, base_url=base_url,
                       budget=budget, concurrency_per_model=concurrency_per_model, rpm=rpm,
                       films_at_once=films_at_once, yes=yes, draft=draft, cluster=cluster,
                       confirm=confirm, message=lambda t: click.echo(t, err=True),
                       render_options=options)
    for f in result.films:
        if f.ok:
            click.echo(f"{f.name}: {f.output}")
    if not result.ok:
        failed = [f.name for f in result.films if not f.ok]
        click.echo(f"{len(failed)} film(s) incomplete ({', '.join(failed)}); `chainer status "
                   f"{result.out_dir}` shows them; re-run the same command to resume", err=True)
        raise SystemExit(1)
