"""Synthetic chained clips for the benchmarks: each clip's frame 0 is exactly the previous clip's
last frame before encoding (what a ``return_last_frame`` chain produces), 24 fps, one keyframe per
clip with B-frames like the emulator's and Seedance's output, optional continuous audio. Clips are
cached: an existing file is reused."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FPS = 24
SR = 48000


def texture(w: int, h: int, seed: int = 3) -> np.ndarray:
    """A detailed, x264-unfriendly picture (blocks + smooth colour waves) to pan across."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(h // 8 + 2, w // 8 + 2, 3), dtype=np.uint8)
    big = np.repeat(np.repeat(small, 8, axis=0), 8, axis=1).astype(np.float32)
    yy, xx = np.mgrid[0:big.shape[0], 0:big.shape[1]].astype(np.float32)
    big = 0.55 * big + 0.45 * (128 + 100 * np.sin(xx[..., None] / 61.0 + yy[..., None] / 43.0
                                                    + np.array([0, 2, 4], np.float32)))
    return np.clip(big, 0, 255).astype(np.uint8)


def generate_chain(cache: Path, n: int, width: int, height: int, frames: int, *,
                   texture_seed: int = 3, audio: bool = True, **encode) -> list[Path]:
    """``n`` chained clips of ``frames`` frames in ``cache`` (``clip000.mp4`` ...). ``encode``
    goes to :func:`chainer.media.ffmpeg.encode_video` (preset, crf ...)."""
    from chainer.media.ffmpeg import encode_video

    cache.mkdir(parents=True, exist_ok=True)
    tex = texture(width * 2, height * 2, texture_seed)
    noise = np.random.default_rng(9).standard_normal(SR * 4).astype(np.float32)
    paths, g0 = [], 0
    for k in range(n):
        path = cache / f"clip{k:03d}.mp4"
        paths.append(path)
        if not path.exists():
            def frame(g):
                t = g / FPS
                x = int((t * 90) % width)
                y = int((height / 2) * (1 + np.sin(t * 0.7)) / 2)
                f = tex[y:y + height, x:x + width].copy()
                bx = int((t * 300) % (width - 120))
                f[height // 2 - 60:height // 2 + 60, bx:bx + 120] = 245
                return f

            samples = None
            if audio:
                idx = np.arange(int(round(g0 / FPS * SR)), int(round((g0 + frames) / FPS * SR)))
                samples = (0.2 * np.sin(2 * np.pi * 220 * idx / SR)
                           + 0.03 * noise[idx % noise.shape[0]]).astype(np.float32)
            tmp = path.with_suffix(".tmp.mp4")
            encode_video(tmp, (frame(g0 + i) for i in range(frames)), width=width, height=height,
                         fps=FPS, audio=samples, **encode)
            os.replace(tmp, path)
            print(f"  generated {path.name}", file=sys.stderr, flush=True)
        g0 += frames - 1
    return paths
