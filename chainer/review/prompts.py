"""The prompt sheet (``prompts.md``): per shot a thumbnail, the prompt, the model, the parameters
sent, the seed the provider used and what it cost, to share with collaborators.

Built from what the product writes: ``summary.json`` (per shot: model, prompt, params, seed, cost,
task id) and, when there is one, the timeline (the clip each shot uses in the film, and which of
its frames the film begins with, for the thumbnail). Every path is relative to the run directory,
so the sheet reads the same wherever the run directory is moved.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from ..media import ffmpeg as ff

PROMPTS_FILE = "prompts.md"
THUMBS_DIR = "thumbs"
THUMB_WIDTH = 320

_PARAM_ORDER = ("resolution", "ratio", "duration", "camera_fixed", "generate_audio", "watermark",
                "service_tier", "return_last_frame")


def _cell(value: Any) -> str:
    """Text safe inside a Markdown table cell (one line, pipes and HTML escaped)."""
    text = " ".join(str(value).split())
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")


def _fence(text: str) -> str:
    """A fenced block longer than any backtick run in ``text`` (a prompt cannot end it)."""
    run = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, run + 1)
    return f"{fence}text\n{text.rstrip()}\n{fence}"


def _money(value, currency: str) -> str:
    return "?" if value is None else f"{value:.2f} {currency}".strip()


def _params(params: dict | None) -> str:
    if not params:
        return ""
    keys = [k for k in _PARAM_ORDER if k in params] + sorted(k for k in params
                                                            if k not in _PARAM_ORDER and k != "seed")
    parts = []
    for k in keys:
        v = params[k]
        if v is None:
            continue
        if k == "duration":
            v = f"{v} s"
        elif isinstance(v, bool):
            v = "yes" if v else "no"
        parts.append(f"{k.replace('_', ' ')} {v}")
    return ", ".join(parts)


def _thumbnail(run_dir: Path, shot: dict, entry) -> str | None:
    """``thumbs/<id>.png``: the first frame the film shows of the shot (the clip's first frame when
    there is no timeline), 320 px wide; made once, kept while newer than its clip."""
    clip_rel = getattr(entry, "clip", None) or shot.get("clip")
    if not clip_rel:
        return None
    clip = Path(clip_rel) if Path(clip_rel).is_absolute() else run_dir / clip_rel
    if not clip.exists():
        return None
    rel = f"{THUMBS_DIR}/{shot['id']}.png"
    out = run_dir / rel
    try:
        if not out.exists() or out.stat().st_mtime < clip.stat().st_mtime:
            out.parent.mkdir(exist_ok=True)
            ff.thumbnail_png(clip, out, frame_index=int(getattr(entry, "head", 0) or 0),
                             width=THUMB_WIDTH)
    except (OSError, ff.FFmpegError):
        return None
    return rel


def prompt_sheet(run_dir: str | os.PathLike, summary: dict, timeline=None, *,
                 thumbnails: bool = True) -> str:
    """The sheet's Markdown text (thumbnails are written into ``run_dir/thumbs/`` on the way)."""
    run_dir = Path(run_dir)
    entries = {e.shot_id: e for e in getattr(timeline, "entries", ())} if timeline else {}
    totals = summary.get("totals") or {}
    cur = totals.get("currency") or next((s.get("cost", {}).get("currency") for s in
                                          summary.get("shots", []) if s.get("cost")), "") or ""
    lines = [f"# {summary.get('title') or 'Prompt sheet'}: prompts", ""]
    meta = [f"provider {summary.get('provider')}" if summary.get("provider") else None,
            f"{len(summary.get('shots', []))} shots",
            f"spent {_money(totals.get('cost_actual'), cur)} "
            f"(estimated {_money(totals.get('cost_estimated'), cur)})" if totals else None,
            f"film `{summary['output']}`" if summary.get("output") else None]
    lines += [" · ".join(m for m in meta if m), ""]
    for n, shot in enumerate(summary.get("shots", []), start=1):
        sid = str(shot.get("id"))
        title = _cell(shot.get("name") or sid)
        seq = shot.get("sequence")
        seq_txt = f" · sequence {seq + 1}" if isinstance(seq, int) else ""
        lines += [f"## {n}. {title}{seq_txt}", ""]
        thumb = _thumbnail(run_dir, shot, entries.get(sid)) if thumbnails else None
        if thumb:
            lines += [f"![{_cell(sid)}]({thumb})", ""]
        cost = shot.get("cost") or {}
        tokens = shot.get("tokens") or {}
        rows = [("shot id", sid), ("model", shot.get("model")), ("mode", shot.get("mode")),
                ("parameters", _params(shot.get("params"))),
                ("seed", shot.get("seed")),
                ("cost", f"{_money(cost.get('actual'), cost.get('currency') or cur)} "
                         f"(estimated {_money(cost.get('estimated'), cost.get('currency') or cur)})"),
                ("tokens", tokens.get("actual") if tokens.get("actual") is not None else None),
                ("task", shot.get("task_id")), ("status", shot.get("status")),
                ("chained from", shot.get("chained_from"))]
        lines += ["| | |", "|---|---|"]
        lines += [f"| {k} | {_cell(v)} |" for k, v in rows if v not in (None, "")]
        lines += ["", _fence(str(shot.get("prompt") or "")), ""]
    return "\n".join(lines).rstrip() + "\n"


def write_prompt_sheet(run_dir: str | os.PathLike, summary: dict, timeline=None, *,
                       thumbnails: bool = True) -> Path:
    """Write ``run_dir/prompts.md`` (atomically) and return its path."""
    run_dir = Path(run_dir)
    text = prompt_sheet(run_dir, summary, timeline, thumbnails=thumbnails)
    path = run_dir / PROMPTS_FILE
    tmp = path.with_name(f".{PROMPTS_FILE}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
