"""The stitcher's finishing hooks: captions become the MP4's subtitle track (from the stitcher's
own timeline), and a music bed is mixed into its one audio pass (ducked under clips with audio,
at its gain under silent ones), on the direct MP4 path."""
from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

from chainer.media import ffmpeg as ff
from chainer.media.music import MusicBed
from chainer.media.stitch import Segment, stitch
from stitch_util import ClipSpec, World, make_chain

SR, FPS = 48000, 24


def _tone(x, a, b, f):
    seg = x[int(a * SR):int(b * SR), 0].astype(np.float64)
    t = (np.arange(seg.shape[0]) + int(a * SR)) / SR
    return 20 * np.log10(max(2 * abs(np.mean(seg * np.exp(-2j * np.pi * f * t))), 1e-12))


def test_stitch_writes_captions_and_mixes_music(tmp_path):
    # a: silent, b: its own audio (the world's 330 Hz tone), c: own audio, music off; 3 s each
    clips = make_chain(tmp_path / "clips", [ClipSpec(73, audio=False), ClipSpec(73), ClipSpec(73)],
                       World(width=160, height=96))
    t = np.arange(4 * SR) / SR
    ff.write_wav(tmp_path / "bed.wav", 0.25 * np.sin(2 * np.pi * 220 * t), SR)
    segs = [Segment(clips[0], "a", False, title="a"), Segment(clips[1], "b", False, title="b"),
            Segment(clips[2], "c", False, title="c")]
    bed = MusicBed(file=str(tmp_path / "bed.wav"), gain_db=-12, fade_in=0, fade_out=0, duck_db=10)
    res = stitch(segs, tmp_path / "film.mp4", seam="keep", loudness=-16.0,
                 captions={"a": ("One", None), "c": ([{"text": "Three", "at": 1, "until": 2}], None)},
                 subtitle_language="de", music=bed, music_modes={"c": "off"})
    tl = res.timeline
    assert [e.start for e in tl.entries] == [0, 73, 146]
    with av.open(str(res.output)) as c:
        st = c.streams.subtitles[0]
        assert st.metadata.get("language") == "deu"
        cues = [(p.pts * st.time_base, bytes(p)[2:].decode()) for p in c.demux(st)
                if p.pts is not None and len(bytes(p)) > 2]
    assert [t for _, t in cues] == ["One", "Three"]
    assert abs(cues[1][0] - Fraction(146 + 24, FPS)) < Fraction(1, FPS)
    y = ff.decode_audio(res.output, sample_rate=SR, channels=1)
    silent_a, under_b, off_c = _tone(y, 0.5, 2.5, 220), _tone(y, 3.5, 5.5, 220), _tone(y, 6.5, 8.5, 220)
    assert -40 < silent_a < -10                           # the bed is there (its exact level: test_music)
    assert under_b <= silent_a - 10 + 0.1                 # ducked under b's own audio
    assert off_c < silent_a - 40                          # music: off under c
    assert abs(ff.loudness_stats(res.output)["integrated"] + 16) <= 1.0


def test_stitch_reports_progress(tmp_path):
    clips = make_chain(tmp_path / "clips", [ClipSpec(25)] * 4, World(width=160, height=96))
    seen = []
    stitch([Segment(c, f"s{k}", k > 0) for k, c in enumerate(clips)], tmp_path / "f.mp4",
           loudness=None, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(0, 4), (1, 4), (2, 4), (4, 4)]
