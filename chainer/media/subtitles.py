"""Captions and dialogue as subtitle cues on the final timeline, SRT/VTT writers, and the checks
``chainer validate`` reports.

A shot's text is written in *shot seconds*: seconds into the clip the model generated for it.

- ``caption: "text"``: on screen for the whole shot;
- ``caption: [{text, at, until}, ...]``: timed cues (``at`` defaults to 0, ``until`` to the end);
- ``dialogue: ["line", {speaker, text, at, until}, ...]``: lines a character speaks. Lines without
  times share the shot in order, each in proportion to its length (a reading-speed guess: the
  models do not report when a line is spoken).

Cues are mapped through the timeline (the one edit, ``chainer.timeline.Timeline``) to output
frames: a shot-second ``t`` is clip frame ``round(t * fps)``; the entry drops ``head`` frames and
starts at output frame ``start``, so it shows at ``start + round(t * fps) - head``. A cue is
clipped to its shot's chapter (from where its entry begins, crossfade included, to where the next
entry begins), so cues of neighbouring shots never overlap and a whole-shot caption *is* the
chapter, to the frame. Cues falling wholly in trimmed material are dropped.

Pure: no ffmpeg, no file access except :func:`write_subtitles`.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

# Reading speed above which a line is flagged (Netflix's adult guideline is 17-20 cps; 20 is the
# common upper bound for subtitles people can follow).
CPS_LIMIT = 20.0


@dataclass(frozen=True)
class Cue:
    """Text shown from output frame ``start_frame`` up to (not including) ``end_frame``."""
    start_frame: int
    end_frame: int
    text: str

    def seconds(self, fps: Fraction) -> tuple[Fraction, Fraction]:
        fps = Fraction(fps)
        return Fraction(self.start_frame) / fps, Fraction(self.end_frame) / fps


@dataclass(frozen=True)
class ShotCue:
    """A cue in shot seconds (``until`` None: to the end of the shot)."""
    at: float
    until: float | None
    text: str
    source: str = ""     # where it was written: "caption", "caption[1]", "dialogue[0]"


@dataclass(frozen=True)
class CaptionProblem:
    path: str        # e.g. "caption[1].until", relative to the shot
    message: str


# ---- shot text -> shot cues -----------------------------------------------------------------------

def _clean(text: Any) -> str:
    return "\n".join(line.strip() for line in str(text).strip().splitlines() if line.strip())


def _item(raw: Any, *, dialogue: bool) -> tuple[str, float | None, float | None]:
    if isinstance(raw, str):
        return _clean(raw), None, None
    if isinstance(raw, Mapping):
        text = _clean(raw.get("text", raw.get("line", "")))
        speaker = raw.get("speaker")
        if dialogue and speaker:
            text = f"{_clean(speaker)}: {text}"
        at, until = raw.get("at"), raw.get("until")
        return text, (None if at is None else float(at)), (None if until is None else float(until))
    text = getattr(raw, "text", "")
    speaker = getattr(raw, "speaker", None)
    if dialogue and speaker:
        text = f"{speaker}: {text}"
    at, until = getattr(raw, "at", None), getattr(raw, "until", None)
    return _clean(text), (None if at is None else float(at)), (None if until is None else float(until))


def _items(value: Any, *, dialogue: bool) -> list[tuple[str, float | None, float | None]]:
    if value is None:
        return []
    if isinstance(value, (str, Mapping)) or not isinstance(value, Iterable):
        value = [value]
    return [_item(v, dialogue=dialogue) for v in value]


def shot_cues(caption: Any = None, dialogue: Any = None, *, duration: float) -> list[ShotCue]:
    """The shot's cues in shot seconds, in time order. ``duration``: the shot's length (s)."""
    out: list[ShotCue] = []
    listed = caption is not None and not isinstance(caption, (str, Mapping))
    for k, (text, at, until) in enumerate(_items(caption, dialogue=False)):
        if text:
            out.append(ShotCue(at or 0.0, until, text, f"caption[{k}]" if listed else "caption"))
    listed = dialogue is not None and not isinstance(dialogue, (str, Mapping))
    lines = [(*x, f"dialogue[{k}]" if listed else "dialogue")
             for k, x in enumerate(_items(dialogue, dialogue=True)) if x[0]]
    # untimed lines share the time not claimed by timed ones, in order, by length
    untimed = [k for k, (_, at, until, _) in enumerate(lines) if at is None and until is None]
    weights = [max(1, len(lines[k][0])) for k in untimed]
    total = float(sum(weights))
    t = 0.0
    shares: dict[int, tuple[float, float]] = {}
    for k, w in zip(untimed, weights):
        d = duration * w / total
        shares[k] = (t, t + d)
        t += d
    for k, (text, at, until, src) in enumerate(lines):
        if k in shares:
            a, b = shares[k]
            out.append(ShotCue(a, b if k != untimed[-1] else None, text, src))
        else:
            out.append(ShotCue(at or 0.0, until, text, src))
    out.sort(key=lambda c: c.at)
    return out


def check_captions(caption: Any = None, dialogue: Any = None, *, duration: float,
                   cps_limit: float = CPS_LIMIT) -> list[CaptionProblem]:
    """What ``chainer validate`` reports about a shot's text: times outside the shot, ``until``
    not after ``at``, empty text, and lines shown too briefly to read (characters per second above
    ``cps_limit``, spaces and line breaks not counted)."""
    problems: list[CaptionProblem] = []
    for field, value, is_dia in (("caption", caption, False), ("dialogue", dialogue, True)):
        listed = value is not None and not isinstance(value, (str, Mapping))
        for k, (text, at, until) in enumerate(_items(value, dialogue=is_dia)):
            where = f"{field}[{k}]" if listed else field
            if not text:
                problems.append(CaptionProblem(where, "empty text"))
            for name, t in (("at", at), ("until", until)):
                if t is not None and not (math.isfinite(t) and 0 <= t <= duration):
                    problems.append(CaptionProblem(
                        f"{where}.{name}", f"{t:g} is outside the shot (0..{duration:g} s)"))
            if at is not None and until is not None and until <= at:
                problems.append(CaptionProblem(f"{where}.until",
                                               f"{until:g} must be after at ({at:g})"))
    # reading speed, on the times the cues will actually get
    try:
        cues = shot_cues(caption, dialogue, duration=duration)
    except (TypeError, ValueError):
        return problems
    for c in cues:
        end = duration if c.until is None else min(c.until, duration)
        shown = end - max(0.0, c.at)
        chars = len("".join(c.text.split()))
        if shown > 0 and chars / shown > cps_limit:
            excerpt = c.text if len(c.text) <= 30 else c.text[:29].rstrip() + "…"
            problems.append(CaptionProblem(
                c.source, f"{excerpt!r}: {chars} characters in {shown:.2f} s is "
                f"{chars / shown:.0f} per second (at most {cps_limit:g} can be read)"))
    return problems


# ---- the film's cues --------------------------------------------------------------------------------

def film_cues(timeline, texts: Mapping[str, tuple[Any, Any]]) -> list[Cue]:
    """Cues of the whole film, in output frames. ``timeline``: a ``chainer.timeline.Timeline``
    (``fps``, ``frames``, ``entries`` with ``shot_id``, ``frames_in``, ``head``, ``kept``,
    ``start``). ``texts``: shot id -> (caption, dialogue) as written in the storyboard."""
    fps = Fraction(timeline.fps)
    entries = list(timeline.entries)
    cues: list[Cue] = []
    for i, e in enumerate(entries):
        caption, dialogue = texts.get(e.shot_id, (None, None))
        if caption is None and dialogue is None:
            continue
        lo = e.start
        hi = entries[i + 1].start if i + 1 < len(entries) else min(e.start + e.kept, timeline.frames)
        duration = float(Fraction(e.frames_in) / fps)
        for c in shot_cues(caption, dialogue, duration=duration):
            a = e.start + _frame(c.at, fps) - e.head
            b = hi if c.until is None else e.start + _frame(c.until, fps) - e.head
            a, b = max(a, lo), min(b, hi)
            if b > a:
                cues.append(Cue(a, b, c.text))
    cues.sort(key=lambda c: (c.start_frame, c.end_frame))
    return cues


def _frame(seconds: float, fps: Fraction) -> int:
    # Fraction(str) keeps what the user wrote (2.2 s is exactly 52.8 frames at 24 fps) and rounds
    # half up, so a cue at a frame boundary lands on that frame
    return math.floor(Fraction(repr(float(seconds))) * fps + Fraction(1, 2))


# ---- writers ---------------------------------------------------------------------------------------

def _ms(frame: int, fps: Fraction) -> int:
    return math.floor(Fraction(frame) * 1000 / Fraction(fps) + Fraction(1, 2))


def _stamp(ms: int, sep: str) -> str:
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_srt(cues: Sequence[Cue], fps) -> str:
    """SubRip text: numbered from 1, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, times rounded to the ms."""
    blocks = []
    for n, c in enumerate(cues, start=1):
        text = c.text.replace("-->", "->")
        blocks.append(f"{n}\n{_stamp(_ms(c.start_frame, fps), ',')} --> "
                      f"{_stamp(_ms(c.end_frame, fps), ',')}\n{text}\n")
    return "\n".join(blocks)


def to_vtt(cues: Sequence[Cue], fps, *, language: str | None = None) -> str:
    """WebVTT text (``Language:`` header when given; ``&``/``<`` escaped)."""
    head = "WEBVTT\n" + (f"Language: {language}\n" if language else "")
    blocks = [head]
    for n, c in enumerate(cues, start=1):
        text = c.text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        blocks.append(f"{n}\n{_stamp(_ms(c.start_frame, fps), '.')} --> "
                      f"{_stamp(_ms(c.end_frame, fps), '.')}\n{text}\n")
    return "\n".join(blocks)


def write_subtitles(cues: Sequence[Cue], fps, film: str | os.PathLike, *,
                    language: str | None = None) -> tuple[Path, Path]:
    """``NAME.srt`` and ``NAME.vtt`` beside ``film`` (``NAME.mp4``). Returns both paths."""
    film = Path(film)
    srt, vtt = film.with_suffix(".srt"), film.with_suffix(".vtt")
    for path, text in ((srt, to_srt(cues, fps)), (vtt, to_vtt(cues, fps, language=language))):
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    return srt, vtt


def timed_segments(cues: Sequence[Cue]) -> list[tuple[int, int, str]]:
    """Cues flattened into back-to-back (start, end, text) spans that never overlap (what a
    mov_text track needs: one sample at a time). Overlapping cues share a span, their texts
    joined line by line; gaps get empty text."""
    bounds = sorted({f for c in cues for f in (c.start_frame, c.end_frame)})
    out: list[tuple[int, int, str]] = []
    for a, b in zip(bounds, bounds[1:]):
        text = "\n".join(c.text for c in cues if c.start_frame <= a and c.end_frame >= b)
        if out and out[-1][2] == text and out[-1][1] == a:
            out[-1] = (out[-1][0], b, text)
        else:
            out.append((a, b, text))
    return out


# ---- burn-in (output.subtitles: burn) ---------------------------------------------------------------

@dataclass(frozen=True)
class BurnStyle:
    """How burnt-in captions look, in pixels of the film. :func:`burn_style` picks them from the
    frame size: portrait (9:16 and the like) keeps clear of the bottom ~18 % and the side edges,
    where social apps draw their caption, buttons and progress bar."""
    font: str
    size: int
    margin_v: int
    margin_l: int
    margin_r: int
    outline: int
    bold: bool = True


def burn_style(width: int, height: int, *, font: str = "DejaVu Sans") -> BurnStyle:
    base = min(width, height)
    size = max(12, round(base * 0.055))
    if height > width:            # portrait: above the platform's bottom overlay, inside its sides
        return BurnStyle(font, size, margin_v=round(height * 0.18), margin_l=round(width * 0.10),
                         margin_r=round(width * 0.14), outline=max(1, round(size / 14)))
    return BurnStyle(font, size, margin_v=round(height * 0.06), margin_l=round(width * 0.08),
                     margin_r=round(width * 0.08), outline=max(1, round(size / 14)))


def _ass_time(frame: int, fps: Fraction) -> str:
    # centiseconds rounded down: frame k (shown at k/fps) is inside [start, end) exactly when
    # start_frame <= k < end_frame, for any rate below 100 fps
    cs = math.floor(Fraction(frame) * 100 / Fraction(fps))
    h, rem = divmod(cs, 360_000)
    m, rem = divmod(rem, 6000)
    s, cs = divmod(rem, 100)
    return f"{h}:{m:02d}:{s:02d}.{cs:02d}"


def _ass_text(text: str) -> str:
    text = text.replace("\\", "\uff3c").replace("{", "\\{").replace("}", "\\}")
    return text.replace("\n", "\\N")


def to_ass(cues: Sequence[Cue], fps, *, width: int, height: int,
           style: BurnStyle | None = None) -> str:
    """An ASS script in the film's own pixels (PlayRes = frame size) for libass to burn in:
    bottom-centred white text with a dark outline, margins from :func:`burn_style`."""
    st = style or burn_style(width, height)
    fps = Fraction(fps)
    head = [
        "[Script Info]", "ScriptType: v4.00+", f"PlayResX: {width}", f"PlayResY: {height}",
        "WrapStyle: 0", "ScaledBorderAndShadow: yes", "",
        "[V4+ Styles]",
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, "
        "BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, "
        "BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding",
        f"Style: Default,{st.font},{st.size},&H00FFFFFF,&H00FFFFFF,&H00000000,&H80000000,"
        f"{-1 if st.bold else 0},0,0,0,100,100,0,0,1,{st.outline},0,2,{st.margin_l},"
        f"{st.margin_r},{st.margin_v},1",
        "", "[Events]",
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
    ]
    events = [f"Dialogue: 0,{_ass_time(c.start_frame, fps)},{_ass_time(c.end_frame, fps)},"
              f"Default,,0,0,0,,{_ass_text(c.text)}" for c in cues if c.end_frame > c.start_frame]
    return "\n".join(head + events) + "\n"
