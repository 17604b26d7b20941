"""chainer: storyboard -> chained Seedance clips -> one seamless video.

Public API (each imported lazily so ``import chainer`` stays cheap):

- ``chainer.load_storyboard(path)``      -> Storyboard (raises ValidationError)
- ``chainer.plan(storyboard_or_path)``   -> Plan (no network)
- ``chainer.render(path, ...)``          -> RenderResult
- ``chainer.stitch(segments, out, ...)`` -> StitchResult
- ``chainer.batch(inputs, out_dir=..., ...)`` -> BatchResult (many storyboards, one account limiter)
- ``chainer.Timeline.load(run_dir)``      -> the edit as assembled (``timeline.json``)
- ``chainer.open_provider(name, base_url=None, api_key=None, **kw)`` -> Provider (pass it to
  ``render(provider=...)``)
"""
from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "load_storyboard": ("chainer.storyboard", "load_storyboard"),
    "plan": ("chainer.plan", "build_plan"),
    "render": ("chainer.run.orchestrator", "render"),
    "stitch": ("chainer.media.stitch", "stitch"),
    "Segment": ("chainer.media.stitch", "Segment"),
    "batch": ("chainer.batch.run", "run_batch"),
    "Timeline": ("chainer.timeline", "Timeline"),
    "Emulator": ("chainer.emulator", "Emulator"),
    "RenderResult": ("chainer.run.runner", "RenderResult"),
    "open_provider": ("chainer.providers.base", "open_provider"),
    "Provider": ("chainer.providers.base", "Provider"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        mod, attr = _LAZY[name]
        return getattr(importlib.import_module(mod), attr)
    raise AttributeError(name)


__all__ = list(_LAZY)
