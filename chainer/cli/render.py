"""``chainer render STORYBOARD``: render every shot (chained), download, assemble. Resumable."""
from __future__ import annotations

import click

from ..errors import InputError


@click.command("render")
@click.argument("storyboard", type=click.Path(dir_okay=False))
@click.option("-o", "--run-dir", "run_dir", type=click.Path(file_okay=False), default=None,
              help="Run directory (default renders/<storyboard name>/, or renders/<name>-draft/).")
@click.option("--provider", default="auto", show_default=True,
              help="auto | ark | byteplus | fal | replicate | emulator. auto: the storyboard's "
                   "provider:, else the host whose key is set (ARK_API_KEY: ark, FAL_KEY: fal, "
                   "REPLICATE_API_TOKEN: replicate), else the built-in emulator. A host without "
                   "its key renders on the built-in emulator of its wire shape (and says so).")
@click.option("--base-url", default=None, help="Provider base URL, overriding any host's default "
              "(Ark: $ARK_BASE_URL or the cn-beijing endpoint; an emulator: a running "
              "`chainer emulator --api HOST`).")
@click.option("--concurrency", type=int, default=3, show_default=True,
              help="Sequences rendered at once (shots within a sequence are always in order).")
@click.option("--budget", type=float, default=None, metavar="AMOUNT",
              help="Refuse to start above this estimate (in the host's currency: CNY on Ark, "
                   "USD elsewhere) and stop submitting before "
                   "spent + in-flight would pass it.")
@click.option("--draft", is_flag=True, help="Cheap preview: fast model variants at 480p, in "
              "its own run directory.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask before spending above the "
              "confirmation threshold.")
@click.option("--retry-failed", type=int, default=0, show_default=True, metavar="N",
              help="Resubmit a failed shot up to N times.")
@click.option("--resubmit", is_flag=True, help="Submit a shot again when its task is proven "
              "gone from the provider (a 404 re-checked, or a create proven to have made no "
              "task). Without it chainer stops that sequence and says what to check.")
@click.option("--cancel-on-interrupt", is_flag=True, help="On Ctrl-C, cancel (DELETE) tasks "
              "still queued; by default they are left to finish and picked up by the next run.")
@click.option("--progress", "progress_mode", type=click.Choice(["auto", "rich", "plain", "off"]),
              default="auto", show_default=True, help="Live table on a terminal, plain lines otherwise.")
@click.option("--preview", "preview_mode", type=click.Choice(["on", "off"]), default="on",
              show_default=True, help="Keep RUN_DIR/preview.mp4 (the clips landed so far, in "
              "film order) refreshed during the render; it never replaces the film.")
@click.option("--emulator-latency", type=float, default=None, metavar="SECONDS",
              help="In-process emulator: seconds each task stays running.")
@click.option("--emulator-faults", type=click.Path(dir_okay=False), default=None,
              help="In-process emulator: a faults file (JSON/YAML).")
@click.option("--reroll", default=None, metavar="SHOT",
              help="Render a new take of SHOT (new seed; its old takes are kept) and the shots "
                   "chained after it, through the usual estimate and confirmation.")
@click.option("--poll-interval", type=float, default=None, hidden=True, metavar="SECONDS",
              help="Poll every SECONDS, fixed (no backoff, no jitter); failed calls are retried "
                   "after SECONDS growing to 4x. For tests and benchmarks.")
def command(storyboard, run_dir, provider, base_url, concurrency, budget, draft, yes,
            retry_failed, resubmit, cancel_on_interrupt, progress_mode, preview_mode,
            emulator_latency, emulator_faults, poll_interval, reroll=None):
    """Render STORYBOARD into one video: shot by shot, each chained from the previous shot's
    last frame, every task recorded in RUN_DIR/journal.sqlite so a re-run resumes."""
    from ..run.orchestrator import render

    emulator_config = None
    if provider == "mock":
        raise InputError("--provider: mock is for tests (Python API only); use emulator")
    if emulator_latency is not None or emulator_faults is not None:
        if provider not in ("auto", "emulator") or (provider == "emulator" and base_url):
            raise InputError("--emulator-latency/--emulator-faults only apply to the built-in "
                             "emulator (--provider emulator without --base-url, or auto "
                             "without ARK_API_KEY)")
        from ..emulator import EmulatorConfig

        kwargs = {}
        if emulator_latency is not None:
            kwargs["latency"] = emulator_latency
        if emulator_faults is not None:
            kwargs["faults"] = emulator_faults
        emulator_config = EmulatorConfig(**kwargs)
    progress = {"auto": None, "off": False}.get(progress_mode, progress_mode)
    result = render(storyboard, run_dir=run_dir, provider=provider, base_url=base_url,
                    concurrency=concurrency, budget=budget, draft=draft, yes=yes,
                    retry_failed=retry_failed, resubmit=resubmit,
                    cancel_on_interrupt=cancel_on_interrupt, emulator_config=emulator_config,
                    progress=progress, poll=poll_interval, confirm=_terminal_confirm(),
                    preview=preview_mode == "on", reroll=reroll)
    t = result.summary["totals"]
    cur = t.get("currency") or ""
    if t.get("cost_complete"):
        money = f"{t['cost_actual']:.2f} {cur}"
    elif t.get("tokens_actual"):
        money = f"{t['tokens_actual']:,} tokens, price unknown ({cur})"
    else:
        money = "price unknown"
    if result.summary.get("provider") == "emulator" or result.summary.get("billed") is False:
        money += " at list price, not billed: emulator"
    if result.ok:
        click.echo(f"wrote {result.output} ({t['succeeded']} shots, {money}); "
                   f"summary in {result.run_dir / 'summary.json'}")
        return
    click.echo(f"incomplete: {t['succeeded']} of {t['shots']} shots rendered ({money} so far); "
               f"`chainer status {result.run_dir}` shows what a re-run would do", err=True)
    raise SystemExit(1)


def _terminal_confirm():
    """Confirmation is the CLI's job: ask on a terminal; without one, None (the library then
    refuses anything that needs confirming unless --yes)."""
    import sys

    if not sys.stdin.isatty():
        return None
    return lambda question: click.confirm(question, default=False, err=True)
