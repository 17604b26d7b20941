"""The emulator's motion model: moving objects with a position and a velocity, measurable at a seam.

A clip's camera move alone changes a downscaled grey frame by well under one level per frame, about
the size of the coding noise at a seam, so nothing could tell a stall from motion. So every clip
also carries a few *movers*: soft-edged, saturated colour discs tinted into the picture
(``pixel = bg * (1 - a) + colour * a`` inside the disc, ``a`` up to :data:`TINT`), each with a
position and a velocity in pixels per frame, bouncing off the frame edges. Per-frame change of a
64x36 grey version of a clip is then several levels (:data:`SPEED` and :data:`RADIUS` are chosen
for that), deterministic per seed.

How a clip starts (:class:`Start`) is what a seam test needs to see:

- ``fresh``: new movers (from the seed). Over a first-frame image they fade in from nothing, so
  frame 0 is the image untouched (also a first frame the emulator does not recognise); in a scene
  the emulator draws (t2v, reference mode) they are there from frame 0.
- ``stall``: the first frame is a last frame the emulator rendered, so the movers' state at that
  frame is known (:func:`lookup_image`). A last frame carries no velocity, and real models hold
  nearly still for the first frames of a first-frame-conditioned clip before motion restarts,
  in a direction of their own: the movers start where they are, their speed ramps up from zero
  over :data:`STALL_FRAMES` frames and their direction is re-drawn from the seed.
- ``continue``: an extension of a reference video (``chain: extend``): the movers continue the
  reference's end state with its velocity, and the clip holds only new content, so frame 0 is the
  reference's last frame advanced by one frame (no duplicated first frame).

Movers are composited on the camera's canvas (before the camera transform), so they ride the camera
move like scene content. Tints baked into a first frame are removed exactly (the tint is
invertible) before the movers are drawn at their new positions. The state at a clip's last frame,
mapped to that frame's screen coordinates, is written as JSON next to the clip
(:func:`sidecar_for`) and under the last frame's pixel hash (:func:`save_end`), so a later request
that sends that frame or that video back can continue from it.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import random
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

N_MOVERS = 8
RADIUS = (0.09, 0.13)        # disc radius, fraction of the frame height
SPEED = (0.032, 0.045)       # pixels per frame, fraction of the frame width
TINT = 0.8                   # tint strength at a disc's core
FADE_FRAMES = 12             # fresh movers fade in over this many frames
STALL_FRAMES = 12            # after a last-frame seam: speed ramps from 0 to full over these frames
STATE_DIR = "motion"         # under the emulator's data dir: end states keyed by last-frame hash


@dataclass(frozen=True)
class Mover:
    x: float                 # centre, pixels (screen coordinates of the frame the state belongs to)
    y: float
    vx: float                # pixels per frame
    vy: float
    r: float                 # radius, pixels
    colour: tuple[float, float, float]
    amp: float = 1.0         # 0..1: how visible (a first+last clip fades its movers out)


@dataclass(frozen=True)
class MotionState:
    """The movers at one frame of a clip (its last, when stored)."""

    width: int
    height: int
    movers: tuple[Mover, ...]

    def to_dict(self) -> dict:
        return {"width": self.width, "height": self.height,
                "movers": [asdict(m) | {"colour": list(m.colour)} for m in self.movers]}

    @classmethod
    def from_dict(cls, d: dict) -> "MotionState":
        ms = tuple(Mover(float(m["x"]), float(m["y"]), float(m["vx"]), float(m["vy"]), float(m["r"]),
                         tuple(float(c) for c in m["colour"]), float(m.get("amp", 1.0)))
                   for m in d["movers"])
        return cls(int(d["width"]), int(d["height"]), ms)


@dataclass(frozen=True)
class Start:
    """How the movers start: ``fresh`` | ``stall`` | ``continue`` (see the module doc)."""

    kind: str = "fresh"
    state: MotionState | None = None


def _stable_int(*parts: object) -> int:
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(h[:8], "big")


def _hue(h: float) -> tuple[float, float, float]:
    return tuple(255.0 * (0.5 + 0.5 * math.cos(2 * math.pi * (h - k / 3))) for k in range(3))


def fresh_movers(width: int, height: int, seed: int) -> tuple[Mover, ...]:
    """The seed's movers: spread over the frame, distinct saturated hues, random headings."""
    rng = random.Random(_stable_int("movers", seed, width, height))
    h0 = rng.random()
    out = []
    for k in range(N_MOVERS):
        r = height * rng.uniform(*RADIUS)
        speed = width * rng.uniform(*SPEED)
        ang = rng.uniform(0, 2 * math.pi)
        x = width * (k + 0.5) / N_MOVERS + rng.uniform(-0.05, 0.05) * width
        y = rng.uniform(r, height - r)
        out.append(Mover(x, y, speed * math.cos(ang), speed * math.sin(ang), r, _hue(h0 + k / N_MOVERS), 0.0))
    return tuple(out)


def _bounce(p: float, v: float, lo: float, hi: float) -> tuple[float, float]:
    """Move by ``v`` and bounce off [lo, hi]; a mover already outside (the camera moved the frame
    since) turns back toward the frame instead of jumping."""
    if hi <= lo:
        return (lo + hi) / 2, v
    q = p + v
    if q < lo and v < 0:
        return (2 * lo - q if p >= lo else q), -v
    if q > hi and v > 0:
        return (2 * hi - q if p <= hi else q), -v
    return q, v


def step(m: Mover, width: int, height: int, scale: float = 1.0) -> Mover:
    """One frame later; ``scale`` multiplies the speed for this step (a stall ramps it up)."""
    x, vx = _bounce(m.x, m.vx * scale, m.r, width - m.r)
    y, vy = _bounce(m.y, m.vy * scale, m.r, height - m.r)
    if scale:
        vx, vy = vx / scale, vy / scale
    else:
        vx, vy = m.vx, m.vy
    return replace(m, x=x, y=y, vx=vx, vy=vy)


def advance(state: MotionState, frames: int) -> MotionState:
    """``state`` ``frames`` frames later at full speed (what an extension continues from)."""
    ms = state.movers
    for _ in range(frames):
        ms = tuple(step(m, state.width, state.height) for m in ms)
    return replace(state, movers=ms)


def _smooth(t: float) -> float:
    t = min(1.0, max(0.0, t))
    return t * t * (3 - 2 * t)


def _alpha(m: Mover, x0: int, y0: int, w: int, h: int, strength: float) -> np.ndarray:
    yy, xx = np.mgrid[y0:y0 + h, x0:x0 + w].astype(np.float32)
    d = np.sqrt((xx + 0.5 - m.x) ** 2 + (yy + 0.5 - m.y) ** 2)
    edge = np.clip((m.r - d) / max(1.5, 0.12 * m.r) + 0.5, 0.0, 1.0)
    return (edge * strength)[..., None]


def _box(m: Mover, off: int, W: int, H: int) -> tuple[int, int, int, int] | None:
    x0 = max(0, int(math.floor(m.x + off - m.r - 2)))
    y0 = max(0, int(math.floor(m.y + off - m.r - 2)))
    x1 = min(W, int(math.ceil(m.x + off + m.r + 2)))
    y1 = min(H, int(math.ceil(m.y + off + m.r + 2)))
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _tint(arr: np.ndarray, m: Mover, off: int, remove: bool) -> None:
    """Tint (or un-tint) mover ``m`` into ``arr`` (float32 HxWx3, canvas coordinates)."""
    if m.amp <= 0:
        return
    H, W = arr.shape[:2]
    box = _box(m, off, W, H)
    if box is None:
        return
    x0, y0, x1, y1 = box
    shifted = replace(m, x=m.x + off, y=m.y + off)
    a = _alpha(shifted, x0, y0, x1 - x0, y1 - y0, TINT * m.amp)
    region = arr[y0:y1, x0:x1]
    col = np.asarray(m.colour, np.float32)
    if remove:
        arr[y0:y1, x0:x1] = (region - col * a) / np.maximum(1.0 - a, 1e-3)
    else:
        arr[y0:y1, x0:x1] = region * (1.0 - a) + col * a


def _rescale(state: MotionState, width: int, height: int) -> MotionState | None:
    """``state`` for a frame of another size with the same aspect (a 720p reference extended at
    480p), or None when the aspect differs (the picture was cropped: positions are unknown)."""
    if (state.width, state.height) == (width, height):
        return state
    sx, sy = width / state.width, height / state.height
    if abs(sx / sy - 1.0) > 0.02:
        return None
    return MotionState(width, height, tuple(replace(m, x=m.x * sx, y=m.y * sy, vx=m.vx * sx, vy=m.vy * sy,
                                                    r=m.r * (sx + sy) / 2) for m in state.movers))


class MotionLayer:
    """The movers of one clip: ``movers_at(i)`` and ``apply(canvas, i, visibility)``."""

    def __init__(self, width: int, height: int, n_frames: int, seed: int, start: Start | None = None,
                 *, fade_in: bool = True):
        self.W, self.H, self.n = width, height, n_frames
        start = start or Start()
        self.kind = start.kind
        st = _rescale(start.state, width, height) if start.state is not None else None
        if st is None or not st.movers:
            self.kind = "fresh"
        self.baked: tuple[Mover, ...] = ()
        if self.kind == "fresh":       # fade in over a first frame; a drawn scene has them from frame 0
            ms = tuple(replace(m, amp=0.0 if fade_in else 1.0) for m in fresh_movers(width, height, seed))
        elif self.kind == "stall":
            self.baked = st.movers
            rng = random.Random(_stable_int("stall", seed))
            ms = []
            for m in st.movers:           # the model guesses a heading; it cannot see the old one
                speed, ang = math.hypot(m.vx, m.vy), rng.uniform(0, 2 * math.pi)
                ms.append(replace(m, vx=speed * math.cos(ang), vy=speed * math.sin(ang)))
            ms = tuple(ms)
        elif self.kind == "continue":
            self.baked = st.movers
            ms = advance(st, 1).movers    # frame 0 is already one frame after the reference's end
        else:
            raise ValueError(f"unknown motion start {self.kind!r}")
        self._frames = [ms]
        self._amp0 = tuple(m.amp for m in ms)

    def movers_at(self, i: int) -> tuple[Mover, ...]:
        while len(self._frames) <= i:
            k = len(self._frames)
            scale = _smooth(k / STALL_FRAMES) if self.kind == "stall" else 1.0
            self._frames.append(tuple(step(m, self.W, self.H, scale) for m in self._frames[-1]))
        ms = self._frames[i]
        return tuple(replace(m, amp=min(1.0, a0 + i / FADE_FRAMES)) for m, a0 in zip(ms, self._amp0))

    def apply(self, canvas: np.ndarray, i: int, margin: int, visibility: float = 1.0) -> np.ndarray:
        """``canvas`` (uint8, the frame-0 picture with a ``margin`` on each side) with the baked
        movers removed and frame ``i``'s movers drawn; ``canvas`` itself when nothing changes."""
        ms = tuple(replace(m, amp=m.amp * visibility) for m in self.movers_at(i))
        where = lambda movers: [(m.x, m.y, m.r, m.colour, m.amp) for m in movers]  # noqa: E731
        if where(ms) == where(self.baked):
            return canvas                 # e.g. frame 0 of a stall: exactly the first image
        H, W = canvas.shape[:2]
        boxes = [b for m in (*self.baked, *ms) if m.amp > 0 and (b := _box(m, margin, W, H))]
        if not boxes:
            return canvas
        x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
        x1, y1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
        arr = canvas[y0:y1, x0:x1].astype(np.float32)      # only the region the movers touch
        for m in reversed(self.baked):
            _tint(arr, replace(m, x=m.x - x0, y=m.y - y0), margin, remove=True)
        for m in ms:
            _tint(arr, replace(m, x=m.x - x0, y=m.y - y0), margin, remove=False)
        out = canvas.copy()
        out[y0:y1, x0:x1] = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        return out

    def end_state(self, i: int, visibility: float, to_screen) -> MotionState:
        """Frame ``i``'s movers in that frame's screen coordinates. ``to_screen(x, y)`` maps a
        frame-0 coordinate through the camera at frame ``i``; ``zoom`` scales radius and speed."""
        out = []
        for m in self.movers_at(i):
            x, y = to_screen(m.x, m.y)
            x2, y2 = to_screen(m.x + m.vx, m.y + m.vy)
            xr, _ = to_screen(m.x + m.r, m.y)
            out.append(replace(m, x=x, y=y, vx=x2 - x, vy=y2 - y, r=abs(xr - x), amp=m.amp * visibility))
        return MotionState(self.W, self.H, tuple(out))


# ---- where states are kept ------------------------------------------------------------------------

def image_key(rgb: np.ndarray) -> str:
    """The key of a frame's exact pixels (a last frame sent back as a first frame matches it)."""
    a = np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8)[..., :3])
    return hashlib.sha256(f"{a.shape}".encode() + a.tobytes()).hexdigest()


def sidecar_for(video: str | os.PathLike) -> Path:
    """Where a clip's end state lives: next to the clip (``<task>.motion.json``)."""
    p = Path(video)
    return p.with_name(p.stem + ".motion.json")


def _write(path: Path, state: MotionState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(state.to_dict()))
    tmp.replace(path)


def save_end(data_dir: str | os.PathLike, video: str | os.PathLike, last_frame: np.ndarray,
             state: MotionState) -> None:
    """Record a clip's end state next to the clip and under its last frame's pixel hash."""
    _write(sidecar_for(video), state)
    _write(Path(data_dir) / STATE_DIR / f"{image_key(last_frame)}.json", state)


def _read(path: Path) -> MotionState | None:
    try:
        return MotionState.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def lookup_image(data_dir: str | os.PathLike, rgb: np.ndarray) -> MotionState | None:
    """The end state of the clip whose exact last frame is ``rgb``, if the emulator rendered it."""
    return _read(Path(data_dir) / STATE_DIR / f"{image_key(rgb)}.json")


def lookup_video(video: str | os.PathLike) -> MotionState | None:
    """The end state of a clip the emulator rendered (by its file), or None."""
    return _read(sidecar_for(video))
