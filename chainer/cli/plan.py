"""``chainer plan FILE``: every shot's sequence, mode, size, tokens and cost. No network."""
from __future__ import annotations

import json

import click

from ..errors import InputError
from ..plan import Plan, build_plan

MODES = {"t2v": "text", "first_frame": "first frame", "first_last": "first+last",
         "references": "references"}


def _mode(s) -> str:
    return "extend" if getattr(s, "chain", "last_frame") == "extend" and s.chained_from else MODES[s.mode]


def parse_prices(values: tuple[str, ...]) -> dict[str, float]:
    out: dict[str, float] = {}
    for value in values:
        model, sep, price = value.partition("=")
        try:
            number = float(price)
        except ValueError:
            number = -1.0
        if not sep or not model.strip() or number < 0:
            raise InputError(f"--price {value!r}: expected MODEL=CNY_PER_MILLION_TOKENS, "
                             "e.g. --price doubao-seedance-2-0-260128=46")
        out[model.strip()] = number
    return out


def _money(value: float | None) -> str:
    return "unknown" if value is None else f"{value:,.2f}"


def render_plan(plan: Plan, console) -> None:
    from rich import box
    from rich.table import Table

    sb = plan.storyboard
    n, m = len(plan.shots), len(plan.sequences)
    title = f"{sb.title} — {n} shot{'s' * (n != 1)}, {m} sequence{'s' * (m != 1)}"
    if plan.draft:
        title += " (draft: fast models, 480p)"
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    for col, just in (("#", "right"), ("shot", "left"), ("seq", "right"), ("chains from", "left"),
                      ("mode", "left"), ("model", "left"), ("size", "right"), ("dur", "right"),
                      ("frames", "right"), ("est tokens", "right"), (f"est {plan.currency}", "right")):
        table.add_column(col, justify=just, no_wrap=col != "shot")
    for s in plan.shots:
        dur = f"≤{s.seconds:g}s" if s.duration_auto else f"{s.seconds:g}s"
        model = s.model.name
        table.add_row(str(s.index + 1), s.id, str(s.sequence + 1), s.chained_from or "—",
                      _mode(s), model,
                      f"{s.width}×{s.height}", dur, str(s.frames), f"{s.est_tokens:,}",
                      _money(s.est_cost))
    console.print(table)
    cp = plan.critical_path
    rates = sorted({(s.model.name, s.price_per_mtok) for s in plan.shots}, key=str)
    console.print(f"Host: {plan.host}; prices in {plan.currency} per million tokens: " + "; ".join(
        f"{name} {'price unknown' if per is None else f'{per:g}'}" for name, per in rates),
        highlight=False)
    console.print(f"Total: {plan.paid_tasks} paid tasks, {plan.seconds:g} s of video, "
                  f"{plan.total_tokens:,} est tokens, est cost {plan.cost_text()}", highlight=False)
    console.print(f"Critical path: sequence {cp.index + 1} ({len(cp.shots)} shots, "
                  f"{cp.seconds:g} s of video, ~{cp.est_wall_seconds / 60:.1f} min of generation; "
                  "sequences run in parallel)")
    for note in plan.notes:
        console.print(f"note: {note}", highlight=False)


@click.command("plan")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.option("--draft", is_flag=True, help="Plan a cheap preview: fast model variants, 480p.")
@click.option("--price", "prices", multiple=True, metavar="MODEL=PRICE",
              help="Price per million tokens for a model, in the host's currency (repeatable).")
@click.option("--provider", "host", default="auto", show_default=True,
              type=click.Choice(["auto", "ark", "volcengine", "byteplus", "fal", "replicate",
                                 "emulator"]),
              help="Host whose ids, offer, prices and currency to plan with (emulator = Ark's); "
                   "auto: the storyboard's provider:, else the host whose key is set, else Ark.")
@click.option("--compare-chain", is_flag=True,
              help="Also show the total cost with every chained shot as chain: last_frame and as "
                   "chain: extend (the previous clip sent as a reference video, billed as input).")
def command(file: str, as_json: bool, draft: bool, prices: tuple[str, ...], host: str,
            compare_chain: bool) -> None:
    """Show what rendering FILE would request and cost: sequences, modes, sizes, tokens."""
    import os

    from ..plan import compare_chain as compare
    from ..providers.choose import choose_provider, plan_host
    from ..storyboard import load_storyboard

    if host == "auto":       # what `chainer render` would pick
        host = plan_host(choose_provider("auto", load_storyboard(file).provider, os.environ))
    plan = build_plan(file, draft=draft, pricing=parse_prices(prices), host=host)
    both = compare(plan.storyboard, draft=draft, pricing=parse_prices(prices), host=host) \
        if compare_chain else None
    if as_json:
        data = plan.to_dict()
        if both is not None:
            data["compare_chain"] = {mode: p.to_dict()["totals"] for mode, p in both.items()}
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    from rich.console import Console

    console = Console(width=max(130, Console().width))
    render_plan(plan, console)
    if both is not None:
        for mode, p in both.items():
            n = sum(1 for s in p.shots if s.chained_from and s.chain == mode)
            how = "extended" if mode == "extend" else "by last frame"
            console.print(f"chain: {mode:<10} {n} chained shot{'s' * (n != 1)} {how}, "
                          f"{p.total_tokens:,} est tokens, est cost {p.cost_text()}",
                          highlight=False)
