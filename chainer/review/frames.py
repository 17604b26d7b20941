"""Reading single frames (full size or as thumbnails) out of clips and stills, via media/ffmpeg."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..media.ffmpeg import decode_frames
from ..media.probe import probe


def video_size(path: str | os.PathLike) -> tuple[int, int]:
    info = probe(path)
    if info.video is None:
        raise ValueError(f"{path}: no video stream")
    return info.video.width, info.video.height


def fit_size(width: int, height: int, max_width: int) -> tuple[int, int]:
    """Even-sized (w, h) no wider than ``max_width`` keeping the aspect ratio."""
    if width <= max_width:
        return width - width % 2, height - height % 2
    w = max_width - max_width % 2
    h = max(2, int(round(height * w / width / 2)) * 2)
    return w, h


def _scale_args(path, max_width: int | None) -> tuple[int, int, str | None]:
    w, h = video_size(path)
    if max_width is None or w <= max_width:
        return w, h, None
    tw, th = fit_size(w, h, max_width)
    return tw, th, f"scale={tw}:{th}:flags=area"


def read_frame(path: str | os.PathLike, index: int, *, max_width: int | None = None) -> np.ndarray:
    """Decoded frame ``index`` (0-based, presentation order) as HxWx3 uint8."""
    w, h, vf = _scale_args(path, max_width)
    for frame in decode_frames(path, w, h, start_frame=max(0, int(index)), max_frames=1, vf=vf):
        return frame.copy()
    raise ValueError(f"{path}: has no frame {index}")


def read_first_last(path: str | os.PathLike, *, max_width: int | None = 256
                    ) -> tuple[np.ndarray, np.ndarray, int]:
    """First and last decoded frames (one decode pass) and the number of frames."""
    w, h, vf = _scale_args(path, max_width)
    first = last = None
    n = 0
    for frame in decode_frames(path, w, h, vf=vf):
        if first is None:
            first = frame.copy()
        last = frame
        n += 1
    if first is None:
        raise ValueError(f"{path}: no decodable video frames")
    return first, last.copy(), n


def read_frames(path: str | os.PathLike, indices: list[int], *, max_width: int | None = None
                ) -> dict[int, np.ndarray]:
    """Several frames in one decode pass: {index: frame} for each index that exists."""
    wanted = sorted(set(int(i) for i in indices if i >= 0))
    if not wanted:
        return {}
    w, h, vf = _scale_args(path, max_width)
    out: dict[int, np.ndarray] = {}
    stop = wanted[-1]
    for n, frame in enumerate(decode_frames(path, w, h, vf=vf, max_frames=stop + 1)):
        if n in wanted:
            out[n] = frame.copy()
    return out


def read_image(path: str | os.PathLike) -> np.ndarray:
    """A still (PNG/JPEG/...) as HxWx3 uint8 sRGB."""
    from PIL import Image

    with Image.open(Path(path)) as im:
        return np.asarray(im.convert("RGB")).copy()
