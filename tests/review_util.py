"""Synthetic chained clips, a reference assembler and a summary.json builder for review tests.

The clips are procedural (no emulator needed): content is a function of the *global* time so
shot N+1's first frame equals shot N's last frame, like a chained render, and ``drift`` applies a
progressive colour/contrast shift that keeps growing along the chain (a warm cast, lifted blacks,
less contrast), the failure mode drift_guard exists for.
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from chainer.media.ffmpeg import decode_frames, encode_video

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


def assemble(run_dir: Path, clips: list[tuple[str, Path, bool, str]], out: Path) -> dict:
    """A reference assembler (numpy + encode_video) standing in for media.stitch in fixtures.

    ``clips``: (shot_id, path, chained, transition_in). A chained shot drops its first frame (it
    repeats the previous last frame); ``crossfade:SEC`` overlaps the previous shot by SEC.
    Returns a StitchResult.to_dict()-shaped dict (paths relative to run_dir)."""
    video: list[np.ndarray] = []
    segments = []
    for sid, path, chained, transition in clips:
        frames = list(decode_frames(path, W, H))
        head = 1 if chained else 0
        kept = frames[head:]
        overlap = 0
        if transition.startswith("crossfade:") and video:
            overlap = int(round(float(transition.split(":")[1]) * FPS))
        start = len(video) - overlap
        for k in range(overlap):
            a = k / overlap
            video[start + k] = np.round(video[start + k] * (1 - a) + kept[k] * a).astype(np.uint8)
        video.extend(kept[overlap:])
        segments.append({"shot_id": sid, "path": str(path.relative_to(run_dir)),
                         "frames_in": len(frames), "frames_kept": len(kept), "head_trim": head,
                         "tail_trim": 0, "start": start / FPS, "duration": len(kept) / FPS,
                         "path_taken": "reencode", "conform": [], "transition_in": transition})
    encode_video(out, video, width=W, height=H, fps=FPS, preset="ultrafast", crf=16)
    return {"output": str(out.relative_to(run_dir)), "frames": len(video),
            "duration": len(video) / FPS, "audio_duration": None, "timings": {},
            "segments": segments}


def make_summary(run_dir: Path, shots: list[dict], stitch: dict | None, *, title="review test",
                 output="final.mp4") -> dict:
    """A summary.json-format dict. ``shots``: dicts with at least id, sequence, clip (Path)."""
    out_shots = []
    succeeded: dict[str, float] = {}
    for i, s in enumerate(shots):
        clip = Path(s["clip"])
        # a chained shot is submitted when the shot it continues succeeded (it needs its last frame)
        sub = succeeded.get(s.get("chained_from"), s.get("submitted", 0.1 * i))
        # summary.json's shape: phases relative to the shot's submission + absolute submitted_at
        timings = {"submitted": 0.0, "queued": 0.1, "running": 2.0 + i % 3,
                   "succeeded": 9.0 + i, "downloaded": 10.0 + i,
                   "submitted_at": 1.7e9 + sub, "downloaded_at": 1.7e9 + sub + 10.0 + i}
        succeeded[s["id"]] = sub + timings["succeeded"]
        shot = {"id": s["id"], "name": s.get("name", s["id"]), "index": i,
                "sequence": s["sequence"], "position": s.get("position", i),
                "chained_from": s.get("chained_from"), "mode": s.get("mode", "t2v"),
                "model": "doubao-seedance-1-0-pro-250528", "prompt": f"prompt for {s['id']} <&>",
                "params": {"resolution": "480p", "ratio": "16:9", "duration": 1, "seed": 100 + i,
                           "camera_fixed": False, "generate_audio": True, "watermark": False,
                           "service_tier": "default", "return_last_frame": True},
                "width": W, "height": H, "frames": 25, "task_id": s.get("task_id", f"cgt-{i:04d}"),
                "status": "succeeded", "seed": 100 + i, "timings": timings,
                "tokens": {"estimated": 10000 + i, "actual": 9900 + i},
                "cost": {"estimated": 0.15, "actual": 0.1485, "currency": "CNY"},
                "clip": str(clip.relative_to(run_dir)) if clip.is_absolute() else str(clip),
                "last_frame": f"frames/{s['id']}.last.png", "attempts": 1}
        for k in s.get("drop", ()):
            shot.pop(k, None)
        out_shots.append(shot)
    return {"title": title, "storyboard": "story.yaml", "provider": "emulator", "output": output,
            "shots": out_shots,
            "totals": {"tokens_estimated": sum(s["tokens"]["estimated"] for s in out_shots
                                               if "tokens" in s),
                       "tokens_actual": sum(s["tokens"]["actual"] for s in out_shots
                                            if "tokens" in s),
                       "cost_estimated": 0.15 * len(out_shots), "cost_actual": 0.1485 * len(out_shots)},
            "stitch": stitch}


def fraction_seconds(frames: int) -> Fraction:
    return Fraction(frames, FPS)
