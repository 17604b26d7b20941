"""``render``: storyboard -> chained tasks -> verified clips -> one video, durable and resumable.

This module only wires the parts together (each has one job):

- ``providers/`` the host (the emulator included), behind one :class:`~chainer.providers.Provider`;
- :mod:`.journal` the single source of truth of what was paid (opened through rule 4's check);
- :mod:`.lock` one owner per run dir, held for the whole render;
- :mod:`.assess` what a re-run would do; :mod:`.gate` the only door to a paid submission
  (estimate, ``--budget``, confirmation through a callback: the library never prompts);
- :mod:`.runner` sequences and scheduling; :mod:`.shot` the per-shot state machine;
  :mod:`.fetch` downloads; the assembly steps (stitch, drift guard, review) are one call-out.

Per sequence (up to ``concurrency`` at once; shots within one strictly in order): build the
request, pass the gate, journal a create *intent* (with a marker the provider echoes), create
once, poll, and the moment the task succeeds download its last frame (verified) and submit the
next shot from it; clips download on a small pool meanwhile. Every step is committed to the
journal first, so a re-run after a crash resumes exactly where the last one stopped, never paying
twice (issue 10: see :mod:`.shot` for what each provider answer proves).
"""
from __future__ import annotations

import random
import secrets
import time
from pathlib import Path
from typing import Callable

from ..errors import InputError
from ..providers.base import Provider
from ..providers.choose import plan_host
from ..providers.poll import EXPIRES_DEFAULT, EXPIRES_MARGIN, PollPolicy
from .budget import Budget
from .context import Interrupted, RunContext, SequenceStop
from .fetch import DOWNLOAD_WORKERS
from .gate import CONFIRM_ABOVE, Gate, check_budget
from .journal import open_run_journal
from .progress import make_progress
from .assembly import assemble
from .runner import RenderResult, Runner

__all__ = ["render", "RenderResult", "PollPolicy", "EXPIRES_DEFAULT", "EXPIRES_MARGIN",
           "CONFIRM_ABOVE", "DOWNLOAD_WORKERS", "SequenceStop", "Interrupted", "assemble",
           "open_render_provider"]


def _default_run_dir(storyboard_path: Path, draft: bool) -> Path:
    stem = storyboard_path.stem
    return Path("renders") / (f"{stem}-draft" if draft else stem)


def open_render_provider(provider: str, base_url: str | None, api_key: str | None, *,
                         transport=None, emulator_config=None, message=lambda s: None,
                         storyboard_provider: str | None = None, env=None) -> Provider:
    """``auto`` | ``ark`` | ``byteplus`` | ``fal`` | ``replicate`` | ``emulator`` | any registered
    name -> an open provider (:mod:`chainer.providers.choose` says which). A host without its key
    and without ``base_url`` renders on the built-in emulator of its wire shape, and ``message``
    says so (one line); ``base_url`` overrides any default endpoint."""
    import os

    from ..providers import open_provider
    from ..providers.choose import KEY_VARS, choose_provider

    env = os.environ if env is None else env
    name = choose_provider(provider, storyboard_provider, env)
    kw: dict = {"transport": transport} if transport is not None else {}
    var = KEY_VARS.get(name)
    key = api_key or (env.get(var) if var else None) or None
    if name == "ark" and not key and not base_url and not env.get("ARK_BASE_URL"):
        name = "emulator"          # same rule as the other hosts: their built-in emulator
    if name == "emulator":
        prov = open_provider("emulator", base_url=base_url, api_key=None,
                             emulator_config=emulator_config, **kw)
        if prov.emulator is not None and provider != "emulator":
            why = "ARK_API_KEY is not set" if var else \
                "none of ARK_API_KEY, FAL_KEY, REPLICATE_API_TOKEN is set"
            message(f"{why}: rendering on the built-in emulator (Ark wire shape) at "
                    f"{prov.base_url} (procedural clips, nothing is billed)")
        return prov
    if name == "ark":
        return open_provider("ark", base_url=base_url, api_key=key, **kw)
    if var is not None:
        prov = open_provider(name, base_url=base_url, api_key=key,
                             emulator_config=emulator_config, **kw)
        if getattr(prov, "emulator", None) is not None:
            message(f"{var} is not set: rendering on the built-in {name}-shaped emulator at "
                    f"{prov.base_url} (procedural clips, nothing is billed)")
        return prov
    return open_provider(name, base_url=base_url, api_key=api_key, **kw)


def render(storyboard_path, *, run_dir=None, provider: str | Provider = "auto",
           base_url: str | None = None, api_key: str | None = None, concurrency: int = 3,
           budget: float | None = None, draft: bool = False, yes: bool = False,
           retry_failed: int = 0, resubmit: bool = False, cancel_on_interrupt: bool = False,
           emulator_config=None, progress=None, confirm: Callable[[str], bool] | None = None,
           poll: PollPolicy | float | None = None, confirm_above: float = CONFIRM_ABOVE,
           transport=None, rng: random.Random | None = None, stitch_options: dict | None = None,
           verify_clip=None, assembly: bool = True, limiter=None,
           shared_budget=None, preview: bool = True, reroll: str | None = None) -> RenderResult:
    """Render a storyboard into ``run_dir`` (see module docstring). Raises :class:`InputError`
    (nothing submitted) for a bad storyboard, a refused budget or an unconfirmed estimate.

    ``provider``: a registered name (``auto``: Ark when ``ARK_API_KEY`` is set, else the
    in-process emulator) or an open :class:`~chainer.providers.Provider` (not closed here).
    ``confirm(question) -> bool`` is asked before paid submissions above ``confirm_above``
    (``None``: refuse unless ``yes``). ``resubmit``: a task proven gone may be created again.
    ``verify_clip`` replaces the decode check of downloaded clips and ``assembly=False`` stops
    after the clips (both for tests with a :class:`~chainer.providers.mock.MockProvider`; no
    preview then). ``preview``: keep ``RUN_DIR/preview.mp4`` (the clips landed so far, in film
    order) refreshed while the render runs, off the chain's path; it never replaces the film.
    ``limiter`` (:class:`chainer.batch.limiter.Limiter`): each task holds one of its account slots
    from just before its create until it is terminal or its shot stops (a batch shares one).
    ``shared_budget``: used instead of this render's own :class:`~chainer.run.budget.Budget` (one
    budget for every film of a batch). ``reroll``: render a new take of that shot (new seed; the
    old takes are kept) and the shots chained after it (``chainer render --reroll SHOT``)."""
    from ..plan import build_plan

    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InputError(f"--concurrency: {concurrency} must be at least 1")
    if isinstance(retry_failed, bool) or not isinstance(retry_failed, int) or retry_failed < 0:
        raise InputError(f"--retry-failed: {retry_failed} must be 0 or more")
    check_budget(budget)
    if isinstance(poll, (int, float)):
        if not (poll > 0 and poll < float("inf")):
            raise InputError(f"--poll-interval: {poll} must be a positive number of seconds")
        poll = PollPolicy.fast(float(poll))
    storyboard_path = Path(storyboard_path)
    owned = not isinstance(provider, Provider)
    if owned:
        import os

        from ..providers.choose import choose_provider
        from ..storyboard import load_storyboard

        # the host decides the ids, the offer and the prices: validated against it (a model or
        # mode it lacks is an InputError naming it) before anything is opened or paid
        wanted = load_storyboard(storyboard_path).provider
        name = choose_provider(provider, wanted, os.environ)
    else:
        wanted, name = None, provider.name
    plan = build_plan(storyboard_path, draft=draft, host=plan_host(name))
    if reroll is not None and reroll not in {s.id for s in plan.shots}:
        raise InputError(f"--reroll {reroll}: {storyboard_path} has no shot {reroll} (shots: "
                         f"{', '.join(s.id for s in plan.shots)})")
    run_dir = Path(run_dir) if run_dir else _default_run_dir(storyboard_path, draft)
    prog = make_progress(progress)
    from .lock import RunLock

    prov = (open_render_provider(provider, base_url, api_key, transport=transport,
                                 emulator_config=emulator_config, message=prog.message,
                                 storyboard_provider=wanted)
            if owned else provider)
    try:
        with RunLock(run_dir, "render"):
            journal = open_run_journal(run_dir)
            try:
                return _render(plan, run_dir, journal, prov, prog, budget=budget, yes=yes,
                               confirm=confirm, confirm_above=confirm_above, poll=poll, rng=rng,
                               retry_failed=retry_failed, resubmit=resubmit,
                               verify_clip=verify_clip, concurrency=concurrency,
                               cancel_on_interrupt=cancel_on_interrupt,
                               stitch_options=stitch_options, assembly=assembly,
                               limiter=limiter, shared_budget=shared_budget,
                               preview=preview and assembly, reroll=reroll)
            finally:
                journal.close()
    finally:
        if owned:
            prov.close()


def _render(plan, run_dir: Path, journal, prov: Provider, prog, *, budget, yes, confirm,
            confirm_above, poll, rng, retry_failed, resubmit, verify_clip, concurrency,
            cancel_on_interrupt, stitch_options, assembly, limiter=None,
            shared_budget=None, preview=False, reroll: str | None = None) -> RenderResult:
    (run_dir / "clips").mkdir(exist_ok=True)
    (run_dir / "frames").mkdir(exist_ok=True)
    own = shared_budget if shared_budget is not None else Budget(budget, prov.currency)
    gate = Gate(budget=own, billed=prov.billed, yes=yes, confirm=confirm,
                confirm_above=confirm_above, currency=prov.currency, where=prov.base_url,
                message=prog.message, before_prompt=prog.end, estimate=prov.estimate,
                max_extra_per_shot=1 + max(0, retry_failed))
    ctx = RunContext(plan=plan, run_dir=run_dir, journal=journal, provider=prov,
                     poll=poll or prov.poll_policy(), gate=gate, progress=prog,
                     rng=rng or random.Random(),
                     invocation=time.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3),
                     retry_failed=retry_failed, resubmit=resubmit, verify_clip=verify_clip,
                     limiter=limiter)
    if preview:
        from .live_preview import LivePreview

        ctx.preview = LivePreview(run_dir, [s.id for s in plan.shots], message=prog.message)
    if reroll is not None:
        from .takes import next_reroll

        ctx.reroll[reroll] = next_reroll(journal, reroll)
    runner = Runner(ctx, concurrency=concurrency, cancel_on_interrupt=cancel_on_interrupt,
                    stitch_options=stitch_options or {})
    if not assembly:
        runner._assemble = lambda: (None, None)          # clips only
    result = runner.run()
    if not assembly:
        result.ok = not ctx.problems and all(s.get("status") == "succeeded" for s in result.shots)
    return result


def pick_take(run_dir, shot_id: str, take: str, *, storyboard=None, **render_kw) -> RenderResult:
    """``chainer pick RUN_DIR SHOT TAKE``: make ``take`` (a take id such as ``s2.take3``, or its
    number) ``shot_id``'s current take, then render again: the shots chained after it see a new
    input and are rendered through the gate (estimate, confirmation, budget); nothing else is.
    ``storyboard``: default the one the run was rendered from (journal meta)."""
    from ..plan import build_plan
    from .lock import RunLock
    from .takes import pick

    run_dir = Path(run_dir)
    if not (run_dir / "journal.sqlite").exists():
        raise InputError(f"{run_dir}: not a chainer run directory (no journal.sqlite)")
    with RunLock(run_dir, "pick"):
        journal = open_run_journal(run_dir, create=False)
        try:
            storyboard = Path(storyboard or journal.get_meta("storyboard") or "")
            if not storyboard.is_file():
                raise InputError(f"{run_dir}: the storyboard it was rendered from "
                                 f"({storyboard}) is gone; pass it with --storyboard")
            plan = build_plan(storyboard, draft=render_kw.get("draft", False))
            try:
                shot = plan.shot(shot_id)
            except KeyError:
                raise InputError(f"{storyboard}: no shot {shot_id} (shots: "
                                 f"{', '.join(s.id for s in plan.shots)})") from None
            pick(journal, run_dir, shot, take)
        finally:
            journal.close()
    return render(storyboard, run_dir=run_dir, **render_kw)
