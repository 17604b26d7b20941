"""Reading frames out of clips and stills, via media/ffmpeg.

:func:`read_clip` / :func:`plan_clip` are what the review uses: one decode pass per clip in which
only the asked frames leave ffmpeg (``select``), scaled there to at most ``ANALYSIS_WIDTH`` px,
with the H.264 non-reference packets nobody asked for dropped before the decoder."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
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


# ---- one pass per clip --------------------------------------------------------------------------

ANALYSIS_WIDTH = 960   # review measures frames no wider than this (area-scaled in ffmpeg)
_IDENTITY = bytes.fromhex("00010000" "00000000" "00000000" "00000000" "00010000" "00000000"
                          "00000000" "00000000" "40000000")


@dataclass
class ClipFrames:
    """What one decode pass of a clip returned: the frames asked for and the clip's frame count."""

    path: Path
    frames: dict[int, np.ndarray]      # absolute display index -> HxWx3 uint8 (analysis size)
    count: int                         # decoded frames in the clip (0 if unreadable)
    fast: bool = False                 # decoded from the MP4 sample tables (dropping unneeded packets)

    def get(self, index: int) -> np.ndarray | None:
        """Frame ``index``; negative counts from the end (-1 = last)."""
        if index < 0:
            index += self.count
        return self.frames.get(index)


def _mp4_plan(path: Path, max_width: int | None):
    """(width, height, vf, frame count, display rank per decode-order packet, reference flags)
    from the MP4 sample tables, or None when the file is not a plain MP4 this can map exactly."""
    from ..media import mp4

    try:
        movie = mp4.read(path)
    except mp4.Mp4Error:
        return None
    tr = movie.first("vide")
    if tr is None or tr.count == 0 or not tr.width or not tr.height:
        return None
    if tr.matrix and tr.matrix != _IDENTITY:
        return None                      # rotated: ffmpeg would autorotate, sizes would swap
    pts = tr.pts
    if len(tr.elst) > 1 or (tr.elst and (tr.elst[0][1] > min(pts) or tr.elst[0][2] != 1.0)):
        return None                      # an edit list hiding frames: let ffmpeg count them
    n = tr.count
    order = sorted(range(n), key=lambda j: pts[j])
    rank = [0] * n
    for r, j in enumerate(order):
        rank[j] = r
    refs = None
    if tr.codec in ("avc1", "avc3"):
        try:
            refs = mp4.reference_flags(path, tr)
        except (OSError, IndexError, ValueError):
            refs = None
    w, h = tr.width, tr.height
    if max_width is not None and w > max_width:
        tw, th = fit_size(w, h, max_width)
        return tw, th, f"scale={tw}:{th}:flags=area", n, rank, refs
    return w, h, None, n, rank, refs


@dataclass
class ClipRequest:
    """A planned single pass over one clip: which frames leave ffmpeg and which packets are
    dropped before its decoder. Plan with :func:`plan_clip`; then either :meth:`decode_to` a raw
    file (thread-safe: runs ffmpeg, allocates nothing large) and :meth:`load` it, or :meth:`read`
    through a pipe."""

    path: Path
    want: list[int]                    # as asked (negative = from the end)
    max_width: int | None
    width: int = 0
    height: int = 0
    vf: str | None = None
    count: int = 0                     # frames per the sample tables
    absolute: list[int] = field(default_factory=list)   # display indices that leave ffmpeg
    drop: list[int] = field(default_factory=list)       # decode-order packets dropped
    select: list[int] = field(default_factory=list)     # their indices after the drop
    fast: bool = False                 # False: no usable sample tables, decode everything

    def decode_to(self, out: str | os.PathLike) -> bool:
        """Run the pass writing the selected frames as raw rgb24 into ``out``; False on failure
        (then :meth:`load` falls back to a plain decode)."""
        from ..media.ffmpeg import select_frames_raw

        if not self.fast or not self.absolute:
            return False
        try:
            select_frames_raw(self.path, out, drop=self.drop, select=self.select, vf=self.vf)
            return True
        except Exception:  # noqa: BLE001 - load() decodes plainly instead
            return False

    def load(self, raw: str | os.PathLike | None) -> ClipFrames:
        """The frames from what :meth:`decode_to` wrote (read frame by frame: each array owns its
        buffer); when that is missing or short, a plain decode of the clip."""
        size = self.width * self.height * 3
        if self.fast and raw is not None and os.path.exists(raw) \
                and os.path.getsize(raw) == size * len(self.absolute):
            got = {}
            with open(raw, "rb") as fh:
                for r in self.absolute:
                    got[r] = np.frombuffer(fh.read(size), dtype=np.uint8).reshape(
                        self.height, self.width, 3)
            return ClipFrames(self.path, got, self.count, fast=True)
        if self.fast and not self.absolute:
            return ClipFrames(self.path, {}, self.count, fast=True)
        return _read_clip_plain(self.path, self.want, self.max_width)

    def read(self) -> ClipFrames:
        """The pass through a pipe (no file)."""
        from ..media.ffmpeg import decode_frames_dropping

        if self.fast and self.absolute:
            got: dict[int, np.ndarray] = {}
            try:
                for r, frame in zip(self.absolute, decode_frames_dropping(
                        self.path, self.width, self.height, drop=self.drop, select=self.select,
                        vf=self.vf)):
                    got[r] = frame
            except Exception:  # noqa: BLE001 - the plain decode below reports or tolerates it
                got = {}
            if len(got) == len(self.absolute):
                return ClipFrames(self.path, got, self.count, fast=True)
        return self.load(None)


def plan_clip(path: str | os.PathLike, indices, *, max_width: int | None = ANALYSIS_WIDTH
              ) -> ClipRequest:
    """Plan the single pass that reads frames ``indices`` of a clip (see :func:`read_clip`)."""
    path = Path(path)
    req = ClipRequest(path, sorted(set(int(i) for i in indices)), max_width)
    plan = _mp4_plan(path, max_width)
    if plan is None:
        return req
    w, h, vf, n, rank, refs = plan
    absolute = sorted({i + n if i < 0 else i for i in req.want} & set(range(n)))
    needed = set(absolute)
    drop = [j for j in range(n) if refs is not None and not refs[j] and rank[j] not in needed]
    dropped = {rank[j] for j in drop}
    pos = {r: k for k, r in enumerate(r for r in range(n) if r not in dropped)}
    req.width, req.height, req.vf, req.count = w, h, vf, n
    req.absolute, req.drop, req.select, req.fast = absolute, drop, [pos[r] for r in absolute], True
    return req


def read_clip(path: str | os.PathLike, indices, *, max_width: int | None = ANALYSIS_WIDTH
              ) -> ClipFrames:
    """The frames ``indices`` of a clip (display order; negative = from the end) in ONE decode
    pass, no wider than ``max_width`` (area scaling; None = full size).

    For an MP4 the sample tables give the frame count and display order up front: only the asked
    frames leave ffmpeg (``select``), scaled there, and H.264 non-reference pictures nobody asked
    for are dropped before the decoder (``noise=drop``), which decodes the rest exactly. Anything
    else, or a file whose decode disagrees with its tables, takes a plain decode of every frame
    keeping only what was asked (memory stays a few frames either way)."""
    return plan_clip(path, indices, max_width=max_width).read()


def _read_clip_plain(path: Path, want: list[int], max_width: int | None) -> ClipFrames:
    from collections import deque

    try:
        w, h, vf = _scale_args(path, max_width)
    except Exception:  # noqa: BLE001 - unreadable: nothing decoded
        return ClipFrames(path, {}, 0)
    pos = {i for i in want if i >= 0}
    tail_len = max([-i for i in want if i < 0], default=0)
    got: dict[int, np.ndarray] = {}
    tail: deque = deque(maxlen=tail_len or 1)
    n = 0
    try:
        for n, frame in enumerate(decode_frames(path, w, h, vf=vf), start=1):
            if n - 1 in pos:
                got[n - 1] = frame.copy()
            if tail_len:
                tail.append((n - 1, frame))
    except Exception:  # noqa: BLE001 - keep what decoded before the error
        pass
    if tail_len:
        for i, frame in tail:
            if i - n in want and i not in got:
                got[i] = frame.copy()
    return ClipFrames(path, got, n)
