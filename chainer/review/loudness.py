"""The final audio's loudness over time, beside the shots: a PNG for report.html.

Input: ``ffmpeg.loudness_curve(film)`` (momentary and short-term LUFS every 100 ms) and the one
timeline (shot boundaries and titles). Short-term loudness is the line, momentary the light band
behind it, the loudness target a dashed line; each shot's span is labelled along the top.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Sequence

from PIL import Image, ImageDraw

from .charts import BG, GRID, INK, MUTED, font, png_bytes, text_size

FLOOR = -60.0          # LUFS at the bottom of the chart (quieter is drawn at the floor)
TOP = 0.0
SHORT = (31, 110, 190)
MOMENTARY = (190, 214, 240)
TARGET = (214, 39, 40)
SHOT_BANDS = ((247, 247, 247), (255, 255, 255))


def loudness_chart(curve: Sequence[tuple[float, float, float]], timeline, *,
                   target: float | None = -16.0, width: int = 960, height: int = 240) -> bytes:
    """PNG bytes. ``curve``: (t, momentary, short-term); ``timeline``: a ``Timeline``."""
    img = Image.new("RGB", (width, height), BG)
    d = ImageDraw.Draw(img)
    f = font(11)
    left, right, top, bottom = 44, 10, 22, 20
    pw, ph = width - left - right, height - top - bottom
    fps = Fraction(timeline.fps)
    dur = float(Fraction(timeline.frames) / fps) if timeline.frames else \
        (curve[-1][0] if curve else 1.0)
    dur = max(dur, 1e-6)

    def x(t: float) -> int:
        return left + int(round(min(max(t, 0.0), dur) / dur * (pw - 1)))

    def y(lufs: float) -> int:
        v = min(max(lufs, FLOOR), TOP)
        return top + int(round((TOP - v) / (TOP - FLOOR) * (ph - 1)))

    # shots: alternating bands, a boundary line and the title where it fits
    entries = list(timeline.entries)
    for i, e in enumerate(entries):
        a = float(Fraction(e.start) / fps)
        b = float(Fraction(entries[i + 1].start) / fps) if i + 1 < len(entries) else dur
        d.rectangle([x(a), top, x(b), top + ph - 1], fill=SHOT_BANDS[i % 2])
        if i:
            d.line([x(a), top - 4, x(a), top + ph - 1], fill=MUTED)
        label = str(e.title or e.shot_id)
        tw, _ = text_size(d, label, f)
        if tw < x(b) - x(a) - 4:
            d.text((x(a) + 3, 4), label, fill=INK, font=f)
    # grid
    for lufs in range(int(TOP), int(FLOOR) - 1, -10):
        d.line([left, y(lufs), left + pw - 1, y(lufs)], fill=GRID)
        label = f"{lufs}"
        tw, th = text_size(d, label, f)
        d.text((left - tw - 6, y(lufs) - th // 2 - 1), label, fill=MUTED, font=f)
    d.text((4, height - 16), "LUFS", fill=MUTED, font=f)
    # momentary band, short-term line
    prev_x = left
    for t, mom, _ in curve:          # each value covers the 100 ms up to its time
        if mom > FLOOR:
            d.rectangle([min(prev_x + 1, x(t)), y(mom), x(t), y(FLOOR)], fill=MOMENTARY)
        prev_x = x(t)
    pts = [(x(t), y(s)) for t, _, s in curve]
    if len(pts) > 1:
        d.line(pts, fill=SHORT, width=2)
    if target is not None:
        ty = y(target)
        for sx in range(left, left + pw, 8):
            d.line([sx, ty, min(sx + 4, left + pw - 1), ty], fill=TARGET)
    d.rectangle([left, top, left + pw - 1, top + ph - 1], outline=MUTED)
    return png_bytes(img)
