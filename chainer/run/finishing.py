"""Finishing a film from the storyboard's finishing fields and the one timeline: captions
(``NAME.srt``, ``NAME.vtt``, the MP4's subtitle track or burnt-in text) and the music bed's
settings for the stitcher's audio pass.

Called by the assembly once the timeline exists. Every time comes from the timeline
(:func:`chainer.media.subtitles.film_cues`), so captions, chapters and exports agree to the frame.

    bed, modes = music_plan(storyboard)               # -> the stitcher's one audio pass
    cues = caption_cues(storyboard, timeline)          # -> mp4.write_stitched(subtitles=...)
    finish_film(storyboard, timeline, film, soft_track_written=True)
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..media import ffmpeg as ff
from ..media import mp4
from ..media import subtitles as S
from ..media.music import MusicBed


def _plain(value):
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "model_dump"):
        return value.model_dump()
    return value


def shot_texts(storyboard) -> dict[str, tuple]:
    """Shot id -> (caption, dialogue), for shots that have either."""
    out = {}
    for shot in storyboard.shots:
        cap, dia = getattr(shot, "caption", None), getattr(shot, "dialogue", None)
        if cap is not None or dia is not None:
            out[shot.id] = (_plain(cap), _plain(dia))
    return out


def subtitles_mode(storyboard) -> str:
    return getattr(storyboard.output, "subtitles", "soft") or "soft"


def caption_cues(storyboard, timeline) -> list[S.Cue]:
    """The film's cues (empty when there are no captions or ``output.subtitles: off``)."""
    texts = shot_texts(storyboard)
    if not texts or subtitles_mode(storyboard) == "off":
        return []
    return S.film_cues(timeline, texts)


def music_plan(storyboard) -> tuple[MusicBed | None, dict[str, str]]:
    """The bed (file resolved against the storyboard) and per-shot modes, for
    :func:`chainer.media.music.mix_music` (None when there is no ``output.music``)."""
    m = getattr(storyboard.output, "music", None)
    modes = {s.id: s.music for s in storyboard.shots if getattr(s, "music", None)}
    if m is None:
        return None, modes
    return MusicBed(file=storyboard.resolve_media(m.file), gain_db=m.gain_db, fade_in=m.fade_in,
                    fade_out=m.fade_out, duck_db=m.duck_db, loop=m.loop), modes


@dataclass
class Finished:
    cues: int = 0
    files: list[Path] = field(default_factory=list)     # written beside the film
    soft_track: bool = False
    burnt: bool = False


def finish_film(storyboard, timeline, film: str | os.PathLike, *,
                soft_track_written: bool = False, encoder=None) -> Finished:
    """After assembly: ``NAME.srt`` and ``NAME.vtt`` beside ``film``; then for ``soft`` the
    subtitle track (unless the MP4 writer already wrote it), for ``burn`` the text drawn into the
    picture (one re-encode of the video; audio, chapters copied)."""
    film = Path(film)
    res = Finished()
    cues = caption_cues(storyboard, timeline)
    if not cues:
        return res
    lang = getattr(storyboard.output, "language", None)
    res.cues = len(cues)
    srt, vtt = S.write_subtitles(cues, timeline.fps, film, language=lang)
    res.files += [srt, vtt]
    mode = subtitles_mode(storyboard)
    with tempfile.TemporaryDirectory(prefix="chainer-finish-", dir=film.parent) as tmp:
        out = Path(tmp) / film.name
        if mode == "soft" and not soft_track_written:
            ff.add_subtitle_track(film, srt, out, language=mp4.language_code(lang))
            os.replace(out, film)
            res.soft_track = True
        elif mode == "soft":
            res.soft_track = True
        elif mode == "burn":
            ass = Path(tmp) / "captions.ass"
            ass.write_text(S.to_ass(cues, timeline.fps, width=timeline.width,
                                    height=timeline.height), encoding="utf-8")
            kw = {"encoder": encoder} if encoder is not None else {}
            ff.burn_subtitles(film, ass, out, **kw)
            os.replace(out, film)
            res.burnt = True
    return res
