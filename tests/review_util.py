"""Synthetic chained clips for review tests (run directories come from rendering, not from here).

The clips are procedural (no emulator needed): content is a function of the *global* time so
shot N+1's first frame equals shot N's last frame, like a chained render, and ``drift`` applies a
progressive colour/contrast shift that keeps growing along the chain (a warm cast, lifted blacks,
less contrast), the failure mode drift_guard exists for.
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from chainer.media.ffmpeg import encode_video

FPS = 24
W, H = 256, 144
SR = 48000


def scene(t: float, w: int = W, h: int = H) -> np.ndarray:
    """Float RGB frame (0..255) at global time t (seconds): gradients, moving discs, texture."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.empty((h, w, 3))
    img[..., 0] = 40 + 150 * xx / w
    img[..., 1] = 60 + 120 * yy / h
    img[..., 2] = 170 - 110 * xx / w
    for k, (cx, cy, col) in enumerate([(0.3, 0.4, (230, 60, 40)), (0.7, 0.6, (40, 200, 90)),
                                       (0.5, 0.3, (250, 240, 220))]):
        x0 = (cx + 0.15 * np.sin(0.7 * t + k)) * w
        y0 = (cy + 0.1 * np.cos(0.9 * t + 2 * k)) * h
        m = (xx - x0) ** 2 + (yy - y0) ** 2 < (0.09 * h * (1 + k * 0.3)) ** 2
        img[m] = col
    img += 12 * np.sin(xx * 0.35 + yy * 0.21)[..., None]   # texture: keeps SSIM meaningful
    return img


def drifted(img: np.ndarray, x: float) -> np.ndarray:
    """Apply drift amount ``x`` (0 = none; 1 per shot is a strong but realistic per-clip drift)."""
    out = (img - 128.0) * (1.0 - 0.07 * x) + 128.0 + 3.0 * x   # flatter, lifted
    out[..., 0] *= 1.0 + 0.05 * x                              # warmer
    out[..., 2] *= 1.0 - 0.06 * x
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def tone(n_samples: int, freq: float, sr: int = SR) -> np.ndarray:
    t = np.arange(n_samples) / sr
    return (0.2 * np.sin(2 * np.pi * freq * t)).astype(np.float32)[:, None].repeat(2, axis=1)


def make_chain(out_dir: Path, ids: list[str], *, seconds: float = 1.0, drift: float = 0.0,
               t0: float = 0.0, w: int = W, h: int = H, audio: bool = True,
               preset: str = "ultrafast") -> list[Path]:
    """Encode one chained sequence: shot i covers global time [t0+i*s, t0+(i+1)*s] inclusive, so
    its last frame and shot i+1's first frame are the same picture. Drift grows linearly through
    every shot (x = i + progress), i.e. it accumulates along the chain."""
    out_dir.mkdir(parents=True, exist_ok=True)
    n = int(round(seconds * FPS)) + 1
    paths = []
    for i, sid in enumerate(ids):
        frames = [drifted(scene(t0 + (i + j / (n - 1)) * seconds, w, h), drift * (i + j / (n - 1)))
                  for j in range(n)]
        p = out_dir / f"{sid}.mp4"
        a = tone(int(round(n / FPS * SR)), 220 + 110 * i) if audio else None
        encode_video(p, frames, width=w, height=h, fps=FPS, audio=a, preset=preset, crf=14)
        paths.append(p)
    return paths


def fraction_seconds(frames: int) -> Fraction:
    return Fraction(frames, FPS)
