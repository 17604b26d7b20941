"""Regenerate the small example images used by the storyboards in this folder (Pillow only).

    python storyboards/make_images.py
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent


def gradient(w: int, h: int, top: tuple, bottom: tuple) -> Image.Image:
    t = np.linspace(0.0, 1.0, h)[:, None, None]
    rows = (1 - t) * np.array(top, float) + t * np.array(bottom, float)
    return Image.fromarray(np.broadcast_to(rows, (h, w, 3)).astype(np.uint8))


def lake(w: int = 1280, h: int = 720) -> Image.Image:
    img = gradient(w, h, (250, 190, 140), (40, 70, 110))
    d = ImageDraw.Draw(img)
    d.ellipse((w * 0.42, h * 0.28, w * 0.58, h * 0.56), fill=(255, 225, 160))            # sun
    d.polygon([(0, h * 0.62), (w * 0.25, h * 0.3), (w * 0.5, h * 0.62)], fill=(70, 80, 100))
    d.polygon([(w * 0.35, h * 0.62), (w * 0.7, h * 0.22), (w, h * 0.62)], fill=(55, 65, 90))
    d.rectangle((0, h * 0.62, w, h), fill=(60, 100, 140))                               # water
    for y in range(int(h * 0.65), h, 18):
        d.line((w * 0.3, y, w * 0.7, y), fill=(230, 190, 140), width=2)                 # glints
    return img


def flower(w: int, h: int, opened: float) -> Image.Image:
    img = gradient(w, h, (150, 200, 235), (90, 150, 80))
    d = ImageDraw.Draw(img)
    cx, cy = w // 2, int(h * 0.45)
    d.line((cx, cy, cx, h), fill=(40, 110, 40), width=10)
    r = 40 + 110 * opened
    for k in range(8):
        ang = k * np.pi / 4
        px, py = cx + np.cos(ang) * r * 0.6, cy + np.sin(ang) * r * 0.6 * (0.3 + 0.7 * opened)
        d.ellipse((px - r * 0.45, py - r * 0.45, px + r * 0.45, py + r * 0.45), fill=(230, 80, 120))
    d.ellipse((cx - r * 0.25, cy - r * 0.25, cx + r * 0.25, cy + r * 0.25), fill=(250, 210, 60))
    return img


def character(w: int = 768, h: int = 1024) -> Image.Image:
    img = gradient(w, h, (235, 235, 240), (200, 205, 215))
    d = ImageDraw.Draw(img)
    d.ellipse((w * 0.3, h * 0.1, w * 0.7, h * 0.4), fill=(240, 200, 120))                # head
    d.rectangle((w * 0.25, h * 0.4, w * 0.75, h * 0.9), fill=(200, 60, 50))               # coat
    d.ellipse((w * 0.4, h * 0.2, w * 0.45, h * 0.25), fill=(30, 30, 30))
    d.ellipse((w * 0.55, h * 0.2, w * 0.6, h * 0.25), fill=(30, 30, 30))
    return img


def style(w: int = 1024, h: int = 768) -> Image.Image:
    img = gradient(w, h, (30, 20, 60), (200, 90, 40))
    d = ImageDraw.Draw(img)
    for k in range(12):
        x = (k * 97) % w
        d.line((x, 0, (x + 300) % w, h), fill=(250, 200, 80), width=6)
    return img


def main() -> None:
    lake().save(HERE / "images" / "lake.jpg", quality=80)
    flower(1024, 768, 0.0).save(HERE / "images" / "bud.jpg", quality=80)
    flower(1024, 768, 1.0).save(HERE / "images" / "bloom.jpg", quality=80)
    character().save(HERE / "refs" / "character.jpg", quality=80)
    style().save(HERE / "refs" / "style.png", optimize=True)


if __name__ == "__main__":
    main()
