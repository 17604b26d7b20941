"""chapters.txt: one line per shot in the YouTube description format ("0:00 Title").

The MP4's own chapter atoms are written by the stitch engine; this is the same list as text, to
paste into a video description. Starts come from the assembled timeline (the frame each shot's
segment starts at), the first line is always 0:00, timestamps are whole seconds (floored), H:MM:SS
once the video reaches an hour.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from ..timeline import Timeline


def format_timestamp(seconds: float, *, hours: bool = False) -> str:
    s = max(0, int(seconds + 1e-6))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if hours or h else f"{m}:{sec:02d}"


def _clean(title: str) -> str:
    return re.sub(r"\s+", " ", title).strip() or "untitled"


def chapter_lines(timeline: Timeline) -> list[str]:
    hours = timeline.duration >= 3600
    lines, last = [], -1
    for t, _end, title in timeline.chapters():
        t = float(t)
        stamp = format_timestamp(t, hours=hours)
        if int(t) == last and lines:
            # two chapters in the same second cannot be told apart: keep the first title and
            # append this one (YouTube also rejects chapters closer than that)
            lines[-1] += f" / {_clean(title)}"
            continue
        lines.append(f"{stamp} {_clean(title)}")
        last = int(t)
    return lines


def youtube_caveats(timeline: Timeline) -> list[str]:
    """Why YouTube would ignore these chapters (it wants >= 3, each >= 10 s), if it would."""
    notes = []
    if len(timeline.entries) < 3:
        notes.append("YouTube shows chapters only when there are at least 3")
    short = [title for a, b, title in timeline.chapters() if b - a < 10]
    if short:
        notes.append(f"YouTube ignores chapter lists with chapters under 10 s ({len(short)} here)")
    return notes


def write_chapters(timeline: Timeline, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.write_text("\n".join(chapter_lines(timeline)) + "\n", encoding="utf-8")
    return path
