"""MP4 chapters through an ffmetadata file (one chapter per segment)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence


def _escape(text: str) -> str:
    out = []
    for ch in text:
        if ch in "=;#\\\n":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def ffmetadata(chapters: Sequence[tuple[float, float, str]], *, title: str | None = None) -> str:
    """``chapters``: (start s, end s, title). Times are written in milliseconds."""
    lines = [";FFMETADATA1"]
    if title:
        lines.append(f"title={_escape(title)}")
    for start, end, name in chapters:
        s, e = int(round(start * 1000)), int(round(end * 1000))
        if e <= s:
            continue
        lines += ["[CHAPTER]", "TIMEBASE=1/1000", f"START={s}", f"END={e}", f"title={_escape(name)}"]
    return "\n".join(lines) + "\n"


def write_ffmetadata(path: str | Path, chapters: Sequence[tuple[float, float, str]],
                     *, title: str | None = None) -> Path:
    path = Path(path)
    path.write_text(ffmetadata(chapters, title=title), encoding="utf-8")
    return path
