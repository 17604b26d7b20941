"""One-pass assembly of the output audio track.

Every segment's audio is decoded (resampled to the output rate and layout), trimmed to exactly the
video frames it keeps, placed at its video start in the output, and joined to its neighbour:

- ``seam``: a short equal-power crossfade centred on the seam (default 30 ms). Material past a
  segment's edge comes from the source when it has some (the dropped duplicate frame's audio),
  otherwise from a mirror of the edge (continuous, no step), faded out after that.
- ``crossfade``: equal-power crossfade over the segments' overlap (a video crossfade).
- ``fade``: fade out then fade in (a fade through black), each half the length.

Segments without audio contribute silence. The result is raw float32 PCM written in order, holding
only about one segment in memory, and encoded once by the final mux.
"""
from __future__ import annotations

import math
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

SEAM_FADE = 0.030


@dataclass
class AudioPiece:
    path: str | None       # a file with an audio stream, or None (silence)
    src_start: float       # seconds into the source audio that play at out_start
    out_start: float       # seconds, in the output
    out_dur: float         # seconds


@dataclass
class Join:
    kind: str              # "seam" | "crossfade" | "fade"
    length: float          # seconds: seam fade length, crossfade overlap, or whole fade


def _fetch(x: np.ndarray | None, j0: int, j1: int, channels: int, reflect: int) -> np.ndarray:
    """Source samples [j0, j1): real where present; mirrored (faded out over ``reflect``) just
    outside the source; silence further out."""
    n = j1 - j0
    out = np.zeros((n, channels), np.float32)
    if x is None or x.shape[0] == 0 or n <= 0:
        return out
    a_len = x.shape[0]
    a, b = max(j0, 0), min(j1, a_len)
    if b > a:
        out[a - j0:b - j0] = x[a:b]
    if reflect <= 0:
        return out
    if j0 < 0:
        js = np.arange(j0, min(0, j1))
        dist = -js                                   # 1.. samples before the source start
        ok = (dist <= reflect) & (dist < a_len)
        js, dist = js[ok], dist[ok]
        gain = np.cos(0.5 * np.pi * dist / (reflect + 1)).astype(np.float32)[:, None]
        out[js - j0] = x[dist] * gain
    if j1 > a_len:
        js = np.arange(max(a_len, j0), j1)
        dist = js - a_len + 1                        # 1.. samples after the source end
        src = a_len - 1 - dist
        ok = (dist <= reflect) & (src >= 0)
        js, dist, src = js[ok], dist[ok], src[ok]
        gain = np.cos(0.5 * np.pi * dist / (reflect + 1)).astype(np.float32)[:, None]
        out[js - j0] = x[src] * gain
    return out


def _ramp(n: int, rising: bool) -> np.ndarray:
    """Equal-power ramp of n samples (sin rising / cos falling), sampled at centres."""
    if n <= 0:
        return np.zeros(0, np.float32)
    x = (np.arange(n, dtype=np.float64) + 0.5) / n
    r = np.sin(0.5 * np.pi * x) if rising else np.cos(0.5 * np.pi * x)
    return r.astype(np.float32)


def assemble(pieces: Sequence[AudioPiece], joins: Sequence[Join], out_raw: str | Path, *,
             sample_rate: int, channels: int, decode: Callable[[str], np.ndarray],
             prefetch: int = 2, workers: int = 2) -> dict:
    """Write the whole track to ``out_raw`` (f32le interleaved). ``joins[i]`` joins piece i and
    i+1. ``decode(path)`` returns float32 (n, channels) at ``sample_rate``. Returns stats."""
    if len(joins) != max(0, len(pieces) - 1):
        raise ValueError("joins must have one entry per adjacent pair of pieces")
    sr = sample_rate
    n_pieces = len(pieces)
    # pieces and joins are read in order, and each only when needed (they may be lazy sequences
    # whose items become known while the track is being written)
    span_memo: dict[int, tuple[int, int]] = {}

    def span(i: int) -> tuple[int, int]:
        if i not in span_memo:
            p = pieces[i]
            span_memo[i] = (int(round(p.out_start * sr)), int(round((p.out_start + p.out_dur) * sr)))
        return span_memo[i]

    class _Spans:
        def __getitem__(self, i: int) -> tuple[int, int]:
            return span(i if i >= 0 else n_pieces + i)

    spans = _Spans()

    def total_end() -> int:
        return spans[-1][1] if n_pieces else 0

    def window(i: int) -> tuple[int, int, int, int]:
        """(lo, hi, left ramp end, right ramp start) of piece i's contribution."""
        s, e = spans[i]
        lo, hi = s, e
        lr = rr = None
        if i > 0:
            j = joins[i - 1]
            if j.kind == "seam":
                h = int(round(j.length * sr / 2))
                lo, lr = s - h, s + h
            elif j.kind == "crossfade":
                lr = spans[i - 1][1]
            elif j.kind == "fade":
                lr = s + int(round(j.length * sr / 2))
        if i + 1 < len(pieces):
            j = joins[i]
            if j.kind == "seam":
                h = int(round(j.length * sr / 2))
                hi, rr = e + h, e - h
            elif j.kind == "crossfade":
                rr = spans[i + 1][0]
            elif j.kind == "fade":
                rr = e - int(round(j.length * sr / 2))
        lo = max(lo, 0)
        if i + 1 >= n_pieces:
            hi = min(hi, total_end())
        return lo, hi, (lr if lr is not None else lo), (rr if rr is not None else hi)

    stats = {"samples": 0, "sample_rate": sr, "channels": channels, "silent_pieces": 0}
    reflect = int(round(SEAM_FADE * sr))
    own = not hasattr(out_raw, "write")
    fh = open(out_raw, "wb") if own else out_raw
    try:
        _assemble_into(fh, pieces, n_pieces, spans, window, total_end, channels, sr, reflect,
                       decode, prefetch, workers, stats)
    finally:
        if own:
            fh.close()
    total = stats["samples"]
    stats["duration"] = total / sr if sr else 0.0
    return stats


def _assemble_into(fh, pieces, n_pieces, spans, window, total_end, channels, sr, reflect, decode,
                   prefetch, workers, stats) -> None:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures: dict[int, Future] = {}

        def want(k: int) -> None:
            if k < n_pieces and k not in futures:
                # a lazy sequence may tell a piece's source before the piece itself is known
                path = pieces.paths[k] if hasattr(pieces, "paths") else pieces[k].path
                futures[k] = pool.submit(decode, path) if path else None  # type: ignore[assignment]

        for k in range(min(prefetch + 1, n_pieces)):
            want(k)
        base = 0
        acc = np.zeros((0, channels), np.float32)
        for i in range(n_pieces):
            p = pieces[i]
            want(i + prefetch + 1)
            fut = futures.pop(i)
            x = fut.result() if fut is not None else None
            if x is None:
                stats["silent_pieces"] += 1
            lo, hi, lr, rr = window(i)
            lo = max(lo, base)
            if lo > base:                        # everything before lo is final
                k = lo - base
                if k > acc.shape[0]:
                    acc = np.concatenate([acc, np.zeros((k - acc.shape[0], channels), np.float32)])
                fh.write(np.ascontiguousarray(acc[:k]).tobytes())
                acc, base = acc[k:], lo
            need = hi - base
            if need > acc.shape[0]:
                acc = np.concatenate([acc, np.zeros((need - acc.shape[0], channels), np.float32)])
            if hi <= lo:
                continue
            off = int(round(p.src_start * sr)) - spans[i][0]
            seg = _fetch(x, lo + off, hi + off, channels, reflect)
            w = np.ones(hi - lo, np.float32)
            if lr > lo:
                w[: lr - lo] = _ramp(lr - lo, True)
            if rr < hi:
                w[rr - lo:] = _ramp(hi - rr, False)
            acc[lo - base:hi - base] += seg * w[:, None]
        total = total_end()
        if total > base:
            if acc.shape[0] < total - base:
                acc = np.concatenate([acc, np.zeros((total - base - acc.shape[0], channels), np.float32)])
            fh.write(np.ascontiguousarray(acc[: total - base]).tobytes())
        stats["samples"] = total


def max_jump(x: np.ndarray) -> float:
    """Largest absolute sample-to-sample difference (any channel)."""
    if x.shape[0] < 2:
        return 0.0
    return float(np.max(np.abs(np.diff(x, axis=0))))


def longest_silence(x: np.ndarray, *, threshold: float = 1e-4) -> int:
    """Length in samples of the longest run of (near) digital silence in all channels."""
    quiet = np.all(np.abs(x) <= threshold, axis=1) if x.ndim == 2 else np.abs(x) <= threshold
    if not quiet.any():
        return 0
    d = np.diff(np.concatenate([[0], quiet.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    return int((ends - starts).max())


def db(x: float) -> float:
    return -math.inf if x <= 0 else 20 * math.log10(x)
