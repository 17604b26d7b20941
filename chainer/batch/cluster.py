"""The batch on a Dask distributed cluster: each film is one Dask task.

``cluster`` is ``tcp://HOST:PORT`` (an existing scheduler) or ``local:N`` (a ``LocalCluster`` of
N single-threaded worker processes, started and stopped here). Dask is imported only here, only
for ``--cluster`` (``pip install 'chainer[cluster]'``).

Why this is safe with an at-least-once engine: a film's render is idempotent through its journal
(every paid create is journalled before it is sent and resolved by its marker after a crash) and
its run dir has one owner at a time (the run lock), so when a worker dies mid-film, Dask runs the
film again on another worker and that render resumes from the journal, paying for nothing twice.
Run dirs must live on storage every worker sees (here: a path).

Limits across processes: a :class:`~chainer.batch.limiter.DaskAccountLimiter` (lease-based
``distributed.Semaphore``; the leases of a dead worker expire after
``distributed.scheduler.locks.lease-timeout``). Budget: a
:class:`~chainer.batch.budget.LedgerBudget` in OUT_DIR (shared storage).

The API key is not shipped with the tasks: workers read ``ARK_API_KEY`` from their environment.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import InputError
from .budget import LedgerBudget
from .limiter import DaskAccountLimiter, Limits
from .manifest import Manifest
from .run import FilmOutcome, record, render_film

LEASE_TIMEOUT = "10s"        # a dead worker's account slots come back this long after it died
LEASE_CHECK = "2s"
FILM_RETRIES = 3             # a film whose worker died is run again (the render resumes)


def parse_cluster(spec: str) -> tuple[str, int | str]:
    m = re.fullmatch(r"local:(\d{1,3})", spec)
    if m and int(m.group(1)) >= 1:
        return "local", int(m.group(1))
    if re.fullmatch(r"tcp://[A-Za-z0-9.\-\[\]:]+:\d{1,5}", spec):
        return "address", spec
    raise InputError(f"--cluster: {spec!r} is not tcp://HOST:PORT or local:N (N >= 1)")


def _import_distributed():
    try:
        import dask
        import distributed
    except ImportError:
        raise InputError("--cluster needs Dask distributed: pip install 'chainer[cluster]'") from None
    return dask, distributed


def open_cluster(spec: str):
    """``(client, cluster_or_None)`` for ``spec``; the caller closes both."""
    kind, value = parse_cluster(spec)
    dask, distributed = _import_distributed()
    dask.config.set({"distributed.scheduler.locks.lease-timeout": LEASE_TIMEOUT,
                     "distributed.scheduler.locks.lease-validation-interval": LEASE_CHECK,
                     "distributed.scheduler.allowed-failures": FILM_RETRIES})
    if kind == "local":
        cluster = distributed.LocalCluster(n_workers=value, threads_per_worker=1, processes=True,
                                           dashboard_address="127.0.0.1:0", host="127.0.0.1")
        return distributed.Client(cluster), cluster
    return distributed.Client(value), None


def _film_task(film, options, limiter, budget) -> dict:
    from distributed import get_client

    limiter.bind(get_client())
    return render_film(film, options, limiter, budget).to_dict()


def run_on_cluster(spec: str, films, manifest: Manifest, *, limits: Limits, budget: float | None,
                   invocation: str, options: dict, say, on_client=None) -> list[FilmOutcome]:
    """Run every film as one Dask task; returns their outcomes in ``films`` order.
    ``on_client(client)`` is called once the cluster is up (tests use it to find worker pids)."""
    client, cluster = open_cluster(spec)
    try:
        from distributed import as_completed

        limiter = DaskAccountLimiter(limits, prefix=f"chainer-{invocation}")
        ledger = LedgerBudget(manifest.path.parent / "budget.sqlite", budget, invocation,
                              films[0].currency)
        if on_client is not None:
            on_client(client)
        futures = {}
        for rank, film in enumerate(films):        # shortest first: higher priority first
            fut = client.submit(_film_task, film, options, limiter, ledger, pure=False,
                                key=f"film-{invocation}-{film.name}", priority=len(films) - rank,
                                retries=FILM_RETRIES)
            futures[fut] = film
        outcomes: dict[str, FilmOutcome] = {}
        for fut in as_completed(futures):
            film = futures[fut]
            try:
                d = fut.result()
                outcome = FilmOutcome(d["name"], Path(d["run_dir"]), d["ok"],
                                      Path(d["output"]) if d["output"] else None, d["error"],
                                      d["seconds"])
            except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker after FILM_RETRIES deaths
                outcome = FilmOutcome(film.name, film.run_dir, False,
                                      error=f"{type(exc).__name__}: {exc}; re-run the batch to "
                                            "resume this film")
            record(manifest, outcome, say)
            outcomes[film.name] = outcome
        return [outcomes[f.name] for f in films]
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
