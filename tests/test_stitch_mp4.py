"""The pure-Python MP4 reader/writer behind the stitch fast path, checked against ffmpeg."""
from __future__ import annotations

import numpy as np
import pytest

from chainer.media import ffmpeg as ff
from chainer.media import mp4
from chainer.media.probe import packets, probe
from chainer.media.stitch import Segment, _analyse_ffmpeg, _analyse_mp4, stitch
from stitch_util import ClipSpec, World, make_chain

W, H = 160, 96


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """0: 24 fps mono 48k; 1: 25 fps; 2: 44.1 kHz stereo; 3: no audio; 4: another size."""
    world = World(width=W, height=H)
    specs = [ClipSpec(30), ClipSpec(26, fps=25), ClipSpec(20, sample_rate=44100, stereo=True),
             ClipSpec(20, audio=False), ClipSpec(20, width=128, height=72)]
    return make_chain(tmp_path_factory.mktemp("mp4"), specs, world)


def test_read_matches_ffmpeg(clips):
    for path in clips:
        movie = mp4.read(path)
        v = movie.first("vide")
        pk = packets(path)
        assert v.count == len(pk)
        assert v.sizes == [p.size for p in pk]
        assert [v.is_sync(i) for i in range(v.count)] == [p.keyframe for p in pk]
        # ffmpeg shifts every timestamp by the edit list; differences are identical
        assert [d - v.dts[0] for d in v.dts] == [p.dts - pk[0].dts for p in pk]
        shift = v.elst[0][1] if v.elst else 0
        assert [p - shift for p in v.pts] == [p.pts for p in pk]
        info = probe(path)
        assert (v.width, v.height) == (info.video.width, info.video.height)
        assert v.timescale == round(1 / info.video.time_base)
        a = movie.first("soun")
        if info.audio is None:
            assert a is None
        else:
            assert (a.sample_rate, a.channels) == (info.audio.sample_rate, info.audio.channels)
            assert a.codec == "mp4a" and a.audio_object_type == 2


def test_analysis_fast_path_equals_ffmpeg_path(clips):
    for path in clips:
        a, b = _analyse_mp4(str(path)), _analyse_ffmpeg(str(path))
        for f in ("width", "height", "fps", "pix_fmt", "codec", "timescale", "frames", "video_first",
                  "audio", "sample_rate", "channels"):
            assert getattr(a, f) == getattr(b, f), (path.name, f)
        assert a.headers.key == b.headers.key
        assert a.headers.x264_options                  # read from the first sample's SEI
        rank = lambda pts: sorted(range(len(pts)), key=pts.__getitem__)  # noqa: E731
        assert rank(a.pts) == rank(b.pts)


def test_reference_flags_match_decoder(clips):
    path = clips[0]
    v = mp4.read(path).first("vide")
    refs = mp4.reference_flags(path, v)
    assert 0 < sum(refs) < len(refs)                   # B-frames: some pictures are not references
    proc = ff.run(["-skip_frame", "noref", "-i", str(path), "-map", "0:v:0", "-f", "framecrc", "-"])
    assert sum(1 for ln in proc.stdout.decode().splitlines() if ln and not ln.startswith("#")) == sum(refs)


def test_write_stitched_is_a_valid_mp4(clips, tmp_path):
    a_path = clips[0]
    v = mp4.read(a_path).first("vide")
    # a decodable, display-contiguous prefix of the clip, then the whole clip again
    from chainer.media.h264 import prefix_cut

    k = prefix_cut(v.pts, 17)
    assert 0 < k <= 17
    aud = tmp_path / "a.m4a"
    pcm = ff.decode_audio(a_path, sample_rate=48000, channels=1)
    raw = tmp_path / "a.f32"
    pcm.astype("<f4").tofile(raw)
    ff.encode_audio_track(raw, aud, sample_rate=48000, channels=1)
    am = mp4.read(aud)
    out = tmp_path / "w.mp4"
    mp4.write_stitched(out, [mp4.VideoPiece(str(a_path), v, k), mp4.VideoPiece(str(a_path), v, v.count)],
                       fps_num=24, fps_den=1, timescale=v.timescale,
                       audio=(str(aud), am.first("soun")), audio_movie_ts=am.timescale,
                       chapters=[(0.0, k / 24, "first"), (k / 24, (k + v.count) / 24, "second")])
    assert ff.decode_check(out) == ""
    src = list(ff.decode_frames(a_path, W, H))
    got = list(ff.decode_frames(out, W, H))
    assert len(got) == k + v.count
    assert all(np.array_equal(g, s) for g, s in zip(got, src[:k] + src))   # bit-exact copies
    pk = packets(out)
    assert all(b.dts > a.dts for a, b in zip(pk, pk[1:]))
    assert sorted(p.pts for p in pk) == [i * (v.timescale // 24) for i in range(len(pk))]
    info = probe(out)
    assert [c.title for c in info.chapters] == ["first", "second"]
    assert abs(info.chapters[1].start - k / 24) < 0.002
    audio = ff.decode_audio(out)
    assert audio.shape[0] == pcm.shape[0]                # priming edit list carried over


def test_not_mp4_raises(tmp_path):
    bad = tmp_path / "x.mp4"
    bad.write_bytes(b"this is not a movie" * 10)
    with pytest.raises(mp4.Mp4Error):
        mp4.read(bad)


def test_non_mp4_input_takes_the_ffmpeg_path(clips, tmp_path):
    mkv = tmp_path / "b.mkv"
    ff.run(["-i", str(clips[3]), "-c", "copy", "-y", str(mkv)])   # chained to clip 2
    with pytest.raises(mp4.Mp4Error):
        mp4.read(mkv)
    res = stitch([Segment(clips[2], "a", False), Segment(mkv, "b", True)], tmp_path / "o.mp4",
                 loudness=None)
    assert ff.decode_check(tmp_path / "o.mp4") == ""
    assert res.frames == 2 * 20 - 1 == sum(1 for _ in ff.decode_frames(tmp_path / "o.mp4", W, H))
    assert res.segments[1].seam["duplicate"]
    assert res.segments[0].path_taken == "smart"
