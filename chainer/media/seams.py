"""Duplicate-frame detection at chained seams, by decoded pixels.

A ``return_last_frame`` chain makes clip k+1's first frame (nearly) the same picture as clip k's
last frame; after two independent encodes they differ only by coding noise. A seam frame is a
duplicate when its difference is coding-noise small: PSNR >= ``min_psnr`` dB, or well under the
motion between neighbouring frames inside each clip (so busy scenes with heavy coding noise still
match, and real motion across a seam never does).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Comparison size: both sides are scaled to this (area filter) so clips of different sizes compare.
PEEK_SIZE = (256, 144)
MIN_PSNR = 38.0
MOTION_RATIO = 0.2


def mse(a: np.ndarray, b: np.ndarray) -> float:
    d = a.astype(np.float32) - b.astype(np.float32)
    return float(np.mean(d * d))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    m = mse(a, b)
    return float("inf") if m == 0 else float(10 * np.log10(255.0 ** 2 / m))


@dataclass
class SeamMatch:
    duplicate: bool
    psnr: float            # last frame of the previous clip vs first frame of this one
    motion_psnr: float     # the smaller neighbour-to-neighbour PSNR inside the two clips

    def to_dict(self) -> dict:
        f = lambda v: None if v == float("inf") else round(v, 2)  # noqa: E731
        return {"duplicate": self.duplicate, "psnr": f(self.psnr), "motion_psnr": f(self.motion_psnr)}


def compare_seam(prev_tail: list[np.ndarray], next_head: list[np.ndarray], *,
                 min_psnr: float = MIN_PSNR, motion_ratio: float = MOTION_RATIO) -> SeamMatch:
    """``prev_tail``: the previous clip's last frames (>= 1, last one last); ``next_head``: this
    clip's first frames (>= 1), all at the same size."""
    seam = mse(prev_tail[-1], next_head[0])
    motions = []
    if len(prev_tail) >= 2:
        motions.append(mse(prev_tail[-2], prev_tail[-1]))
    if len(next_head) >= 2:
        motions.append(mse(next_head[0], next_head[1]))
    motion = min(motions) if motions else float("inf")
    to_db = lambda m: float("inf") if m == 0 else float(10 * np.log10(255.0 ** 2 / m))  # noqa: E731
    dup = to_db(seam) >= min_psnr or (motions != [] and seam < motion_ratio * motion)
    return SeamMatch(bool(dup), to_db(seam), to_db(motion) if motions else float("inf"))


def frames_from_raw(data: bytes, size: tuple[int, int] = PEEK_SIZE) -> list[np.ndarray]:
    w, h = size
    n = len(data) // (w * h * 3)
    arr = np.frombuffer(data[: n * w * h * 3], dtype=np.uint8).reshape(n, h, w, 3)
    return [arr[i] for i in range(n)]
