"""Helpers for the render tests: small storyboards, PSNR, emulator stats."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import yaml

MODEL = "doubao-seedance-1-0-pro-fast-251015"
PRICE = 10.0   # CNY per million tokens (the 1.0 models have no registry price)


def write_storyboard(path: Path, shots: list[dict], *, seed: int = 7, **top) -> Path:
    doc = {"title": "Render test", "model": MODEL,
           "defaults": {"resolution": "480p", "ratio": "16:9", "duration": 2, "seed": seed},
           "pricing": {MODEL: PRICE}, "output": {"file": "out.mp4"}, "shots": shots, **top}
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


TWO_SEQUENCES = [
    {"id": "s1", "prompt": "Aerial shot of a mountain lake at sunrise, slow dolly forward"},
    {"id": "s2", "prompt": "The camera glides low over the water, pan left"},
    {"id": "s3", "prompt": "The camera rises toward a wooden cabin, crane up"},
    {"id": "t1", "prompt": "Inside the cabin, warm firelight, slow push in", "cut": True},
    {"id": "t2", "prompt": "A cat sleeps by the fire, static camera"},
]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def first_frame(clip: Path) -> np.ndarray:
    from chainer.media.ffmpeg import decode_frames
    from chainer.media.probe import probe

    v = probe(clip).video
    return next(iter(decode_frames(clip, v.width, v.height, max_frames=1)))


def png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def created(emu) -> int:
    return emu.stats()["tasks_created"]
