"""The seam contact sheet: every cut of the assembled timeline at a glance.

One cell per seam: the last kept frame of shot N beside the first kept frame of shot N+1 (exactly
the two pictures the viewer sees either side of the cut), labelled with the shot ids and a seam
score: PSNR and SSIM between the two, next to the PSNR between neighbouring frames *inside* the
shots. A chained seam is as good as the motion around it; the drop (in-shot PSNR − seam PSNR) is
what a viewer perceives as a jump, and it decides the cell's colour. Below the seams, a strip of
per-shot thumbnails (the middle kept frame). Many shots wrap into pages: contact-sheet.png,
contact-sheet-2.png, ...

Scores are computed on frames at most ``frames.ANALYSIS_WIDTH`` (960) px wide: full resolution up
to 960 px (480p is scored as it is), area-scaled by ffmpeg above that (720p, 1080p, 4k), so the
memory and time per seam do not grow with the source resolution. :class:`ContactSheet` writes
the pages while a review streams through the clips.
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
from ..timeline import Entry, Timeline

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
            return self.kind           # an intended cut, crossfade or fade: not scored as a jump
        j = self.jump_db
        if j is None:
            return "unknown"
        return "seamless" if j <= 3.0 else "visible" if j <= 8.0 else "jump"

    def to_dict(self) -> dict:
        r = lambda v, k=2: None if v is None else round(v, k)  # noqa: E731
        return {"index": self.index + 1, "from": self.out_shot, "to": self.in_shot, "kind": self.kind,
                "at": round(self.at, 3), "psnr_db": r(self.psnr), "ssim": r(self.ssim, 4),
                "in_shot_psnr_db": r(self.in_shot_psnr), "jump_db": r(self.jump_db),
                "verdict": self.verdict, "frames": list(self.frames)}


def _cap(v: float) -> float:
    return PSNR_CAP if not math.isfinite(v) else min(v, PSNR_CAP)


SEAM_KEYS = ("first", "first2", "last_prev", "last")   # the frames a seam score reads


def wanted_frames(e: Entry) -> dict[str, int]:
    """Which frames of an entry's file the review reads: first/second kept, second-last/last
    kept (seam scores), and the middle kept frame (the shot's thumbnail)."""
    return {"first": e.first_kept, "first2": min(e.first_kept + 1, e.last_kept),
            "last_prev": max(e.last_kept - 1, e.first_kept), "last": e.last_kept,
            "mid": (e.first_kept + e.last_kept) // 2}


def seam_kind(b: Entry) -> str:
    return b.seam_kind


def _common_size(fa: dict[str, np.ndarray], fb: dict[str, np.ndarray]):
    """Both sides' frames at one size (the smaller side's), so clips of different sizes (a cut
    between 16:9 and 9:16 shots, or a conformed clip) are scored too."""
    a, b = fa["last"], fb["first"]
    if a.shape == b.shape:
        return fa, fb
    w = min(a.shape[1], b.shape[1])
    h = min(a.shape[0], b.shape[0])

    def scaled(frames):
        return {k: (v if v.shape[:2] == (h, w) else
                    np.asarray(Image.fromarray(v).resize((w, h), Image.BILINEAR)))
                for k, v in frames.items() if v is not None}
    return scaled(fa), scaled(fb)


def measure_seam(index: int, a: Entry, b: Entry, fa: dict[str, np.ndarray],
                 fb: dict[str, np.ndarray], fps) -> Seam:
    """The seam between entries ``a`` and ``b`` from their frames (see :func:`wanted_frames`)."""
    p = s = inner = None
    if "last" in fa and "first" in fb:
        fa, fb = _common_size(fa, fb)
        p, s = _cap(psnr(fa["last"], fb["first"])), ssim(fa["last"], fb["first"])
        pairs = [(fa.get("last_prev"), fa["last"]), (fb["first"], fb.get("first2"))]
        vals = [_cap(psnr(x, y)) for x, y in pairs
                if x is not None and y is not None and x is not y]
        # the faster of the two neighbouring motions is what the cut is judged against: a
        # shot that starts from rest must not make a normal-speed seam look like a jump
        inner = float(min(vals)) if vals else None
    return Seam(index, a.shot_id, b.shot_id, seam_kind(b), b.start / float(fps), p, s, inner,
                (a.last_kept, b.first_kept))


def _colour(seam: Seam) -> tuple[int, int, int]:
    return {"seamless": GOOD, "visible": FAIR, "jump": BAD}.get(seam.verdict, NEUTRAL)


def _thumb(frame, size: tuple[int, int]) -> Image.Image:
    if frame is None:
        im = Image.new("RGB", size, (60, 60, 60))
        d = ImageDraw.Draw(im)
        d.text((8, size[1] // 2 - 8), "missing", font=font(14), fill=(230, 230, 230))
        return im
    if isinstance(frame, Image.Image):
        return frame if frame.size == size else frame.resize(size, Image.LANCZOS)
    return Image.fromarray(frame).resize(size, Image.LANCZOS)


def _fit(d: ImageDraw.ImageDraw, text: str, f, width: int) -> str:
    if text_size(d, text, f)[0] <= width:
        return text
    while text and text_size(d, text + "…", f)[0] > width:
        text = text[:-1]
    return text + "…"


def page_count(n_seams: int, seams_per_page: int) -> int:
    return max(1, math.ceil(n_seams / seams_per_page))


class ContactSheet:
    """The contact sheet written page by page while a review streams through the clips.

    Feed it in timeline order: :meth:`add_entry` with an entry's frames (only thumbnails at the
    size the sheet draws are kept), :meth:`add_seam` as each seam is scored. A page is drawn and
    saved as soon as its seams and shots are in, and the thumbnails no later page shows are
    dropped, so memory holds one page, not the run. :meth:`close` writes what is left (a run
    without seams: one page of shots) and removes pages left over from an earlier, longer run.
    """

    def __init__(self, timeline: Timeline, out_dir: str | os.PathLike, *, n_seams: int | None = None,
                 title: str = "", thumb_width: int = 280, columns: int = 3,
                 seams_per_page: int = 12, strip_width: int = 150):
        self.timeline, self.out_dir, self.title = timeline, Path(out_dir), title
        self.entries = timeline.entries
        self.n_seams = len(timeline.seams()) if n_seams is None else n_seams
        self.thumb_width, self.strip_width, self.columns = thumb_width, strip_width, columns
        self.per_page = max(1, seams_per_page)
        self.n_pages = page_count(self.n_seams, self.per_page)
        self.aspect: float | None = None
        self.thumbs: dict[str, dict[str, Image.Image]] = {}
        self.decoded: set[str] = set()        # shot ids that had any frame
        self.seams: list[Seam] = []           # scored, not yet drawn
        self.added: set[str] = set()          # shot ids added
        self.page = 0
        self.paths: list[Path] = []

    # layout (the aspect of the first shot with a first frame, 16:9 before/without one)
    def _sizes(self) -> tuple[tuple[int, int], tuple[int, int]]:
        aspect = self.aspect if self.aspect is not None else 9 / 16
        return ((self.thumb_width, max(2, int(round(self.thumb_width * aspect)))),
                (self.strip_width, max(2, int(round(self.strip_width * aspect)))))

    def add_entry(self, shot_id: str, frames: dict[str, np.ndarray]) -> None:
        if self.aspect is None and frames.get("first") is not None:
            self.aspect = frames["first"].shape[0] / frames["first"].shape[1]
        cell, strip = self._sizes()
        keep = {}
        for key, size in (("last", cell), ("first", cell), ("mid", strip)):
            if frames.get(key) is not None:
                keep[key] = _thumb(frames[key], size)
        self.thumbs[shot_id] = keep
        if frames:
            self.decoded.add(shot_id)
        self.added.add(shot_id)
        self._flush()

    def add_seam(self, seam: Seam) -> None:
        self.seams.append(seam)
        self._flush()

    def _chunk_ready(self) -> bool:
        start = self.page * self.per_page
        need = min(self.per_page, self.n_seams - start)
        if need <= 0 or len(self.seams) < need:
            return False
        chunk = self.seams[:need]
        return all(s.out_shot in self.added and s.in_shot in self.added for s in chunk)

    def _flush(self) -> None:
        while self.page < self.n_pages and self._chunk_ready():
            start = self.page * self.per_page
            need = min(self.per_page, self.n_seams - start)
            chunk, self.seams = self.seams[:need], self.seams[need:]
            ids = {s.out_shot for s in chunk} | {s.in_shot for s in chunk}
            self._draw([e for e in self.entries if e.shot_id in ids], chunk)
            later = {s.out_shot for s in self.seams} | {s.in_shot for s in self.seams}
            nxt = start + need                  # the next page's first seam starts at this entry
            if nxt < len(self.entries):
                later.add(self.entries[nxt].shot_id)
            for sid in list(self.thumbs):
                if sid in ids and sid not in later:
                    del self.thumbs[sid]

    def close(self) -> list[Path]:
        if self.page < self.n_pages:
            if self.n_seams == 0:
                self._draw(list(self.entries), [])
            else:                               # seams never scored: draw what there is
                while self.page < self.n_pages:
                    chunk, self.seams = self.seams[:self.per_page], self.seams[self.per_page:]
                    ids = {s.out_shot for s in chunk} | {s.in_shot for s in chunk}
                    self._draw([e for e in self.entries if e.shot_id in ids], chunk)
        k = self.n_pages + 1
        while (self.out_dir / f"contact-sheet-{k}.png").exists():
            (self.out_dir / f"contact-sheet-{k}.png").unlink()
            k += 1
        return list(self.paths)

    def _draw(self, strip: list[Entry], chunk: list[Seam]) -> None:
        page, n_pages, entries, columns = self.page, self.n_pages, self.entries, self.columns
        (tw, th), (sw, sh) = self._sizes()
        gap, margin = 6, 16
        cell_w, cell_h = 2 * tw + gap, th + 44
        page_w = margin * 2 + columns * cell_w + (columns - 1) * 2 * margin
        fs, fb, ft = font(12), font(14, bold=True), font(20, bold=True)
        per_row = max(1, (page_w - 2 * margin + gap) // (sw + gap))
        seam_rows = math.ceil(len(chunk) / columns)
        strip_rows = math.ceil(len(strip) / per_row) if strip else 0
        header_h = 58
        page_h = (header_h + seam_rows * (cell_h + margin) + (32 if strip else 0)
                  + strip_rows * (sh + 26) + margin)
        img = Image.new("RGB", (page_w, page_h), (250, 250, 250))
        d = ImageDraw.Draw(img)
        head = f"{self.title} · seams" if self.title else "Seams"
        d.text((margin, 12), head, font=ft, fill=INK)
        tl = self.timeline
        info = (f"page {page + 1}/{n_pages} · {self.n_seams} seams, {len(entries)} shots · "
                f"{float(tl.duration):.2f} s at {float(tl.fps):g} fps · left: last frame of "
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
                score = "no score (frames missing)"
            d.text((x0, y0 + 19), _fit(d, score, fs, cell_w), font=fs,
                   fill=colour if colour != NEUTRAL else MUTED)
            img.paste(_thumb(self.thumbs.get(seam.out_shot, {}).get("last"), (tw, th)), (x0, y0 + 38))
            img.paste(_thumb(self.thumbs.get(seam.in_shot, {}).get("first"), (tw, th)),
                      (x0 + tw + gap, y0 + 38))
        if strip:
            y = header_h + seam_rows * (cell_h + margin) + 4
            d.text((margin, y), "Shots (middle frame)", font=fb, fill=INK)
            y += 24
            for k, e in enumerate(strip):
                r, c = divmod(k, per_row)
                x0 = margin + c * (sw + gap)
                y0 = y + r * (sh + 26)
                img.paste(_thumb(self.thumbs.get(e.shot_id, {}).get("mid"), (sw, sh)), (x0, y0))
                cap = f"{entries.index(e) + 1}. {e.shot_id}"
                d.text((x0, y0 + sh + 3), _fit(d, cap, fs, sw), font=fs,
                       fill=CRITICAL if e.shot_id not in self.decoded else INK)
        name = "contact-sheet.png" if page == 0 else f"contact-sheet-{page + 1}.png"
        path = self.out_dir / name
        img.save(path, compress_level=6)   # optimize=True: 3x the time for 4 % smaller
        img.close()
        self.paths.append(path)
        self.page += 1


def render_contact_sheet(timeline: Timeline, seams: list[Seam],
                         frames: dict[str, dict[str, np.ndarray]], out_dir: str | os.PathLike, *,
                         title: str = "", thumb_width: int = 280, columns: int = 3,
                         seams_per_page: int = 12, strip_width: int = 150) -> list[Path]:
    """Write contact-sheet.png (+ -2, -3, ...) into ``out_dir``; returns the paths in order.

    Each page holds up to ``seams_per_page`` seams (``columns`` per row) and the thumbnails of the
    shots those seams join (all shots on a single page when there is no seam)."""
    sheet = ContactSheet(timeline, out_dir, n_seams=len(seams), title=title,
                         thumb_width=thumb_width, columns=columns, seams_per_page=seams_per_page,
                         strip_width=strip_width)
    for e in timeline.entries:
        sheet.add_entry(e.shot_id, frames.get(e.shot_id, {}))
    for s in seams:
        sheet.add_seam(s)
    return sheet.close()
