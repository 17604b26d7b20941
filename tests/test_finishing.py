"""Issue 15's "done when" for captions: a storyboard with captions on 3 shots (a crossfade
between two of them) gives an SRT, a VTT and an MP4 subtitle track whose cue times match the
shots' chapters to within one frame; ``subtitles: burn`` shows the text in the decoded frames."""
from __future__ import annotations

import shutil
from fractions import Fraction

import av
import numpy as np
import pytest

from chainer.media import ffmpeg as ff
from chainer.media.probe import probe
from chainer.media.stitch import Segment, stitch
from chainer.run.finishing import caption_cues, finish_film, music_plan
from chainer.storyboard import load_storyboard
from finishing_util import timeline_from_stitch
from stitch_util import ClipSpec, World, make_chain
from storyboard_util import PROFAST, write

W, H, FPS = 160, 96, 24
STORYBOARD = f"""
model: {PROFAST}
defaults: {{resolution: 480p, ratio: "16:9", duration: 2}}
output: {{file: film.mp4, language: en, subtitles: SUBS}}
shots:
  - id: a
    prompt: a lake at dawn
    caption: One
  - id: b
    prompt: a cabin
    cut: true
    transition: crossfade:0.5
    caption: [{{text: Two, at: 0.5}}]
  - id: c
    prompt: inside the cabin
    caption: Three
"""


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    d = tmp_path_factory.mktemp("finish")
    clips = make_chain(d / "clips", [ClipSpec(49), ClipSpec(49), ClipSpec(49)], World(width=W, height=H))
    segs = [Segment(clips[0], "a", False, title="a"),
            Segment(clips[1], "b", False, title="b", transition="crossfade:0.5"),
            Segment(clips[2], "c", True, title="c")]
    res = stitch(segs, d / "film.mp4", loudness=None)
    tl = timeline_from_stitch(res, FPS, width=W, height=H)
    return d, res, tl


def _sb(d, subs):
    return load_storyboard(write(d, STORYBOARD.replace("SUBS", subs), f"sb-{subs}.yaml"))


def test_soft_subtitles_match_chapters(made, tmp_path):
    d, res, tl = made
    # the duplicate frame at the chained seam b|c is dropped (from b's tail or c's head)
    assert tl.entries[1].tail + tl.entries[2].head == 1 and tl.entries[1].overlap == 12
    film = tmp_path / "film.mp4"
    shutil.copy(res.output, film)
    done = finish_film(_sb(d, "soft"), tl, film)
    assert done.cues == 3 and done.soft_track and [p.name for p in done.files] == ["film.srt", "film.vtt"]
    assert ff.decode_check(film) == ""
    one = Fraction(1, FPS)
    chapters = [(Fraction(c.start).limit_denominator(10**6), Fraction(c.end).limit_denominator(10**6))
                for c in probe(film).chapters]
    assert len(chapters) == 3
    with av.open(str(film)) as c:
        st = c.streams.subtitles[0]
        assert st.metadata.get("language") == "eng"
        got = []
        for pkt in c.demux(st):
            raw = bytes(pkt)
            if pkt.pts is None or len(raw) <= 2:
                continue
            n = int.from_bytes(raw[:2], "big")
            got.append((pkt.pts * st.time_base, (pkt.pts + pkt.duration) * st.time_base,
                        raw[2:2 + n].decode()))
    assert [t for *_, t in got] == ["One", "Two", "Three"]
    (a0, a1, _), (b0, b1, _), (c0, c1, _) = got
    # whole-shot captions are their shots' chapters; "Two" starts 0.5 s (12 frames) into b
    assert abs(a0 - chapters[0][0]) <= one and abs(a1 - chapters[1][0]) <= one
    assert abs(b0 - (chapters[1][0] + Fraction(1, 2))) <= one and abs(b1 - chapters[2][0]) <= one
    assert abs(c0 - chapters[2][0]) <= one and abs(c1 - chapters[2][1]) <= one
    # the SRT and the VTT say the same
    srt = (tmp_path / "film.srt").read_text()
    vtt = (tmp_path / "film.vtt").read_text()
    assert srt.count("-->") == vtt.count("-->") == 3 and "Language: en" in vtt
    first = srt.split("\n")[1]
    assert first.startswith("00:00:00,000 --> 00:00:0")


def test_burnt_subtitles_in_the_decoded_frames(made, tmp_path):
    d, res, tl = made
    film = tmp_path / "film.mp4"
    shutil.copy(res.output, film)
    sb = _sb(d, "burn")
    cues = caption_cues(sb, tl)
    done = finish_film(sb, tl, film)
    assert done.burnt and not done.soft_track
    with av.open(str(film)) as c:
        assert len(c.streams.subtitles) == 0
    before = list(ff.decode_frames(res.output, W, H))
    after = list(ff.decode_frames(film, W, H))
    assert len(after) == len(before) == tl.frames
    band = slice(H // 2, H)                                    # captions sit in the lower half
    # pixels the burn changed beyond re-encoding noise
    diff = [int((np.abs(x[band].astype(np.int16) - y[band].astype(np.int16)).max(axis=2) > 80).sum())
            for x, y in zip(before, after)]
    shown = set()
    for cue in cues:
        shown |= set(range(cue.start_frame, cue.end_frame))
    inside = [diff[k] for k in sorted(shown)]
    outside = [diff[k] for k in range(len(diff)) if k not in shown]
    assert outside, "the 12-frame gap before 'Two' has no caption"
    assert min(inside) >= 20 and max(outside) <= 2, (inside, outside)
    assert ff.decode_audio(film).shape == ff.decode_audio(res.output).shape


def test_music_plan_resolves_the_file(tmp_path):
    sb = load_storyboard(write(tmp_path, STORYBOARD.replace("SUBS", "off").replace(
        "output: {", "output: {music: {file: m.wav, duck_db: 9}, "), "m.yaml"), check_media=False)
    bed, modes = music_plan(sb)
    assert bed.file == str((tmp_path / "m.wav").resolve()) and bed.duck_db == 9 and modes == {}
    assert caption_cues(sb, None) == []                         # subtitles: off
