"""``run_batch``: many storyboards, one account, one budget, one confirmation.

1. Every storyboard is planned (bad input anywhere: one line, exit 2, nothing submitted).
2. One estimate for what is left to submit across all films; ``--budget`` and one confirmation.
3. Films run shortest-critical-path-first, each with :func:`chainer.render` into its own run dir
   (a normal, resumable run: re-running the batch resumes every film), all sharing one
   :class:`~chainer.batch.limiter.AccountLimiter` (per account and model: tasks in flight and
   creates a minute) and one budget. One film's failure is recorded and the others go on.

Locally the films run on threads of this process (``films_at_once`` at a time); with
``cluster=`` each film is one task on a Dask cluster (:mod:`chainer.batch.cluster`).
"""
from __future__ import annotations

import os
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import ChainerError, InputError
from .budget import SharedBudget
from .films import Film, collect_storyboards, plan_films, shortest_first
from .limiter import AccountLimiter, Limits
from .manifest import Manifest

CONFIRM_ABOVE = 10.0          # CNY: as `chainer render` (chainer.run.orchestrator.CONFIRM_ABOVE)
DEFAULT_CONCURRENCY = 10      # Ark: 10 running tasks per model (hosts-2026.md)
DEFAULT_RPM = 600             # Ark: 600 creates a minute per model


@dataclass
class FilmOutcome:
    name: str
    run_dir: Path
    ok: bool
    output: Path | None = None
    error: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"name": self.name, "run_dir": str(self.run_dir), "ok": self.ok,
                "output": None if self.output is None else str(self.output), "error": self.error,
                "seconds": round(self.seconds, 3)}


@dataclass
class BatchResult:
    out_dir: Path
    films: list[FilmOutcome] = field(default_factory=list)
    estimate: float | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.films)


def _provider_name(provider: str, api_key: str | None) -> str:
    if provider == "auto":
        return "ark" if (api_key or os.environ.get("ARK_API_KEY")) else "emulator"
    return provider


def run_batch(inputs: list[str | Path], *, out_dir: str | Path | None = None,
              provider: str = "auto", base_url: str | None = None, api_key: str | None = None,
              budget: float | None = None, concurrency_per_model: int = DEFAULT_CONCURRENCY,
              rpm: int | None = DEFAULT_RPM, films_at_once: int | None = None, yes: bool = False,
              draft: bool = False, cluster: str | None = None,
              confirm: Callable[[str], bool] | None = None,
              message: Callable[[str], None] | None = None,
              render_options: dict[str, Any] | None = None,
              on_cluster: Callable[[Any], None] | None = None) -> BatchResult:
    """Render every storyboard of ``inputs`` (files, or one directory) into ``out_dir/<name>``.

    ``render_options`` go to each :func:`chainer.render` (e.g. ``poll``, ``concurrency``,
    ``emulator_config``, ``stitch_options``). Raises :class:`InputError` before anything is
    submitted for bad input, a refused budget or an unconfirmed estimate. ``on_cluster(client)``
    is called once a ``cluster`` is up (tests and tools: e.g. to see the workers)."""
    say = message or (lambda text: None)
    if concurrency_per_model < 1:
        raise InputError(f"--concurrency-per-model: {concurrency_per_model} must be at least 1")
    if rpm is not None and rpm < 1:
        raise InputError(f"--rpm: {rpm} must be at least 1")
    if budget is not None and not budget >= 0:
        raise InputError(f"--budget: {budget} must be a non-negative amount")
    if films_at_once is not None and films_at_once < 1:
        raise InputError(f"--films-at-once: {films_at_once} must be at least 1")
    out = Path(out_dir) if out_dir else Path("renders")
    films = shortest_first(plan_films(collect_storyboards(inputs), out, draft=draft))
    prov = _provider_name(provider, api_key)
    estimate = _preflight(films, budget, prov, yes, confirm, say)
    out.mkdir(parents=True, exist_ok=True)
    limits = Limits(concurrency_per_model, rpm)
    at_once = films_at_once or max(2, 2 * concurrency_per_model)
    invocation = time.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
    manifest = Manifest.start(out, films, invocation=invocation, provider=prov, estimate=estimate,
                              budget=budget, currency=films[0].currency,
                              limits={"concurrency_per_model": concurrency_per_model, "rpm": rpm},
                              films_at_once=at_once, cluster=cluster)
    options = {"provider": provider, "base_url": base_url, "draft": draft, "yes": True,
               "progress": False, **(render_options or {})}
    t0 = time.monotonic()
    if cluster:
        from .cluster import run_on_cluster

        outcomes = run_on_cluster(cluster, films, manifest, limits=limits, budget=budget,
                                  invocation=invocation, options=options, say=say,
                                  on_client=on_cluster)
    else:
        limiter = AccountLimiter(limits)
        shared = SharedBudget(budget, films[0].currency)
        outcomes = _run_local(films, manifest, at_once, say, lambda film: render_film(
            film, {**options, "api_key": api_key}, limiter, shared))
    manifest.finish()
    result = BatchResult(out, outcomes, estimate, time.monotonic() - t0)
    done = sum(1 for f in outcomes if f.ok)
    say(f"batch: {done} of {len(outcomes)} film(s) complete in {result.seconds:.1f}s")
    return result


def _preflight(films: list[Film], budget: float | None, provider: str, yes: bool,
               confirm: Callable[[str], bool] | None, say) -> float | None:
    todo = sum(f.to_submit for f in films)
    unpriced = [f.name for f in films if f.est_cost is None and f.to_submit]
    cost = sum(f.est_cost or 0.0 for f in films)
    cur = films[0].currency
    shots = sum(f.shots for f in films)
    free = " (emulator: nothing is billed)" if provider == "emulator" else ""
    say(f"batch estimate: {len(films)} film(s), {shots} shot(s), {todo} task(s) to submit, "
        f"{cost:.2f} {cur}" + (f" + unknown price for {', '.join(unpriced)}" if unpriced else "")
        + free)
    if budget is not None and todo:
        if unpriced:
            raise InputError(f"--budget cannot be enforced: no price is known for the models of "
                             f"{', '.join(unpriced)}; nothing submitted")
        if cost > budget + 1e-9:
            raise InputError(f"estimated {cost:.2f} {cur} for {todo} task(s) exceeds --budget "
                             f"{budget:.2f} {cur}; nothing submitted")
    if provider != "ark" or yes or not todo or (not unpriced and cost <= CONFIRM_ABOVE):
        return None if unpriced else cost
    question = (f"Submit {todo} paid task(s) for {len(films)} film(s) for about {cost:.2f} {cur}"
                + (" plus unpriced models" if unpriced else "") + "?")
    if confirm is None:
        raise InputError(f"estimated {cost:.2f} {cur} is above the confirmation threshold "
                         f"({CONFIRM_ABOVE:.2f} {cur}) and there is no terminal to ask: pass --yes")
    if not confirm(question):
        raise InputError("not confirmed; nothing submitted")
    return None if unpriced else cost


def render_film(film: Film, options: dict, limiter, budget) -> FilmOutcome:
    """Render one film; never raises for the film's own failure (it becomes the outcome)."""
    from ..run.orchestrator import render

    t0 = time.monotonic()
    try:
        # no live preview in a batch: its CPU belongs to the films' assembly
        res = render(film.storyboard, run_dir=film.run_dir, limiter=limiter,
                     shared_budget=budget, **{"preview": False, **options})
    except ChainerError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return FilmOutcome(film.name, film.run_dir, False, error=first,
                           seconds=time.monotonic() - t0)
    except Exception as exc:  # noqa: BLE001 - one film's bug must not stop the others
        return FilmOutcome(film.name, film.run_dir, False,
                           error=f"internal error: {type(exc).__name__}: {exc}",
                           seconds=time.monotonic() - t0)
    error = None if res.ok else ("; ".join(res.problems[:2]) or "incomplete")
    return FilmOutcome(film.name, film.run_dir, res.ok, res.output, error,
                       time.monotonic() - t0)


def _run_local(films: list[Film], manifest: Manifest, at_once: int, say,
               one: Callable[[Film], FilmOutcome]) -> list[FilmOutcome]:
    outcomes: dict[str, FilmOutcome] = {}
    lock = threading.Lock()

    def job(film: Film) -> None:
        manifest.film(film.name, state="running", started_at=time.time())
        outcome = one(film)
        record(manifest, outcome, say)
        with lock:
            outcomes[film.name] = outcome

    # submitted in order (shortest first); the pool starts them in that order
    with ThreadPoolExecutor(max_workers=at_once, thread_name_prefix="film") as pool:
        try:
            for f in [pool.submit(job, film) for film in films]:
                f.result()
        except KeyboardInterrupt:
            # films not started are not started; those rendering finish (a re-run resumes all)
            say("interrupted: starting no more films; waiting for the films already rendering")
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return [outcomes[f.name] for f in films]


def record(manifest: Manifest, outcome: FilmOutcome, say) -> None:
    manifest.film(outcome.name, state="done" if outcome.ok else "failed",
                  finished_at=time.time(), error=outcome.error,
                  output=None if outcome.output is None else str(outcome.output))
    say(f"{outcome.name}: " + (f"wrote {outcome.output}" if outcome.ok
                               else f"failed: {outcome.error}"))
