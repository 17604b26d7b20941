"""The stitcher's working plan: what each segment keeps, where it lands in the output, and how its
video is produced (copied, smart-rendered tail, or re-encoded). Pure data and arithmetic; no
ffmpeg. The finished edit is a :class:`chainer.timeline.Timeline` (built from these plans once);
transitions are parsed by the one grammar, :mod:`chainer.transitions`."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

from ..errors import InputError
from ..transitions import Transition
from .h264 import StreamHeaders, prefix_cut


@dataclass
class Source:
    """What analysis learnt about one input file."""
    path: str
    width: int
    height: int
    fps: Fraction
    pix_fmt: str | None
    codec: str
    timescale: int | None
    frames: int
    pts: list[int]                       # video packet pts, decode order
    headers: StreamHeaders | None
    video_first: bool                    # video is stream #0 (concat demuxer maps by index)
    audio: bool
    sample_rate: int | None
    channels: int | None
    track: object | None = None          # mp4.Track of the video when read without ffmpeg
    param_key: tuple | None = None       # HEVC: the hvcC (parameter sets) as a comparable key

    @property
    def ten_bit(self) -> bool:
        return bool(self.pix_fmt) and "10" in str(self.pix_fmt)


@dataclass
class Target:
    width: int
    height: int
    fps: Fraction
    pix_fmt: str = "yuv420p"
    timescale: int | None = None
    codec: str = "h264"                  # "hevc": 10-bit HEVC output (pix_fmt yuv420p10le)


def parse_target(target, first: Source) -> Target:
    """``target``: None (first segment's format), "WxH", "WxH@FPS", or a dict width/height/fps."""
    ts = first.timescale
    if target is None:
        return Target(first.width, first.height, first.fps, "yuv420p", ts)
    if isinstance(target, Target):
        return target
    if isinstance(target, dict):
        w, h = int(target.get("width", first.width)), int(target.get("height", first.height))
        fps = Fraction(str(target.get("fps", first.fps)))
    else:
        m = re.match(r"^(\d+)x(\d+)(?:@(\d+(?:\.\d+)?|\d+/\d+))?$", str(target).strip())
        if not m:
            raise InputError(f"target: {target!r} is not a format; use WIDTHxHEIGHT or WIDTHxHEIGHT@FPS")
        w, h = int(m.group(1)), int(m.group(2))
        fps = Fraction(m.group(3)) if m.group(3) else first.fps
    if w <= 0 or h <= 0 or w % 2 or h % 2 or fps <= 0:
        raise InputError(f"target: {target!r}: width and height must be positive even numbers, fps > 0")
    if fps != first.fps:
        ts = None
    return Target(w, h, fps, "yuv420p", ts)


def conform_steps(src: Source, tgt: Target, ref_key: tuple | None) -> list[str]:
    """Why a segment cannot be copied as is (empty list = copyable)."""
    steps = []
    if src.codec != tgt.codec:
        steps.append(f"codec {src.codec}->{tgt.codec}")
    if (src.width, src.height) != (tgt.width, tgt.height):
        steps.append(f"size {src.width}x{src.height}->{tgt.width}x{tgt.height} (letterbox)")
    if src.fps != tgt.fps:
        steps.append(f"fps {float(src.fps):g}->{float(tgt.fps):g}")
    if src.pix_fmt and src.pix_fmt != tgt.pix_fmt:
        steps.append(f"pix_fmt {src.pix_fmt}->{tgt.pix_fmt}")
    key = src.headers.key if src.headers is not None else src.param_key
    if not steps and (key is None or ref_key is None or key != ref_key):
        steps.append("encoder parameter sets differ")
    return steps


def tail_cut(pts: list[int], change_from: int) -> int:
    """Where to start re-encoding so frames ``change_from..`` can be altered: the last
    reference-safe prefix at or before it, leaving a re-encoded run of 0 or >= 2 frames (a lone
    IDR directly before the next clip's IDR would make two consecutive IDRs share idr_pic_id)."""
    k = prefix_cut(pts, change_from)
    if change_from - k == 1 and k > 0:
        k = prefix_cut(pts, k - 1)
    return k


def converted_frames(n: int, src_fps: Fraction, fps: Fraction) -> int:
    """Frames after converting ``n`` frames from ``src_fps`` to ``fps`` (same duration)."""
    if src_fps == fps:
        return n
    return max(1, int(round(Fraction(n) / src_fps * fps)))


@dataclass
class SegPlan:
    index: int
    source: Source
    shot_id: str
    title: str
    chained: bool
    transition_in: Transition | None     # None for the first segment and for chained seams
    head_trim: int = 0
    tail_trim: int = 0
    conform: list[str] = field(default_factory=list)
    full: bool = False                   # whole segment re-encoded
    cut_at: int | None = None            # smart: copy packets [0, cut_at), re-encode the rest
    seam: dict | None = None             # seam comparison with the previous segment
    fade_in: int = 0                     # frames (output rate)
    fade_out: int = 0
    xfade_out: int = 0                   # frames overlapped with the next segment
    start: float = 0.0
    start_frame: int = 0                 # first output frame
    kept: int = 0                        # output frames (after conform)

    @property
    def path_taken(self) -> str:
        if self.full:
            return "reencode"
        return "smart" if self.cut_at is not None else "copy"

    @property
    def src_end(self) -> int:
        return self.source.frames - self.tail_trim
