"""Synthetic chained clips for the stitch tests and bench.

A "world" is a continuous animation and a continuous audio signal indexed by a global frame number.
Clip k shows global frames ``g_k .. g_k + n_k - 1`` and clip k+1 starts at ``g_k + n_k - 1``: its
frame 0 is exactly (pre-encode) the previous clip's last frame, which is what a
``return_last_frame`` chain produces. Audio of clip k is the world's audio over
``[g_k / fps, (g_k + n_k) / fps)``, so after dropping one duplicated frame per seam the ideal output
track is the world's audio itself, continuous across every seam.

Encoded like the emulator's clips (``codec="hevc10"``: x265 Main10 like its 1080p/4k clips): libx264 defaults (preset medium, High, yuv420p), one keyframe per
clip, B-frames, 24 fps, AAC 48 kHz mono.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from chainer.media.ffmpeg import encode_video

SR = 48000


@dataclass
class World:
    width: int = 864
    height: int = 496
    fps: int = 24
    sample_rate: int = SR
    seed: int = 7
    tone_hz: float = 330.0
    _noise: np.ndarray | None = field(default=None, repr=False)

    def frame(self, g: int, width: int | None = None, height: int | None = None,
              fps: float | None = None) -> np.ndarray:
        """Global frame ``g`` (time g / self.fps), optionally rendered at another size/time base."""
        w, h = width or self.width, height or self.height
        t = g / (fps or self.fps)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        xs, ys = xx * (self.width / w), yy * (self.height / h)
        f = np.empty((h, w, 3), np.uint8)
        f[..., 0] = ((xs * 0.5 + t * 96.0) % 256).astype(np.uint8)
        f[..., 1] = ((ys * 0.5 + t * 48.0) % 256).astype(np.uint8)
        f[..., 2] = (128 + 100 * np.sin(xs / 37.0 + ys / 53.0 + t * 3.0)).astype(np.uint8)
        # a moving box: unmistakable motion between consecutive frames
        bx = int((t * 200.0) % max(1, self.width - 80) * w / self.width)
        by = int((self.height / 2 - 40 + 60 * np.sin(t * 2.0)) * h / self.height)
        f[max(0, by):by + max(2, 80 * h // self.height), bx:bx + max(2, 80 * w // self.width)] = (250, 250, 250)
        return f

    def audio(self, start_s: float, n: int) -> np.ndarray:
        """World audio: a tone plus low noise, continuous in absolute time."""
        i0 = int(round(start_s * self.sample_rate))
        idx = np.arange(i0, i0 + n, dtype=np.int64)
        tone = 0.25 * np.sin(2 * np.pi * self.tone_hz * idx / self.sample_rate)
        if self._noise is None:
            self._noise = np.random.default_rng(self.seed).standard_normal(self.sample_rate * 4).astype(np.float32)
        noise = 0.02 * self._noise[idx % self._noise.shape[0]]
        return (tone + noise).astype(np.float32)


@dataclass
class ClipSpec:
    frames: int = 25
    audio: bool = True
    width: int | None = None
    height: int | None = None
    fps: int | None = None          # another frame rate (content timed on the world clock)
    sample_rate: int | None = None
    stereo: bool = False
    codec: str | None = None        # "hevc10" / "h264" (None: make_chain's codec)


def make_chain(out_dir: Path, specs: list[ClipSpec], world: World | None = None,
               preset: str = "medium", codec: str = "h264") -> list[Path]:
    """Encode a chain of clips; clip k+1's frame 0 == clip k's last frame (pre-encode).
    ``codec="hevc10"``: 10-bit HEVC Main10 (hvc1) as the emulator renders 2.5 1080p / 2.0 4k."""
    world = world or World()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    t0 = 0.0                          # world time of this clip's frame 0
    for k, spec in enumerate(specs):
        fps = spec.fps or world.fps
        w, h = spec.width or world.width, spec.height or world.height
        frames = (world.frame(int(round((t0 + i / fps) * world.fps * 1000)), w, h, world.fps * 1000)
                  for i in range(spec.frames))
        audio = None
        sr = spec.sample_rate or world.sample_rate
        if spec.audio:
            a = world.audio(t0, int(round(spec.frames / fps * world.sample_rate)))
            if sr != world.sample_rate:
                # resample the world's tone exactly at the clip's rate
                n = int(round(spec.frames / fps * sr))
                idx = np.arange(n) / sr + t0
                a = (0.25 * np.sin(2 * np.pi * world.tone_hz * idx)).astype(np.float32)
            audio = np.stack([a, a], axis=1) if spec.stereo else a
        path = out_dir / f"clip{k:03d}.mp4"
        encode_video(path, frames, width=w, height=h, fps=fps, audio=audio, sample_rate=sr,
                     preset=preset, codec=spec.codec or codec)
        paths.append(path)
        t0 += (spec.frames - 1) / fps
    return paths


def world_frame_for(world: World, t: float, width: int | None = None, height: int | None = None):
    """The world's picture at time ``t`` seconds."""
    return world.frame(int(round(t * world.fps * 1000)), width, height, world.fps * 1000)
