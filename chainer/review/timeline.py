"""The assembled timeline as review/ sees it: one entry per shot, in integer frames.

Built from ``summary["stitch"]`` (``StitchResult.to_dict()``): which file each shot came from,
which frames of it were kept (head/tail trims), where they start in the output and how the shot is
entered (cut, crossfade, fade). Without stitch information (a run whose assembly failed) the
downloaded clips are laid end to end, untrimmed. Everything downstream (contact sheet seams,
chapters, the OTIO export) reads this one normalised view instead of re-deriving it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

DEFAULT_FPS = Fraction(24)


@dataclass
class Entry:
    shot_id: str
    title: str
    path: Path                 # the file the assembly read (may be a drift-matched copy)
    clip: Path | None          # the downloaded clip (the original)
    frames_in: int             # frames in ``path``
    head: int                  # frames trimmed from the head of ``path``
    kept: int                  # frames of ``path`` in the output
    start: int                 # first output frame
    transition_in: str         # "cut" | "crossfade:SEC" | "fade:SEC"
    overlap: int = 0           # output frames shared with the previous entry (crossfade)
    chained: bool = False      # first frame continues the previous shot's last frame
    sequence: int | None = None
    shot: dict = field(default_factory=dict, repr=False)

    @property
    def end(self) -> int:
        """One past the last output frame."""
        return self.start + self.kept

    @property
    def first_kept(self) -> int:
        return self.head

    @property
    def last_kept(self) -> int:
        return self.head + self.kept - 1


@dataclass
class Timeline:
    entries: list[Entry]
    fps: Fraction
    frames: int                # output video frames
    output: Path | None

    @property
    def duration(self) -> float:
        return self.frames / float(self.fps)

    def seams(self) -> list[tuple[Entry, Entry]]:
        return list(zip(self.entries, self.entries[1:]))


def _resolve(run_dir: Path, p) -> Path | None:
    if not p:
        return None
    p = Path(p)
    return p if p.is_absolute() else run_dir / p


def _frames_of(path: Path | None) -> int | None:
    if path is None or not path.exists():
        return None
    from ..media.probe import count_frames

    try:
        return count_frames(path)
    except Exception:  # noqa: BLE001 - an unreadable clip is reported elsewhere
        return None


def _trim_frames(value, fps: Fraction, *, frames_mode: bool) -> int:
    if value is None:
        return 0
    if frames_mode or isinstance(value, int):
        return int(round(value))
    return int(round(float(value) * float(fps)))


def _overlap_of(transition: str | None, fps: Fraction) -> int:
    t = (transition or "cut").strip()
    if t.startswith("crossfade:"):
        try:
            return int(round(float(t.split(":", 1)[1]) * float(fps)))
        except ValueError:
            return 0
    return 0


def shot_title(shot: dict) -> str:
    name = (shot.get("name") or "").strip()
    return name or str(shot.get("id", "?"))


def build_timeline(run_dir: str | os.PathLike, summary: dict) -> Timeline:
    """Normalise the summary's stitch segments (or the bare clips) into a :class:`Timeline`."""
    run_dir = Path(run_dir)
    shots = {str(s.get("id")): s for s in summary.get("shots", [])}
    stitch = summary.get("stitch") or {}
    fps = DEFAULT_FPS
    if stitch.get("fps"):
        fps = Fraction(str(stitch["fps"])).limit_denominator(1001)
    output = _resolve(run_dir, stitch.get("output") or summary.get("output"))
    if output is not None and not output.exists():
        alt = run_dir / Path(str(summary.get("output") or "")).name
        output = alt if summary.get("output") and alt.exists() else output
    entries: list[Entry] = []
    segments = stitch.get("segments") or []
    if segments:
        for i, seg in enumerate(segments):
            sid = str(seg.get("shot_id"))
            shot = shots.get(sid, {})
            path = _resolve(run_dir, seg.get("path")) or _resolve(run_dir, shot.get("clip"))
            frames_in = seg.get("frames_in")
            kept = seg.get("frames_kept")
            head_raw, tail_raw = seg.get("head_trim"), seg.get("tail_trim")
            if frames_in is None:
                frames_in = _frames_of(path) or int(shot.get("frames") or 0)
            # trims are frames when they account for frames_in - frames_kept, else seconds
            frames_mode = isinstance(head_raw, int) or (
                kept is not None and head_raw is not None and tail_raw is not None
                and abs((frames_in - kept) - (head_raw + tail_raw)) < 1e-6)
            head = _trim_frames(head_raw, fps, frames_mode=frames_mode)
            tail = _trim_frames(tail_raw, fps, frames_mode=frames_mode)
            if kept is None:
                kept = max(0, int(frames_in) - head - tail)
            transition = seg.get("transition_in") or "cut"
            if seg.get("start") is not None:
                start = int(round(float(seg["start"]) * float(fps)))
            elif entries:
                start = entries[-1].end - _overlap_of(transition, fps)
            else:
                start = 0
            entries.append(Entry(
                shot_id=sid, title=seg.get("title") or shot_title(shot or {"id": sid}),
                path=path or Path(sid), clip=_resolve(run_dir, shot.get("clip")),
                frames_in=int(frames_in), head=head, kept=int(kept), start=start,
                transition_in=transition, chained=bool(seg.get("chained", shot.get("chained_from"))),
                sequence=shot.get("sequence"), shot=shot))
        frames = stitch.get("frames")
    else:
        pos = 0
        for shot in summary.get("shots", []):
            clip = _resolve(run_dir, shot.get("clip"))
            if clip is None or not clip.exists():
                continue
            n = _frames_of(clip) or int(shot.get("frames") or 0)
            entries.append(Entry(
                shot_id=str(shot.get("id")), title=shot_title(shot), path=clip, clip=clip,
                frames_in=n, head=0, kept=n, start=pos, transition_in="cut",
                chained=bool(shot.get("chained_from")), sequence=shot.get("sequence"), shot=shot))
            pos += n
        frames = None
    for prev, cur in zip(entries, entries[1:]):
        cur.overlap = max(0, prev.end - cur.start)
    if not frames:
        frames = max((e.end for e in entries), default=0)
    return Timeline(entries=entries, fps=fps, frames=int(frames), output=output)
