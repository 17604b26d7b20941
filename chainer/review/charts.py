"""Two small charts drawn with Pillow (no matplotlib): colour drift and the render time line.

Both return PNG bytes, ready to inline into report.html as ``data:`` URIs.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

BG = (255, 255, 255)
INK = (34, 34, 34)
GRID = (228, 228, 228)
MUTED = (120, 120, 120)
BEFORE = (222, 110, 30)
AFTER = (31, 110, 190)
QUEUED = (200, 200, 200)
RUNNING = (66, 133, 244)
DOWNLOAD = (52, 168, 83)
CRITICAL = (214, 39, 40)

_FONT_PATHS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
               "/usr/share/fonts/TTF/DejaVuSans.ttf", "/Library/Fonts/Arial.ttf",
               "C:/Windows/Fonts/arial.ttf")


@lru_cache(maxsize=16)
def font(size: int = 13, bold: bool = False) -> ImageFont.ImageFont:
    """DejaVu Sans when the system has it, Pillow's bundled font otherwise."""
    for p in _FONT_PATHS:
        if bold:
            p = p.replace("DejaVuSans.ttf", "DejaVuSans-Bold.ttf").replace("Arial.ttf", "Arial Bold.ttf")
        if Path(p).exists():
            try:
                return ImageFont.truetype(p, size)
            except OSError:
                continue
    return ImageFont.load_default(size=size)


def text_size(draw: ImageDraw.ImageDraw, text: str, f) -> tuple[int, int]:
    l, t, r, b = draw.textbbox((0, 0), text, font=f)
    return r - l, b - t


def nice_step(span: float, target: int = 8) -> float:
    if span <= 0:
        return 1.0
    raw = span / target
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _fmt_num(v: float, step: float) -> str:
    return f"{v:.0f}" if step >= 1 else f"{v:.1f}" if step >= 0.1 else f"{v:.2f}"


def _fmt_time(s: float) -> str:
    s = int(round(s))
    return f"{s // 60}:{s % 60:02d}" if s >= 60 else f"{s}s"


@dataclass
class DriftPoint:
    shot_id: str
    sequence: object
    first: float
    last: float
    first_after: float | None = None
    last_after: float | None = None


def drift_chart(points: list[DriftPoint], *, width: int = 960, height: int = 360,
                jnd: float = 2.3, warn: float = 5.0) -> bytes:
    """Drift against each sequence's reference along the timeline: shot i spans x in [i, i+1],
    from its first frame's drift to its last frame's. Orange: as rendered; blue: after match."""
    img = Image.new("RGB", (width, height), BG)
    d = ImageDraw.Draw(img)
    f, fs, fb = font(13), font(11), font(14, bold=True)
    n = max(1, len(points))
    label_w = max([text_size(d, p.shot_id, fs)[0] for p in points] or [10])
    left, right, top = 58, 20, 34
    bottom = 26 + min(label_w, 120) + 6
    pw, ph = width - left - right, height - top - bottom
    values = [v for p in points for v in (p.first, p.last, p.first_after, p.last_after)
              if v is not None and math.isfinite(v)]
    ymax = max(values + [warn * 1.2])
    step = nice_step(ymax, 6)
    ymax = math.ceil(ymax / step) * step

    def X(x: float) -> float:
        return left + pw * x / n

    def Y(y: float) -> float:
        return top + ph * (1 - y / ymax)

    d.text((left, 8), "Colour drift vs. the first frame of each sequence (ΔE, Lab)", font=fb, fill=INK)
    y = 0.0
    while y <= ymax + 1e-9:
        d.line([(left, Y(y)), (left + pw, Y(y))], fill=GRID)
        t = _fmt_num(y, step)
        tw, th = text_size(d, t, fs)
        d.text((left - 6 - tw, Y(y) - th / 2 - 2), t, font=fs, fill=MUTED)
        y += step
    for level, label in ((jnd, "just noticeable"), (warn, "clearly visible")):
        if level < ymax:
            for x0 in range(left, left + pw, 8):
                d.line([(x0, Y(level)), (min(x0 + 4, left + pw), Y(level))], fill=MUTED)
            d.text((left + pw - text_size(d, label, fs)[0] - 2, Y(level) - 15), label, font=fs,
                   fill=MUTED)
    # sequence bands
    prev_seq = object()
    for i, p in enumerate(points):
        if p.sequence != prev_seq and i:
            d.line([(X(i), top), (X(i), top + ph)], fill=(170, 170, 170), width=1)
        prev_seq = p.sequence
    for attr_first, attr_last, colour in (("first", "last", BEFORE),
                                          ("first_after", "last_after", AFTER)):
        for i, p in enumerate(points):
            a, b = getattr(p, attr_first), getattr(p, attr_last)
            if a is None or b is None:
                continue
            d.line([(X(i) + 2, Y(a)), (X(i + 1) - 2, Y(b))], fill=colour, width=3)
            for xx, vv in ((X(i) + 2, a), (X(i + 1) - 2, b)):
                d.ellipse([xx - 3, Y(vv) - 3, xx + 3, Y(vv) + 3], fill=colour)
    d.rectangle([left, top, left + pw, top + ph], outline=(160, 160, 160))
    # x labels, rotated when they do not fit
    slot = pw / n
    for i, p in enumerate(points):
        tw, th = text_size(d, p.shot_id, fs)
        cx = X(i + 0.5)
        if tw + 4 <= slot:
            d.text((cx - tw / 2, top + ph + 6), p.shot_id, font=fs, fill=INK)
        else:
            label = p.shot_id if len(p.shot_id) <= 18 else p.shot_id[:17] + "…"
            tw, th = text_size(d, label, fs)
            tile = Image.new("RGBA", (tw + 4, th + 6), (255, 255, 255, 0))
            ImageDraw.Draw(tile).text((2, 0), label, font=fs, fill=INK)
            tile = tile.rotate(90, expand=True)
            img.paste(tile, (int(cx - tile.width / 2), top + ph + 6), tile)
    # legend
    lx = left + 8
    legend = [("as rendered", BEFORE)]
    if any(p.last_after is not None for p in points):
        legend.append(("after match", AFTER))
    for label, colour in legend:
        d.line([(lx, top + 12), (lx + 22, top + 12)], fill=colour, width=3)
        d.text((lx + 28, top + 4), label, font=f, fill=INK)
        lx += 40 + text_size(d, label, f)[0]
    return png_bytes(img)


@dataclass
class TaskSpan:
    shot_id: str
    sequence: object
    submitted: float | None
    running: float | None
    succeeded: float | None
    downloaded: float | None
    critical: bool = False


def timeline_chart(spans: list[TaskSpan], *, width: int = 960, row: int = 18) -> bytes:
    """Gantt chart of the render: per task queued (grey), running (blue), downloading (green).
    Tasks on the critical path (the chain that decided the wall time) are outlined in red."""
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    fs, f, fb = font(11), font(12), font(14, bold=True)
    label_w = min(180, max([text_size(probe, s.shot_id, f)[0] for s in spans] or [40]) + 12)
    left, right, top = label_w + 8, 20, 56
    times = [t for s in spans for t in (s.submitted, s.running, s.succeeded, s.downloaded)
             if t is not None]
    n = max(1, len(spans))
    height = top + n * row + 40
    img = Image.new("RGB", (width, height), BG)
    d = ImageDraw.Draw(img)
    d.text((8, 8), "Render time line", font=fb, fill=INK)
    t0 = min(times) if times else 0.0
    t1 = max(times) if times else 1.0
    span = max(t1 - t0, 1e-6)
    step = nice_step(span, 8)
    pw = width - left - right

    def X(t: float) -> float:
        return left + pw * (t - t0) / span

    x = 0.0
    while x <= span + 1e-9:
        d.line([(X(t0 + x), top - 4), (X(t0 + x), top + n * row)], fill=GRID)
        lab = _fmt_time(x) if step >= 1 else f"{x:.1f}s"
        tw, _ = text_size(d, lab, fs)
        d.text((X(t0 + x) - tw / 2, top + n * row + 4), lab, font=fs, fill=MUTED)
        x += step
    lx = 8
    for label, colour in (("queued", QUEUED), ("running", RUNNING), ("downloading", DOWNLOAD),
                          ("critical path", CRITICAL)):
        if colour == CRITICAL:
            d.rectangle([lx, 34, lx + 14, 44], outline=CRITICAL, width=2)
        else:
            d.rectangle([lx, 34, lx + 14, 44], fill=colour)
        d.text((lx + 18, 31), label, font=f, fill=INK)
        lx += 30 + text_size(d, label, f)[0]
    for i, s in enumerate(spans):
        y0 = top + i * row + 3
        y1 = y0 + row - 6
        name = s.shot_id if text_size(d, s.shot_id, f)[0] <= label_w - 8 else s.shot_id[:14] + "…"
        d.text((8, y0 - 2), name, font=f, fill=CRITICAL if s.critical else INK)
        segs = ((s.submitted, s.running, QUEUED), (s.running, s.succeeded, RUNNING),
                (s.succeeded, s.downloaded, DOWNLOAD))
        drawn = []
        for a, b, colour in segs:
            if a is None or b is None or b < a:
                continue
            d.rectangle([X(a), y0, max(X(b), X(a) + 1), y1], fill=colour)
            drawn += [a, b]
        if s.critical and drawn:
            d.rectangle([X(min(drawn)) - 2, y0 - 2, X(max(drawn)) + 2, y1 + 2], outline=CRITICAL,
                        width=2)
    d.text((width - right - 150, 8), f"wall time {_fmt_time(span)}", font=f, fill=INK)
    return png_bytes(img)
