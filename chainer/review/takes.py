"""Score takes of a shot by how well they join the previous shot's end, and rank them.

A take is judged at its seam, the way a viewer sees it: the last frames of the previous shot, then
the take's first *new* frame (a take chained by its first frame repeats the previous last frame as
its frame 0, which the stitcher drops; an extension starts with new content). Motion is measured
on small grey frames (:data:`GREY_WIDTH` wide, area-scaled), where per-frame change is a few
levels for real motion and well under one for coding noise.

Components (each 0 when the seam is as good as the inside of a shot; larger is worse):

- ``jump``: the change across the seam against the in-shot change just before it,
  ``|ln((seam + e) / (before + e))|``: a cut or a lurch (much more change) and a freeze (much
  less) both cost.
- ``continuity``: does motion carry on? ``|ln((after + e) / (before + e))|`` over the first
  :data:`HEAD` steps of the take (a stall-and-restart is slow there), plus how much less the
  change across the seam resembles the change just before it (correlation of the difference
  images) than consecutive in-shot changes do (a new direction).
- ``colour``: Lab mean/spread distance (``drift_score``) between the previous last frame and the
  take's first new frame beyond one in-shot step's, in units of :data:`COLOUR_UNIT` (a
  just-noticeable ΔE). The take's own drift (first to last frame) is reported, not scored: the
  drift guard deals with it, and a bookend or a scripted change of look moves it on purpose.
- ``bookend`` (only with ``last_image``): how far the take's last frame is from the requested
  last frame, ``max(0, BOOKEND_PSNR - psnr) / 5``.

``score`` is their sum (lower is better). With no previous shot (the first shot of a sequence)
only ``bookend`` counts.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from PIL import Image

from .colour import LabStats, drift_score, psnr
from .frames import read_clip, read_image

GREY_WIDTH = 64        # motion is measured on frames this wide (64x36 for 16:9)
COARSE_WIDTH = 16      # direction is compared on frames this wide (a step moves well under a pixel)
STATS_WIDTH = 256      # colour is measured on frames this wide
TAIL = 6               # in-shot steps before the seam that set the reference motion
HEAD = 4               # steps after the seam that must carry the motion on
NOISE = 0.5            # grey levels: the coding-noise floor added to every motion figure (e)
COLOUR_UNIT = 2.3      # Lab units per colour point (a just-noticeable difference)
BOOKEND_PSNR = 40.0    # dB: a take's last frame this close to a requested last frame costs nothing
DUPLICATE = 0.25       # frame 0 that changes less than this share of the in-shot motion is a repeat


@dataclass
class TakeScore:
    """One take's seam score: ``score`` (lower is better) and what it is made of."""

    take: str
    clip: str
    score: float
    components: dict[str, float | None]
    measures: dict[str, float | int | bool | None] = field(default_factory=dict)

    def to_dict(self) -> dict:
        r = lambda v: None if v is None else (round(v, 4) if isinstance(v, float) else v)  # noqa: E731
        return {"take": self.take, "clip": self.clip, "score": round(self.score, 4),
                "components": {k: r(v) for k, v in self.components.items()},
                "measures": {k: r(v) for k, v in self.measures.items()}}


def _grey(frame: np.ndarray, width: int = GREY_WIDTH) -> np.ndarray:
    h, w = frame.shape[:2]
    gh = max(1, round(width * h / w))
    return np.asarray(Image.fromarray(frame).convert("L").resize((width, gh), Image.BOX), np.float32)


def _stats(frame: np.ndarray) -> LabStats:
    h, w = frame.shape[:2]
    if w > STATS_WIDTH:
        frame = np.asarray(Image.fromarray(frame).resize((STATS_WIDTH, max(1, round(STATS_WIDTH * h / w))),
                                                         Image.BOX))
    return LabStats.of(frame)


def _change(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(b - a).mean())


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 1e-6 else 0.0


def _log_ratio(x: float, ref: float) -> float:
    return abs(math.log((x + NOISE) / (ref + NOISE)))


def _read(path, indices) -> tuple[dict[int, np.ndarray], int]:
    got = read_clip(path, indices, max_width=STATS_WIDTH)
    if got.count <= 0:
        raise ValueError(f"{path}: no decodable video frames")
    out = {}
    for i in indices:
        f = got.get(i)
        if f is not None:
            out[i if i >= 0 else i + got.count] = f
    return out, got.count


def _same_size(img: np.ndarray, like: np.ndarray) -> np.ndarray:
    h, w = like.shape[:2]
    if img.shape[:2] == (h, w):
        return img
    return np.asarray(Image.fromarray(img).resize((w, h), Image.LANCZOS))


def score_take(take_clip: str | os.PathLike, prev_clip: str | os.PathLike | None = None, *,
               last_image: str | os.PathLike | np.ndarray | None = None, take: str | None = None,
               duplicate_first: bool | None = None) -> TakeScore:
    """Score ``take_clip`` as the continuation of ``prev_clip`` (None: no previous shot).

    ``last_image``: the shot's requested last frame (a bookend), a path or an RGB array.
    ``duplicate_first``: whether the take's frame 0 repeats the previous last frame (chained by
    its first frame); None detects it (change under :data:`DUPLICATE` of the in-shot motion).
    """
    take_clip = Path(take_clip)
    head, n = _read(take_clip, list(range(HEAD + 3)) + [-1])
    comps: dict[str, float | None] = {"jump": 0.0, "continuity": 0.0, "colour": 0.0, "bookend": None}
    meas: dict[str, float | int | bool | None] = {"frames": n}
    first_stats, last_stats = _stats(head[0]), _stats(head[n - 1])
    own_drift = drift_score(last_stats, first_stats)
    meas["own_drift"] = own_drift
    if prev_clip is not None:
        tail, m = _read(prev_clip, list(range(-(TAIL + 1), 0)))
        pg = [_grey(tail[i]) for i in sorted(tail)]
        tg = [_grey(head[i]) for i in sorted(i for i in head if i < HEAD + 3)]
        steps = [_change(a, b) for a, b in zip(pg, pg[1:])]
        before = float(np.median(steps)) if steps else 0.0
        first_change = _change(pg[-1], tg[0])
        dup = duplicate_first if duplicate_first is not None else (
            first_change < max(DUPLICATE * before, 0.5 * NOISE))
        start = 1 if dup and len(tg) > 1 else 0
        seam = _change(pg[-1], tg[start])
        after_steps = [seam] + [_change(a, b) for a, b in zip(tg[start:], tg[start + 1:])][:HEAD - 1]
        after = float(np.mean(after_steps))
        comps["jump"] = _log_ratio(seam, before)
        # direction: the change across the seam vs the one just before it (coarse frames, where
        # steady motion changes alike from step to step), against consecutive in-shot changes
        pc = [_grey(tail[i], COARSE_WIDTH) for i in sorted(tail)]
        tc = _grey(head[start], COARSE_WIDTH)
        in_shot = [_corr(pc[k] - pc[k - 1], pc[k + 1] - pc[k]) for k in range(1, len(pc) - 1)]
        ref_corr = float(np.median(in_shot)) if in_shot else 0.0
        seam_corr = _corr(pc[-1] - pc[-2], tc - pc[-1]) if len(pc) > 1 else 0.0
        comps["continuity"] = _log_ratio(after, before) + max(0.0, ref_corr - seam_corr)
        # colour: the seam's Lab change beyond what one in-shot step changes
        ts = [_stats(tail[i]) for i in sorted(tail)]
        colour_steps = [drift_score(b, a) for a, b in zip(ts, ts[1:])]
        seam_colour = drift_score(_stats(head[start]), ts[-1])
        comps["colour"] = max(0.0, seam_colour - float(np.median(colour_steps or [0.0]))) / COLOUR_UNIT
        meas.update(duplicate_first=bool(dup), motion_before=before, motion_seam=seam, motion_after=after,
                    direction_corr=seam_corr, direction_corr_in_shot=ref_corr, seam_colour=seam_colour)
    if last_image is not None:
        ref = read_image(last_image) if not isinstance(last_image, np.ndarray) else last_image
        full = read_clip(take_clip, [-1], max_width=None).get(-1)
        if full is None:
            raise ValueError(f"{take_clip}: no decodable last frame")
        p = psnr(full, _same_size(ref, full))
        meas["bookend_psnr"] = p
        comps["bookend"] = max(0.0, BOOKEND_PSNR - min(p, 99.0)) / 5.0
    total = sum(v for v in comps.values() if v is not None)
    return TakeScore(take or take_clip.stem, os.fspath(take_clip), float(total), comps, meas)


def held_head(prev_clip: str | os.PathLike, clip: str | os.PathLike, *, max_frames: int = 8) -> int:
    """How many leading frames of ``clip`` repeat ``prev_clip``'s last frame (a duplicated or held
    frame a provider returned at an extension seam, or a chained clip's frame 0): the frames to
    trim so the seam has neither. A repeat changes less than :data:`DUPLICATE` of the in-shot
    motion before the seam (between 0.25 and 1 grey level)."""
    tail, _ = _read(prev_clip, [-2, -1])
    head, n = _read(clip, list(range(max_frames)))
    pg = [_grey(tail[i]) for i in sorted(tail)]
    before = _change(pg[0], pg[-1]) if len(pg) > 1 else 0.0
    limit = min(1.0, max(0.25, DUPLICATE * before))
    k = 0
    while k < min(n, max_frames) and k in head and _change(pg[-1], _grey(head[k])) < limit:
        k += 1
    return k


def rank_takes(takes: Iterable[tuple[str, str | os.PathLike]] | Sequence[str | os.PathLike],
               prev_clip: str | os.PathLike | None = None, *,
               last_image: str | os.PathLike | np.ndarray | None = None,
               progress=None) -> list[TakeScore]:
    """Score every take against ``prev_clip`` and return them best first (ties keep the given
    order). ``takes``: clip paths, or ``(take_id, clip)`` pairs. ``progress(done, total, take)``
    is called after each take is scored."""
    items = [(t if isinstance(t, tuple) else (Path(t).stem, t)) for t in takes]
    scored = []
    for k, (tid, clip) in enumerate(items):
        scored.append((score_take(clip, prev_clip, last_image=last_image, take=str(tid)), k))
        if progress is not None:
            progress(k + 1, len(items), str(tid))
    scored.sort(key=lambda sk: (sk[0].score, sk[1]))
    return [s for s, _ in scored]
