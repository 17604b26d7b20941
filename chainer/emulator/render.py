"""Procedural, deterministic clip renderer for the emulator.

A clip is a camera move over a canvas plus moving detail, so it is never a still:

- i2v: the canvas is the first-frame image (center-cropped and resized to the output size) with a
  reflected margin around it, so frame 0 is exactly the image and pans/pull-backs reveal plausible
  surroundings. With a last-frame image the clip cross-fades into a reverse camera move over that
  image and its final frame is exactly the last image.
- t2v: the canvas is drawn with Pillow from the prompt words and the seed (sky, sun/moon, hills,
  water, trees...), bigger than the frame.

Per frame the work is one Pillow affine resample of the canvas plus an overlay of soft particles:
about 15 ms per 480p frame. Frames go to :func:`chainer.media.ffmpeg.encode_video` (x264 High,
yuv420p, default GOP, B-frames, bitexact; 10-bit HEVC Main10 where Ark delivers that: 2.5 1080p,
2.0 4k), audio (pad chord + ambience, constant level) is AAC
48 kHz mono. Same inputs and seed give byte-identical files.
"""
from __future__ import annotations

import hashlib
import math
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ..media import ffmpeg
from . import motion as _motion

FPS = 24
SAMPLE_RATE = 48000


@dataclass
class RenderSpec:
    """Everything the renderer needs; built by the task layer from a validated request."""

    width: int
    height: int
    n_frames: int
    prompt: str = ""
    seed: int = 0
    first_image: Image.Image | None = None      # already cropped/resized to (width, height)
    last_image: Image.Image | None = None       # idem
    reference_images: list[Image.Image] = field(default_factory=list)  # raw, any size
    camera_fixed: bool = False
    generate_audio: bool = False
    watermark: bool = False
    drift: float = 0.0
    preset: str = "medium"
    threads: int = 2
    codec: str = "h264"              # "hevc10": 10-bit HEVC like Ark's 2.5 1080p / 2.0 4k
    motion: "_motion.Start | None" = None     # how the movers start (None: fresh); see motion.py


@dataclass
class RenderResult:
    video: Path
    last_frame_png: Path
    frames: int
    width: int
    height: int
    audio: bool
    motion_end: "_motion.MotionState | None" = None   # the movers at the last frame (screen coords)


# ---- image preparation (ark-api.md section 3 cropping rule) -----------------------------------

def crop_to_aspect(img: Image.Image, width: int, height: int) -> Image.Image:
    """Center-crop ``img`` to the aspect of ``width x height`` and resize it to exactly that size.

    ark-api.md s3: if W/H < A/B keep the full width and crop the height, else keep the full height
    and crop the width, centered. UNCONFIRMED detail: we crop to the aspect of the *output pixel
    size* (e.g. 864x496) rather than the nominal A:B, so an image that already has the output size
    (a previous clip's last frame) is used untouched instead of being stretched by a few pixels.
    """
    img = img.convert("RGB")
    w, h = img.size
    if (w, h) == (width, height):
        return img.copy()
    target = width / height
    if abs(w / h - target) > 1e-9:
        if w / h < target:
            ch = max(1, round(w / target))
            top = (h - ch) // 2
            img = img.crop((0, top, w, top + ch))
        else:
            cw = max(1, round(h * target))
            left = (w - cw) // 2
            img = img.crop((left, 0, left + cw, h))
    return img.resize((width, height), Image.LANCZOS)


# ---- prompt analysis ---------------------------------------------------------------------------

_PALETTES: list[tuple[tuple[str, ...], dict]] = [
    (("night", "moon", "star", "midnight", "dark"),
     dict(sky=((8, 12, 40), (40, 50, 110)), ground=(20, 30, 45), sun=(235, 235, 210), accent=(200, 210, 255))),
    (("sunset", "dusk", "evening", "golden"),
     dict(sky=((250, 140, 60), (120, 60, 120)), ground=(70, 40, 50), sun=(255, 200, 90), accent=(255, 220, 150))),
    (("sunrise", "dawn", "morning"),
     dict(sky=((255, 190, 140), (120, 170, 230)), ground=(70, 100, 70), sun=(255, 230, 160), accent=(255, 250, 220))),
    (("forest", "jungle", "tree", "woods", "garden", "meadow", "grass"),
     dict(sky=((150, 200, 230), (200, 230, 240)), ground=(40, 110, 50), sun=(255, 250, 210), accent=(230, 255, 190))),
    (("ocean", "sea", "lake", "river", "water", "beach", "wave"),
     dict(sky=((120, 180, 240), (220, 235, 250)), ground=(30, 100, 170), sun=(255, 250, 220), accent=(240, 250, 255))),
    (("desert", "sand", "dune"),
     dict(sky=((150, 200, 250), (240, 220, 180)), ground=(210, 170, 110), sun=(255, 245, 200), accent=(255, 230, 180))),
    (("snow", "winter", "ice", "glacier"),
     dict(sky=((190, 210, 235), (240, 245, 250)), ground=(230, 235, 245), sun=(255, 255, 240), accent=(255, 255, 255))),
    (("fire", "volcano", "lava", "explosion"),
     dict(sky=((60, 20, 20), (200, 70, 20)), ground=(40, 20, 15), sun=(255, 160, 40), accent=(255, 200, 80))),
    (("city", "street", "building", "neon", "urban"),
     dict(sky=((60, 70, 100), (150, 150, 170)), ground=(70, 70, 80), sun=(255, 230, 180), accent=(255, 80, 200))),
]
_DEFAULT_PALETTE = dict(sky=((110, 160, 220), (210, 225, 240)), ground=(90, 120, 80), sun=(255, 240, 200),
                        accent=(250, 250, 230))


def _words(prompt: str) -> list[str]:
    return re.findall(r"[a-z]+", prompt.lower())


def _palette(prompt: str) -> dict:
    words = set(_words(prompt))
    for keys, pal in _PALETTES:
        if any(w in words or w + "s" in words for w in keys):
            return pal
    return _DEFAULT_PALETTE


def _stable_int(*parts: object) -> int:
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(h[:8], "big")


@dataclass(frozen=True)
class CameraMove:
    """Camera state at progress 1.0 relative to frame 0: zoom factor, translation (fractions of
    the frame size, canvas moves opposite to the camera), rotation (radians); ``orbit`` adds a
    sinusoidal sway."""

    zoom: float = 1.0
    dx: float = 0.0
    dy: float = 0.0
    rot: float = 0.0
    name: str = "static"


def camera_from_prompt(prompt: str, camera_fixed: bool, seed: int) -> CameraMove:
    """Pick the camera move from camera words in the prompt (first match wins)."""
    p = " ".join(_words(prompt))
    if camera_fixed or re.search(r"\b(static|fixed|locked|still) (camera|shot)\b|\bcamera (is )?(static|fixed|locked)\b"
                                 r"|\btripod\b|\bfixed camera\b|镜头固定|固定镜头", p + " " + prompt):
        return CameraMove(name="static")
    table = [
        (r"\b(dolly|push|zoom|move|moves|pushes|dollies) in\b|\bpush-in\b|\bdolly forward\b|推进|推镜头",
         CameraMove(zoom=1.3, name="push_in")),
        (r"\b(pull|pulls|dolly|zoom|zooms) (back|out)\b|\bpullback\b|拉远|后拉",
         CameraMove(zoom=0.8, name="pull_back")),
        (r"\bpan(s|ning)? left\b|左摇|向左", CameraMove(dx=-0.18, name="pan_left")),
        (r"\bpan(s|ning)? right\b|右摇|向右", CameraMove(dx=0.18, name="pan_right")),
        (r"\btilt(s|ing)? up\b|上摇", CameraMove(dy=-0.16, name="tilt_up")),
        (r"\btilt(s|ing)? down\b|下摇", CameraMove(dy=0.16, name="tilt_down")),
        (r"\bcrane(s|ing)? up\b|\bcrane shot\b|\brise(s)?\b|升镜", CameraMove(dy=-0.14, zoom=0.9, name="crane_up")),
        (r"\bcrane(s|ing)? down\b|降镜", CameraMove(dy=0.14, zoom=1.1, name="crane_down")),
        (r"\borbit(s|ing)?\b|\barc shot\b|\bcircl(e|es|ing) around\b|环绕", CameraMove(dx=0.16, rot=0.05, name="orbit")),
        (r"\bpan(s|ning)?\b", CameraMove(dx=0.15, name="pan_right")),
        (r"\btilt(s|ing)?\b", CameraMove(dy=-0.12, name="tilt_up")),
        (r"\bzoom(s|ing)?\b|\bdolly\b|\btracking\b", CameraMove(zoom=1.2, name="push_in")),
    ]
    for pattern, move in table:
        if re.search(pattern, p) or re.search(pattern, prompt):
            return move
    # No camera words: a gentle seeded drift, like a handheld/slow push.
    rng = random.Random(_stable_int("cam", seed))
    return CameraMove(zoom=1.0 + rng.uniform(0.04, 0.1), dx=rng.uniform(-0.04, 0.04),
                      dy=rng.uniform(-0.03, 0.03), name="gentle")


# ---- t2v scene ---------------------------------------------------------------------------------

def _lerp(a, b, t):
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))


def draw_scene(prompt: str, seed: int, width: int, height: int) -> Image.Image:
    """Draw a ``width x height`` scene from the prompt's words and the seed."""
    rng = random.Random(_stable_int("scene", seed, prompt))
    pal = _palette(prompt)
    words = set(_words(prompt))
    top, bottom = pal["sky"]
    grad = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    sky = (np.array(top, np.float32) * (1 - grad) + np.array(bottom, np.float32) * grad)
    arr = np.repeat(sky[:, None, :], width, axis=1).reshape(height, width, 3)
    img = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    d = ImageDraw.Draw(img)
    s = min(width, height)
    horizon = int(height * rng.uniform(0.55, 0.7))
    # sun / moon
    r = int(s * rng.uniform(0.05, 0.09))
    cx, cy = int(width * rng.uniform(0.2, 0.8)), int(horizon * rng.uniform(0.25, 0.6))
    for k in range(4, 0, -1):   # glow
        glow = _lerp(pal["sun"], bottom, 1 - 0.18 * k)
        rr = r + k * r // 2
        d.ellipse((cx - rr, cy - rr, cx + rr, cy + rr), fill=glow)
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=pal["sun"])
    # clouds
    for _ in range(rng.randint(3, 7)):
        x, y = rng.uniform(0, width), rng.uniform(0, horizon * 0.6)
        for _ in range(4):
            w, h = rng.uniform(0.05, 0.12) * width, rng.uniform(0.02, 0.05) * height
            ox, oy = rng.uniform(-w, w), rng.uniform(-h, h) * 0.5
            d.ellipse((x + ox - w, y + oy - h, x + ox + w, y + oy + h),
                      fill=_lerp(pal["accent"], bottom, rng.uniform(0.2, 0.5)))
    # hills (layered polygons, far to near)
    ground = pal["ground"]
    for layer in range(3):
        base = horizon + layer * (height - horizon) // 5
        col = _lerp(ground, bottom, 0.45 - 0.2 * layer)
        pts = [(0, height)]
        n = 12
        phase = rng.uniform(0, 2 * math.pi)
        amp = height * rng.uniform(0.03, 0.08)
        for i in range(n + 1):
            x = width * i / n
            y = base - amp * (1 + math.sin(phase + i * rng.uniform(0.5, 1.2)))
            pts.append((x, y))
        pts.append((width, height))
        d.polygon(pts, fill=col)
    # water band
    if words & {"ocean", "sea", "lake", "river", "water", "beach", "wave", "waves"}:
        wy = horizon + (height - horizon) // 3
        d.rectangle((0, wy, width, height), fill=_lerp(pal["ground"], top, 0.3))
        for i in range(40):
            y = rng.uniform(wy, height)
            x = rng.uniform(0, width)
            d.line((x, y, x + rng.uniform(10, 60) * s / 500, y), fill=pal["accent"], width=max(1, s // 300))
    # trees / buildings as silhouettes
    if words & {"forest", "tree", "trees", "woods", "jungle", "garden", "park"}:
        for _ in range(rng.randint(8, 18)):
            x = rng.uniform(0, width)
            y = rng.uniform(horizon, height)
            h = s * rng.uniform(0.08, 0.2) * (y / height)
            col = _lerp(ground, (10, 30, 10), rng.uniform(0.3, 0.7))
            d.polygon([(x, y - h), (x - h * 0.35, y), (x + h * 0.35, y)], fill=col)
    if words & {"city", "street", "building", "buildings", "neon", "urban", "skyline"}:
        x = 0.0
        while x < width:
            w = rng.uniform(0.03, 0.08) * width
            h = rng.uniform(0.15, 0.4) * height
            col = _lerp(ground, (20, 20, 30), rng.uniform(0.2, 0.6))
            d.rectangle((x, horizon - h, x + w, height), fill=col)
            for _ in range(int(w * h / 900)):
                wx, wy = rng.uniform(x + 2, x + w - 4), rng.uniform(horizon - h + 2, height - 4)
                d.rectangle((wx, wy, wx + 3, wy + 4), fill=pal["accent"])
            x += w + rng.uniform(0, 0.02) * width
    # a subject: some bright shape in the lower third, coloured by the seed
    hue = rng.random()
    subj = tuple(int(255 * (0.5 + 0.5 * math.sin(2 * math.pi * (hue + k / 3)))) for k in range(3))
    sx, sy = width * rng.uniform(0.3, 0.7), height * rng.uniform(0.7, 0.85)
    sr = s * rng.uniform(0.04, 0.07)
    d.ellipse((sx - sr, sy - sr * 1.6, sx + sr, sy + sr * 0.4), fill=subj)
    d.ellipse((sx - sr * 0.6, sy - sr * 2.6, sx + sr * 0.6, sy - sr * 1.4), fill=_lerp(subj, (255, 255, 255), 0.3))
    # texture so the encoder (and motion estimation) sees real detail
    noise = np.random.default_rng(_stable_int("grain", seed) % (2 ** 32)).normal(0, 4.0, (height, width, 1))
    out = np.asarray(img, np.float32) + noise
    return Image.fromarray(out.clip(0, 255).astype(np.uint8)).filter(ImageFilter.SMOOTH)


# ---- frames ------------------------------------------------------------------------------------

def _smooth(t: float) -> float:
    t = min(1.0, max(0.0, t))
    return t * t * (3 - 2 * t)


def _affine(W: int, H: int, M: int, zoom: float, dx: float, dy: float, rot: float) -> tuple:
    """Coefficients mapping output pixel (x, y) to canvas coordinates for Pillow's AFFINE."""
    c, s = math.cos(rot) / zoom, math.sin(rot) / zoom
    cx, cy = W / 2, H / 2
    # input = R/zoom * (out - center) + center + margin + shift
    a, b = c, -s
    d, e = s, c
    tx = cx + M + dx - (a * cx + b * cy)
    ty = cy + M + dy - (d * cx + e * cy)
    return (a, b, tx, d, e, ty)


def _to_screen(W: int, H: int, M: int, zoom: float, dx: float, dy: float, rot: float):
    """Inverse of :func:`_affine`: a frame-0 point -> where the camera shows it."""
    a, b, tx, d, e, ty = _affine(W, H, M, zoom, dx, dy, rot)
    det = a * e - b * d

    def f(x: float, y: float) -> tuple[float, float]:
        X, Y = x + M - tx, y + M - ty
        return (e * X - b * Y) / det, (a * Y - d * X) / det
    return f


def _cam_at(cam: CameraMove, t: float, W: int, H: int, seed: int) -> tuple[float, float, float, float]:
    """(zoom, dx_px, dy_px, rot) at progress t in [0, 1]; identity at t = 0."""
    zoom = cam.zoom ** t
    dx = cam.dx * W * t
    dy = cam.dy * H * t
    rot = cam.rot * math.sin(math.pi * t) if cam.name == "orbit" else cam.rot * t
    if cam.name == "orbit":
        dy += 0.03 * H * math.sin(2 * math.pi * t)
    return zoom, dx, dy, rot


def _canvas(image: Image.Image, margin: int) -> Image.Image:
    arr = np.asarray(image.convert("RGB"))
    padded = np.pad(arr, ((margin, margin), (margin, margin), (0, 0)), mode="reflect")
    return Image.fromarray(padded)


def _drift(arr: np.ndarray, amount: float) -> np.ndarray:
    """Contrast up by ``amount`` and a warm colour shift: what chained generation tends to do."""
    if amount == 0:
        return arr
    f = arr.astype(np.float32)
    mean = f.mean(axis=(0, 1), keepdims=True)
    f = mean + (f - mean) * (1.0 + amount) + np.array([40.0, 10.0, -30.0], np.float32) * amount
    return f.clip(0, 255).round().astype(np.uint8)


def _watermark(img: Image.Image) -> Image.Image:
    img = img.copy()
    d = ImageDraw.Draw(img)
    W, H = img.size
    text = "AI generated"
    box = d.textbbox((0, 0), text)
    tw, th = box[2] - box[0], box[3] - box[1]
    x, y = W - tw - 12, H - th - 12
    d.rectangle((x - 4, y - 4, x + tw + 4, y + th + 4), fill=(0, 0, 0))
    d.text((x, y), text, fill=(255, 255, 255))
    return img


def iter_frames(spec: RenderSpec, motion_out: list | None = None):
    """Yield (index, PIL frame before watermark) for the whole clip. ``motion_out`` (a list) gets
    the movers' state at the last frame appended (see :mod:`chainer.emulator.motion`)."""
    W, H, n = spec.width, spec.height, spec.n_frames
    cam = camera_from_prompt(spec.prompt, spec.camera_fixed, spec.seed)
    margin = int(math.ceil(0.32 * max(W, H)))
    if spec.first_image is not None:
        base = spec.first_image
    elif spec.reference_images:
        # Reference mode: the scene is the first reference image (crop to frame), tinted by the
        # others so every reference influences the clip.
        base = crop_to_aspect(spec.reference_images[0], W, H)
        for k, ref in enumerate(spec.reference_images[1:4], start=1):
            small = crop_to_aspect(ref, W // 3, H // 3)
            base.paste(small, ((k - 1) * (W // 3), H - H // 3))
    else:
        base = None
    if base is not None:
        canvas = _canvas(base, margin)
    else:
        canvas = draw_scene(spec.prompt, spec.seed, W + 2 * margin, H + 2 * margin)
    last_canvas = _canvas(spec.last_image, margin) if spec.last_image is not None else None
    layer = _motion.MotionLayer(W, H, n, spec.seed, spec.motion, fade_in=spec.first_image is not None)
    canvas_arr = np.asarray(canvas)
    denom = max(1, n - 1)
    for i in range(n):
        t = i / denom
        zoom, dx, dy, rot = _cam_at(cam, t, W, H, spec.seed)
        # movers fade out as a last image blends in, so the clip still lands exactly on it
        visibility = 1.0 - _smooth((t - 0.25) / 0.75) if last_canvas is not None else 1.0
        moved = layer.apply(canvas_arr, i, margin, visibility)
        src = canvas if moved is canvas_arr else Image.fromarray(moved)
        if i == 0:
            frame = src.crop((margin, margin, margin + W, margin + H))
        else:
            frame = src.transform((W, H), Image.AFFINE, _affine(W, H, margin, zoom, dx, dy, rot),
                                  resample=Image.BILINEAR)
        if i == n - 1 and motion_out is not None:
            motion_out.append(layer.end_state(i, visibility, _to_screen(W, H, margin, zoom, dx, dy, rot)))
        blend = 0.0
        if last_canvas is not None:
            # Reverse move over the last image that lands exactly on it at t = 1.
            blend = _smooth((t - 0.25) / 0.75)
            if blend > 0:
                if i == n - 1:
                    other = last_canvas.crop((margin, margin, margin + W, margin + H))
                else:
                    z2, dx2, dy2, r2 = _cam_at(cam, 1.0 - t, W, H, spec.seed + 1)
                    other = last_canvas.transform((W, H), Image.AFFINE,
                                                  _affine(W, H, margin, 1 / z2, -dx2, -dy2, -r2),
                                                  resample=Image.BILINEAR)
                frame = Image.blend(frame, other, blend) if blend < 1 else other
        if spec.drift:
            frame = Image.fromarray(_drift(np.asarray(frame), spec.drift * t * (1.0 - blend)))
        yield i, frame


# ---- audio -------------------------------------------------------------------------------------

_MAJOR = (0, 4, 7, 11, 14)
_MINOR = (0, 3, 7, 10, 14)


def render_audio(prompt: str, seed: int, n_samples: int, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A pad chord plus filtered-noise ambience at constant level (about -20 dBFS RMS), mono."""
    words = set(_words(prompt))
    rng = np.random.default_rng(_stable_int("audio", seed, prompt) % (2 ** 32))
    minor = bool(words & {"night", "dark", "sad", "rain", "storm", "lonely", "cold", "winter", "fog"})
    root = 110.0 * 2 ** (int(rng.integers(0, 12)) / 12)
    t = np.arange(n_samples, dtype=np.float64) / sample_rate
    pad = np.zeros(n_samples)
    for k, semi in enumerate(_MINOR if minor else _MAJOR):
        f = root * 2 ** (semi / 12)
        # one oscillator per chord tone (detuned pairs would beat and dip in level) with a faint
        # second harmonic for warmth and a slow vibrato so it is not a test tone
        ph = rng.uniform(0, 2 * np.pi)
        vib = 0.002 * f / 0.2 * np.sin(2 * np.pi * 0.2 * t + rng.uniform(0, 6.28))
        amp = 0.8 if k < 3 else 0.4
        pad += amp * (np.sin(2 * np.pi * f * t + vib + ph) + 0.2 * np.sin(4 * np.pi * f * t + 2 * vib + ph))
    pad *= 1.0 + 0.06 * np.sin(2 * np.pi * 0.25 * t + rng.uniform(0, 6.28))   # slow breathing
    # ambience: noise shaped in the frequency domain (wind/water: low-passed; city: band-passed)
    noise = rng.normal(0, 1, n_samples)
    spec = np.fft.rfft(noise)
    freqs = np.fft.rfftfreq(n_samples, 1 / sample_rate)
    if words & {"city", "street", "traffic", "urban"}:
        shape = np.exp(-((np.log(freqs + 1) - np.log(600)) ** 2) / 1.0)
    elif words & {"ocean", "sea", "wave", "waves", "beach", "rain", "water", "river"}:
        shape = 1.0 / (1 + (freqs / 900.0) ** 2)
    else:
        shape = 1.0 / (1 + (freqs / 300.0) ** 2)
    amb = np.fft.irfft(spec * shape, n_samples)
    pad /= np.sqrt(np.mean(pad ** 2)) + 1e-12
    amb /= np.sqrt(np.mean(amb ** 2)) + 1e-12
    mix = 0.085 * pad + 0.035 * amb
    return mix.astype(np.float32)


# ---- the whole clip ----------------------------------------------------------------------------

def render_clip(spec: RenderSpec, video_path: str | Path, png_path: str | Path) -> RenderResult:
    """Render ``spec`` to an MP4 and write the exact last frame (before encoding) as PNG."""
    video_path, png_path = Path(video_path), Path(png_path)
    last: list[Image.Image] = []
    motion_end: list = []

    def frames():
        for i, frame in iter_frames(spec, motion_end):
            if i == spec.n_frames - 1:
                last.append(frame)
            yield np.asarray(_watermark(frame) if spec.watermark else frame)

    audio = None
    if spec.generate_audio:
        n_samples = int(round(spec.n_frames * SAMPLE_RATE / FPS))
        audio = render_audio(spec.prompt, spec.seed, n_samples)
    tmp_video = video_path.with_name(video_path.name + ".part.mp4")
    ffmpeg.encode_video(tmp_video, frames(), width=spec.width, height=spec.height, fps=FPS,
                        audio=audio, sample_rate=SAMPLE_RATE, crf=18, preset=spec.preset,
                        threads=spec.threads, audio_bitrate="96k", codec=spec.codec)
    tmp_png = png_path.with_name(png_path.name + ".part.png")
    # PNG without metadata/time stamps: deterministic bytes. ark-api.md s2: the last frame has no
    # watermark, so it is the frame before the watermark is drawn.
    last[0].save(tmp_png, format="PNG", optimize=False, compress_level=6)
    tmp_video.replace(video_path)
    tmp_png.replace(png_path)
    if motion_end:      # so a later request sending this last frame or this clip continues from it
        _motion.save_end(png_path.parent, video_path, np.asarray(last[0]), motion_end[0])
    return RenderResult(video=video_path, last_frame_png=png_path, frames=spec.n_frames,
                        width=spec.width, height=spec.height, audio=audio is not None,
                        motion_end=motion_end[0] if motion_end else None)
