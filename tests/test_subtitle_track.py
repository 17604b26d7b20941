"""The mov_text subtitle track the MP4 writer adds: seen by PyAV and ffmpeg with its language, cue
times matching the frames they were given, chapters unaffected."""
from __future__ import annotations

from fractions import Fraction

import av
import pytest

from chainer.media import ffmpeg as ff
from chainer.media import mp4
from chainer.media import subtitles as S
from chainer.media.probe import probe
from finishing_util import timeline
from stitch_util import ClipSpec, World, make_chain

W, H = 160, 96


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_chain(tmp_path_factory.mktemp("subtrack"), [ClipSpec(49)], World(width=W, height=H))[0]


def _subtitle_packets(path):
    with av.open(str(path)) as c:
        st = c.streams.subtitles[0]
        lang = st.metadata.get("language")
        name = st.codec_context.name
        tb = st.time_base
        out = []
        for pkt in c.demux(st):
            if pkt.size == 0 or pkt.pts is None:
                continue
            raw = bytes(pkt)
            n = int.from_bytes(raw[:2], "big")
            out.append((pkt.pts * tb, (pkt.pts + pkt.duration) * tb, raw[2:2 + n].decode("utf-8")))
    return lang, name, out


def test_subtitle_track_round_trips_and_keeps_chapters(clip, tmp_path):
    v = mp4.read(clip).first("vide")
    n = v.count
    fps = 24
    # three shots of one clip each, the second entered by a 12-frame crossfade: the cues come from
    # the timeline exactly as the product computes them
    tl = timeline(fps, [("a", n, 0, 0, "cut", 0), ("b", n, 0, 0, "crossfade:0.5", 12),
                        ("c", n, 1, 0, "cut", 0)])
    cues = S.film_cues(tl, {"a": ("Première", None),
                            "b": ([{"text": "two", "at": 0.5, "until": 1.5}], None),
                            "c": ("three", None)})
    frames = 3 * n      # the written video: three copies of the clip (3n frames >= tl.frames)
    chapters = [(float(a), float(b), t) for a, b, t in
                ((Fraction(e.start, fps), Fraction(tl.entries[i + 1].start, fps)
                  if i + 1 < len(tl.entries) else Fraction(tl.frames, fps), e.shot_id)
                 for i, e in enumerate(tl.entries))]
    out = tmp_path / "subs.mp4"
    mp4.write_stitched(out, [mp4.VideoPiece(str(clip), v, n)] * 3, fps_num=fps, fps_den=1,
                       timescale=v.timescale, chapters=chapters, subtitles=cues,
                       subtitle_language="fr")
    assert frames >= tl.frames
    assert ff.decode_check(out) == ""
    lang, codec, pk = _subtitle_packets(out)
    assert (lang, codec) == ("fra", "mov_text")
    got = [(a, b, t) for a, b, t in pk if t]
    assert [t for *_, t in got] == ["Première", "two", "three"]
    one = Fraction(1, fps)
    for (a, b, _), cue in zip(got, cues):
        ca, cb = cue.seconds(fps)
        assert abs(a - ca) < one and abs(b - cb) < one
    # the whole-shot captions are the shots' chapters, to within a frame
    info = probe(out)
    assert [c.title for c in info.chapters] == ["a", "b", "c"]
    assert abs(got[0][1] - Fraction(info.chapters[1].start).limit_denominator(10**6)) < one
    assert abs(got[2][0] - Fraction(info.chapters[2].start).limit_denominator(10**6)) < one
    # ffmpeg converts the track to SRT with the same text
    srt = tmp_path / "back.srt"
    ff.run(["-i", str(out), "-map", "0:s:0", "-y", str(srt)])
    assert "Première" in srt.read_text(encoding="utf-8")


def test_language_codes():
    assert mp4.language_code("en") == "eng"
    assert mp4.language_code("pt-BR") == "por"
    assert mp4.language_code("deu") == "deu"
    assert mp4.language_code(None) == "und"
    assert mp4.language_code("x1") == "und"


def test_no_subtitles_writes_no_subtitle_stream(clip, tmp_path):
    v = mp4.read(clip).first("vide")
    out = tmp_path / "plain.mp4"
    mp4.write_stitched(out, [mp4.VideoPiece(str(clip), v, v.count)], fps_num=24, fps_den=1,
                       timescale=v.timescale, chapters=[(0.0, v.count / 24, "only")])
    with av.open(str(out)) as c:
        assert len(c.streams.subtitles) == 0
