"""chainer.batch: many films on one provider account, on this machine or a Dask cluster.

- :func:`run_batch` (``chainer batch``): one plan, one estimate, one confirmation, every
  storyboard into its own resumable run dir, shortest critical path first.
- :mod:`.limiter`: the per-(account, model) concurrency and create-rate limiter a render takes
  a slot of around each task (``chainer.render(..., limiter=)``).
- :mod:`.budget`: one budget for every film (``chainer.render(..., shared_budget=)``).
- :func:`batch_status`: what ``chainer status OUT_DIR`` shows for a batch.
- :mod:`.cluster`: each film as one task on Dask distributed (optional extra ``cluster``).
"""
from __future__ import annotations

_LAZY = {
    "run_batch": ("chainer.batch.run", "run_batch"),
    "BatchResult": ("chainer.batch.run", "BatchResult"),
    "AccountLimiter": ("chainer.batch.limiter", "AccountLimiter"),
    "DaskAccountLimiter": ("chainer.batch.limiter", "DaskAccountLimiter"),
    "Limits": ("chainer.batch.limiter", "Limits"),
    "SharedBudget": ("chainer.batch.budget", "SharedBudget"),
    "LedgerBudget": ("chainer.batch.budget", "LedgerBudget"),
    "batch_status": ("chainer.batch.status", "batch_status"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        mod, attr = _LAZY[name]
        return getattr(importlib.import_module(mod), attr)
    raise AttributeError(name)


__all__ = list(_LAZY)
