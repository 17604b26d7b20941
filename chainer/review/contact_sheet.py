"""The seam contact sheet: every cut of the assembled timeline at a glance.

One cell per seam: the last kept frame of shot N beside the first kept frame of shot N+1 (exactly
the two pictures the viewer sees either side of the cut), labelled with the shot ids and a seam
score: PSNR and SSIM between the two, next to the PSNR between neighbouring frames *inside* the
shots. A chained seam is as good as the motion around it; the drop (in-shot PSNR − seam PSNR) is
what a viewer perceives as a jump, and it decides the cell's colour. Below the seams, a strip of
per-shot thumbnails (the middle kept frame). Many shots wrap into pages: contact-sheet.png,
contact-sheet-2.png, ...
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .charts import CRITICAL, INK, MUTED, font, text_size
from .colour import psnr, ssim
from .frames import read_frames
from .timeline import Entry, Timeline

GOOD, FAIR, BAD, NEUTRAL = (52, 168, 83), (240, 160, 0), (214, 39, 40), (150, 150, 150)
PSNR_CAP = 99.0   # identical frames (PSNR = inf) are reported as this


@dataclass
class Seam:
    index: int
    out_shot: str
    in_shot: str
    kind: str                      # "chained" | "cut" | "crossfade" | "fade"
    at: float                      # seconds into the output (first frame of the incoming shot)
    psnr: float | None
    ssim: float | None
    in_shot_psnr: float | None     # lower PSNR of the neighbouring frame pairs inside the shots
    frames: tuple[int, int] = (0, 0)   # (last kept frame of N, first kept frame of N+1) in their files

    @property
    def jump_db(self) -> float | None:
        if self.psnr is None or self.in_shot_psnr is None:
            return None
        return max(0.0, self.in_shot_psnr - self.psnr)

    @property
    def verdict(self) -> str:
        if self.kind != "chained":
            return "cut"
        j = self.jump_db
        if j is None:
            return "unknown"
        return "seamless" if j <= 3.0 else "visible" if j <= 8.0 else "jump"

    def to_dict(self) -> dict:
        r = lambda v, k=2: None if v is None else round(v, k)  # noqa: E731
        return {"index": self.index, "from": self.out_shot, "to": self.in_shot, "kind": self.kind,
                "at": round(self.at, 3), "psnr_db": r(self.psnr), "ssim": r(self.ssim, 4),
                "in_shot_psnr_db": r(self.in_shot_psnr), "jump_db": r(self.jump_db),
                "verdict": self.verdict, "frames": list(self.frames)}


def _cap(v: float) -> float:
    return PSNR_CAP if not math.isfinite(v) else min(v, PSNR_CAP)


def collect_frames(timeline: Timeline) -> dict[str, dict[str, np.ndarray]]:
    """Per entry, in one decode pass each: first/second kept, second-last/last kept, middle."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for e in timeline.entries:
        if not e.path.exists() or e.kept <= 0:
            out[e.shot_id] = {}
            continue
        want = {"first": e.first_kept, "first2": min(e.first_kept + 1, e.last_kept),
                "last_prev": max(e.last_kept - 1, e.first_kept), "last": e.last_kept,
                "mid": e.head + e.kept // 2}
        try:
            got = read_frames(e.path, list(want.values()))
        except Exception:  # noqa: BLE001 - an unreadable file shows as "missing" on the sheet
            got = {}
        out[e.shot_id] = {k: got[i] for k, i in want.items() if i in got}
    return out


def measure_seams(timeline: Timeline, frames: dict[str, dict[str, np.ndarray]]) -> list[Seam]:
    seams = []
    for i, (a, b) in enumerate(timeline.seams()):
        fa, fb = frames.get(a.shot_id, {}), frames.get(b.shot_id, {})
        kind = ("crossfade" if b.overlap > 0 else
                "fade" if b.transition_in.startswith("fade") else
                "chained" if b.chained else "cut")
        p = s = inner = None
        if "last" in fa and "first" in fb and fa["last"].shape == fb["first"].shape:
            p, s = _cap(psnr(fa["last"], fb["first"])), ssim(fa["last"], fb["first"])
            pairs = [(fa.get("last_prev"), fa["last"]), (fb["first"], fb.get("first2"))]
            vals = [_cap(psnr(x, y)) for x, y in pairs
                    if x is not None and y is not None and x is not y]
            # the faster of the two neighbouring motions is what the cut is judged against: a
            # shot that starts from rest must not make a normal-speed seam look like a jump
            inner = float(min(vals)) if vals else None
        seams.append(Seam(i, a.shot_id, b.shot_id, kind, b.start / float(timeline.fps), p, s, inner,
                          (a.last_kept, b.first_kept)))
    return seams


def _colour(seam: Seam) -> tuple[int, int, int]:
    return {"seamless": GOOD, "visible": FAIR, "jump": BAD}.get(seam.verdict, NEUTRAL)


def _thumb(frame: np.ndarray | None, size: tuple[int, int]) -> Image.Image:
    if frame is None:
        im = Image.new("RGB", size, (60, 60, 60))
        d = ImageDraw.Draw(im)
        d.text((8, size[1] // 2 - 8), "missing", font=font(14), fill=(230, 230, 230))
        return im
    return Image.fromarray(frame).resize(size, Image.LANCZOS)


def _fit(d: ImageDraw.ImageDraw, text: str, f, width: int) -> str:
    if text_size(d, text, f)[0] <= width:
        return text
    while text and text_size(d, text + "…", f)[0] > width:
        text = text[:-1]
    return text + "…"


def page_count(n_seams: int, seams_per_page: int) -> int:
    return max(1, math.ceil(n_seams / seams_per_page))


def render_contact_sheet(timeline: Timeline, seams: list[Seam],
                         frames: dict[str, dict[str, np.ndarray]], out_dir: str | os.PathLike, *,
                         title: str = "", thumb_width: int = 280, columns: int = 3,
                         seams_per_page: int = 12, strip_width: int = 150) -> list[Path]:
    """Write contact-sheet.png (+ -2, -3, ...) into ``out_dir``; returns the paths in order.

    Each page holds up to ``seams_per_page`` seams (``columns`` per row) and the thumbnails of the
    shots those seams join (all shots on a single page when there is no seam)."""
    out_dir = Path(out_dir)
    entries = timeline.entries
    aspect = 9 / 16
    for fr in frames.values():
        if "first" in fr:
            aspect = fr["first"].shape[0] / fr["first"].shape[1]
            break
    tw, th = thumb_width, max(2, int(round(thumb_width * aspect)))
    sw, sh = strip_width, max(2, int(round(strip_width * aspect)))
    gap, margin = 6, 16
    cell_w, cell_h = 2 * tw + gap, th + 44
    page_w = margin * 2 + columns * cell_w + (columns - 1) * 2 * margin
    f, fs, fb, ft = font(14), font(12), font(14, bold=True), font(20, bold=True)
    n_pages = page_count(len(seams), seams_per_page)
    per_row = max(1, (page_w - 2 * margin + gap) // (sw + gap))
    paths: list[Path] = []
    for page in range(n_pages):
        chunk = seams[page * seams_per_page:(page + 1) * seams_per_page]
        if chunk:
            ids = {s.out_shot for s in chunk} | {s.in_shot for s in chunk}
            strip = [e for e in entries if e.shot_id in ids]
        else:
            strip = list(entries)
        seam_rows = math.ceil(len(chunk) / columns)
        strip_rows = math.ceil(len(strip) / per_row) if strip else 0
        header_h = 58
        page_h = (header_h + seam_rows * (cell_h + margin) + (32 if strip else 0)
                  + strip_rows * (sh + 26) + margin)
        img = Image.new("RGB", (page_w, page_h), (250, 250, 250))
        d = ImageDraw.Draw(img)
        head = f"{title} · seams" if title else "Seams"
        d.text((margin, 12), head, font=ft, fill=INK)
        info = (f"page {page + 1}/{n_pages} · {len(seams)} seams, {len(entries)} shots · "
                f"{timeline.duration:.2f} s at {float(timeline.fps):g} fps · left: last frame of "
                f"shot N, right: first frame of shot N+1 · colour: jump vs in-shot motion "
                f"(green ≤ 3 dB, amber ≤ 8 dB, red worse, grey: intended cut)")
        d.text((margin, 38), _fit(d, info, fs, page_w - 2 * margin), font=fs, fill=MUTED)
        for k, seam in enumerate(chunk):
            r, c = divmod(k, columns)
            x0 = margin + c * (cell_w + 2 * margin)
            y0 = header_h + r * (cell_h + margin)
            colour = _colour(seam)
            d.rectangle([x0 - 4, y0 - 4, x0 + cell_w + 3, y0 + cell_h - 2], outline=colour, width=3)
            label = f"#{seam.index + 1}  {seam.out_shot} → {seam.in_shot}  ({seam.kind}, {seam.at:.2f}s)"
            d.text((x0, y0), _fit(d, label, fb, cell_w), font=fb, fill=INK)
            if seam.psnr is not None:
                score = f"PSNR {seam.psnr:.1f} dB · SSIM {seam.ssim:.3f}"
                if seam.in_shot_psnr is not None:
                    score += f" · in-shot {seam.in_shot_psnr:.1f} dB · {seam.verdict}"
            else:
                score = "no score (frames missing or sizes differ)"
            d.text((x0, y0 + 19), _fit(d, score, fs, cell_w), font=fs,
                   fill=colour if colour != NEUTRAL else MUTED)
            img.paste(_thumb(frames.get(seam.out_shot, {}).get("last"), (tw, th)), (x0, y0 + 38))
            img.paste(_thumb(frames.get(seam.in_shot, {}).get("first"), (tw, th)),
                      (x0 + tw + gap, y0 + 38))
        if strip:
            y = header_h + seam_rows * (cell_h + margin) + 4
            d.text((margin, y), "Shots (middle frame)", font=fb, fill=INK)
            y += 24
            for k, e in enumerate(strip):
                r, c = divmod(k, per_row)
                x0 = margin + c * (sw + gap)
                y0 = y + r * (sh + 26)
                img.paste(_thumb(frames.get(e.shot_id, {}).get("mid"), (sw, sh)), (x0, y0))
                cap = f"{entries.index(e) + 1}. {e.shot_id}"
                d.text((x0, y0 + sh + 3), _fit(d, cap, fs, sw), font=fs,
                       fill=CRITICAL if not frames.get(e.shot_id) else INK)
        name = "contact-sheet.png" if page == 0 else f"contact-sheet-{page + 1}.png"
        path = out_dir / name
        img.save(path, optimize=True)
        paths.append(path)
    # remove pages left over from an earlier, longer run
    k = n_pages + 1
    while (out_dir / f"contact-sheet-{k}.png").exists():
        (out_dir / f"contact-sheet-{k}.png").unlink()
        k += 1
    return paths
