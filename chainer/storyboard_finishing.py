"""The storyboard's finishing fields (captions, dialogue, music bed, subtitles, language) and the
checks ``chainer validate`` runs on them before anything is paid for.

Schema pieces are imported by :mod:`chainer.storyboard`; :func:`check_finishing` is called by
``load_storyboard`` after the schema and model checks. The timing rules themselves live in
:mod:`chainer.media.subtitles` (one place), this module only points them at YAML lines.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictStr

from .errors import Problem
from .storyboard_yaml import format_path

if TYPE_CHECKING:
    from .storyboard import Storyboard

LANGUAGE_RE = re.compile(r"\A[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*\Z")
MUSIC_MODES = ("off", "duck", "full")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CaptionCue(_Strict):
    """Text on screen for part of a shot, in shot seconds."""

    text: StrictStr = Field(description="The text (line breaks kept).")
    at: Optional[float] = Field(None, ge=0, description="Seconds into the shot it appears. "
                                "Default 0.")
    until: Optional[float] = Field(None, gt=0, description="Seconds into the shot it goes. "
                                   "Default: the end of the shot.")


class DialogueLine(CaptionCue):
    """A line a character speaks (sent to models with native audio, and captioned)."""

    speaker: Optional[StrictStr] = Field(None, description="Who speaks (shown before the line).")


Caption = Union[StrictStr, list[CaptionCue]]
Dialogue = Union[StrictStr, list[Union[StrictStr, DialogueLine]]]


class Music(_Strict):
    """One music track under the whole film, ducked under the shots' own audio."""

    file: StrictStr = Field(description="Audio file (path relative to the storyboard).")
    gain_db: float = Field(-18.0, ge=-60, le=12, description="Level of the music relative to the "
                           "file, in dB, before the film is loudness-normalised.")
    fade_in: float = Field(2.0, ge=0, le=60, description="Seconds of fade-in at the start.")
    fade_out: float = Field(3.0, ge=0, le=60, description="Seconds of fade-out at the end.")
    duck_db: float = Field(12.0, ge=0, le=60, description="How much quieter the music gets while "
                           "a shot's own audio (speech) sounds, in dB.")
    loop: StrictBool = Field(True, description="Loop the file when it is shorter than the film "
                             "(else silence after it ends).")


def _off(value: Any) -> Any:
    """YAML 1.1 reads an unquoted ``off`` (and ``no``/``false``) as false: it means "off" here."""
    return "off" if value is False else value


SubtitlesMode = Annotated[Literal["off", "soft", "burn"], BeforeValidator(_off)]
MusicMode = Annotated[Literal["off", "duck", "full"], BeforeValidator(_off)]


def _shot_seconds(sb: "Storyboard", shot) -> float | None:
    """The shot's length as the planner requests it (frames: (n - 1) / 24; no duration: 5 s);
    None when the model chooses (duration -1)."""
    frames = sb.effective(shot, "frames")
    if isinstance(frames, int) and frames > 1:
        return (frames - 1) / 24.0
    d = sb.effective(shot, "duration")
    if d is None:
        return 5.0            # plan.py's default duration
    return float(d) if isinstance(d, int) and d > 0 else None


def _plain(value):
    """Pydantic values as the plain data :mod:`chainer.media.subtitles` reads."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, BaseModel):
        return value.model_dump()
    return value


def check_finishing(sb: "Storyboard", file: str, *, check_media: bool = True) -> list[Problem]:
    """Caption/dialogue times against each shot's duration, reading speed, the subtitle language
    and the music file."""
    from .media.subtitles import check_captions

    out: list[Problem] = []
    pos = sb.positions

    def add(path: tuple, message: str) -> None:
        line, col = pos.of_value(path)
        out.append(Problem(file, line, col, format_path(path), message))

    for i, shot in enumerate(sb.shots):
        caption, dialogue = getattr(shot, "caption", None), getattr(shot, "dialogue", None)
        if caption is None and dialogue is None:
            continue
        seconds = _shot_seconds(sb, shot)
        for p in check_captions(_plain(caption), _plain(dialogue),
                                duration=seconds if seconds is not None else math.inf):
            path: tuple = ("shots", i)
            for part in re.findall(r"[A-Za-z_]+|\[\d+\]", p.path):
                path += (int(part[1:-1]),) if part.startswith("[") else (part,)
            add(path, p.message)
    o = sb.output
    lang = getattr(o, "language", None)
    if lang is not None and not LANGUAGE_RE.match(lang):
        add(("output", "language"), f"{lang!r} is not a language code: use ISO 639 "
                                    "(en, fr, zh, pt-BR...)")
    music = getattr(o, "music", None)
    if music is not None and check_media:
        p = Path(music.file).expanduser()
        p = p if p.is_absolute() else sb.base_dir / p
        if not p.is_file():
            add(("output", "music", "file"), f"{music.file} not found (looked in {p.parent})")
        else:
            from .media.probe import probe

            try:
                info = probe(p)
                ok = info.audio is not None
            except Exception:
                ok = False
            if not ok:
                add(("output", "music", "file"), f"{music.file} has no audio stream ffmpeg can "
                                                 "decode: give an audio file (wav, mp3, m4a, flac...)")
    return out


def prompt_with_dialogue(prompt: str, dialogue: Any) -> str:
    """The prompt sent to a model that generates audio, with the shot's ``dialogue`` appended as
    quoted speech: ``... The old man says: "We leave at dawn."``.

    UNCONFIRMED: the Seedance prompt guides show spoken lines as the speaker followed by the line
    in quotes (Chinese: ``老人说："..."``); no field of the API carries speech, so the prompt is
    the only channel. Lines without a speaker are attributed to "A voice"."""
    items = _plain(dialogue)
    if items is None:
        return prompt
    said = []
    for item in items if isinstance(items, list) else [items]:
        text = item.get("text", "") if isinstance(item, dict) else str(item)
        who = item.get("speaker") if isinstance(item, dict) else None
        text = " ".join(str(text).split()).replace('"', "'")
        if text:
            said.append(f'{" ".join(str(who).split()) if who else "A voice"} says: "{text}"')
    if not said:
        return prompt
    base = prompt.rstrip()
    if base and base[-1] not in ".!?。！？":
        base += "."
    return (base + " " + " ".join(said)).strip()
