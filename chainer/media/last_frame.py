"""The exact last frame of a downloaded clip, for hosts that return none (fal, Replicate).

The chain's next shot starts from this picture, so it must be the final *decoded* frame at full
resolution (not a frame near the end), in 8 bits per channel even when the clip is 10-bit HEVC
(2.0 at 4k, 2.5 at 1080p), and within the host's image-input limits (hosts-2026.md s8(b)).
"""
from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from .. import models
from ..errors import ChainerError
from . import ffmpeg


class LastFrameError(ChainerError):
    """The clip has no decodable last frame, or it does not fit the host's image-input limits."""


@dataclass(frozen=True)
class ImageLimits:
    """A host's limits for an input image. Seedance's own (ark-api.md s3) apply on every host;
    fal and Replicate publish none of their own for Seedance (UNCONFIRMED: we assume the same)."""

    min_side: int = models.IMAGE_MIN_SIDE
    max_side: int = models.IMAGE_MAX_SIDE
    min_aspect: float = models.IMAGE_MIN_ASPECT
    max_aspect: float = models.IMAGE_MAX_ASPECT
    max_bytes: int = models.IMAGE_MAX_BYTES

    def check(self, width: int, height: int, size_bytes: int) -> None:
        if not (self.min_side <= width <= self.max_side and self.min_side <= height <= self.max_side):
            raise LastFrameError(f"last frame {width}x{height}: each side must be in "
                                 f"[{self.min_side}, {self.max_side}] px for the next shot's first frame")
        aspect = width / height
        if not self.min_aspect <= aspect <= self.max_aspect:
            raise LastFrameError(f"last frame aspect {aspect:.3f} (W/H) must be in "
                                 f"[{self.min_aspect}, {self.max_aspect}] for the next shot's first frame")
        if size_bytes >= self.max_bytes:
            raise LastFrameError(f"last frame PNG is {size_bytes} bytes; the host accepts images under "
                                 f"{self.max_bytes} bytes")


SEEDANCE_LIMITS = ImageLimits()


@dataclass(frozen=True)
class LastFrame:
    path: Path
    width: int
    height: int
    size_bytes: int

    def data_uri(self) -> str:
        """``data:image/png;base64,...`` (how fal and Replicate accept an inline image)."""
        return "data:image/png;base64," + base64.b64encode(self.path.read_bytes()).decode("ascii")


def extract_last_frame(clip: str | os.PathLike, out_png: str | os.PathLike, *,
                       limits: ImageLimits = SEEDANCE_LIMITS) -> LastFrame:
    """Decode ``clip`` to its final frame and write it to ``out_png`` (8-bit RGB PNG), checked
    against ``limits``. Written to a temporary name first, so ``out_png`` is never half a file."""
    from PIL import Image

    out = Path(out_png)
    tmp = out.with_name(out.name + ".part.png")
    try:
        ffmpeg.last_frame_png8(clip, tmp)
        if not tmp.exists() or tmp.stat().st_size == 0:
            raise LastFrameError(f"{clip}: no video frame could be decoded")
        head = tmp.read_bytes()[:26]
        if head[12:16] != b"IHDR" or (head[24], head[25]) != (8, 2):
            raise LastFrameError(f"{clip}: the last frame is not an 8-bit RGB PNG")
        with Image.open(tmp) as img:
            img.load()
            width, height = img.size
        size = tmp.stat().st_size
        limits.check(width, height, size)
        os.replace(tmp, out)
    except ffmpeg.FFmpegError as exc:
        raise LastFrameError(f"{clip}: cannot decode the last frame ({exc})") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return LastFrame(out, width, height, size)
