"""10-bit HEVC chains (Seedance 2.5 1080p / 2.0 4k clips) and mixed HEVC/H.264 chains stitch
seam-correct: exact frame count, no held frame, 10-bit kept, A/V within a frame."""
from __future__ import annotations

import av
import numpy as np
import pytest

from chainer.media import ffmpeg as ff
from chainer.media.stitch import Segment, stitch
from stitch_util import SR, ClipSpec, World, make_chain

FPS = 24
N = 25                       # frames per clip (~1 s)


def _decode(path):
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        name, pix = vs.codec_context.name, vs.codec_context.format.name
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    return name, pix, frames


def _check(res, out, world, n_clips):
    name, pix, frames = _decode(out)
    assert name == "hevc" and pix == "yuv420p10le"
    assert res.frames == n_clips * N - (n_clips - 1) == len(frames)
    # no held frame anywhere (the world moves every frame; a kept duplicate would be ~identical)
    diffs = [float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())
             for a, b in zip(frames, frames[1:])]
    assert min(diffs) > 2.0, (int(np.argmin(diffs)), min(diffs))
    # each output frame is the world's frame at its time (seams land where they should)
    for s in res.segments[1:]:
        k = round(s.start * FPS)
        ref = world.frame(k, world.width, world.height).astype(np.int16)
        assert float(np.abs(frames[k].astype(np.int16) - ref).mean()) < 6.0, s.shot_id
    audio = ff.decode_audio(out)[:, 0]
    assert abs(audio.shape[0] / SR - len(frames) / FPS) <= 1 / FPS
    for s in res.segments[1:]:
        a, n = int((s.start + 0.1) * SR), int(0.3 * SR)
        err = float(np.sqrt(np.mean((audio[a:a + n] - world.audio(s.start + 0.1, n)) ** 2)))
        assert err < 0.05, (s.shot_id, err)
    assert all(s.seam and s.seam.get("duplicate") for s in res.segments[1:])


@pytest.fixture(scope="module")
def world():
    return World(width=320, height=180)


def test_ten_shot_hevc10_chain(world, tmp_path):
    # x265 Main10 preset medium, crf 18: the emulator's 2.5 1080p / 2.0 4k encode
    paths = make_chain(tmp_path / "clips", [ClipSpec(N) for _ in range(10)], world, codec="hevc10")
    out = tmp_path / "chain.mp4"
    res = stitch([Segment(p, f"s{i}", chained=i > 0) for i, p in enumerate(paths)], out,
                 loudness=None, chapters=False)
    _check(res, out, world, 10)
    assert ff.decode_check(out) == ""
    # HEVC smart render: a copied prefix + an x265 Main10 tail without the duplicated frame; the
    # last segment is copied whole (the re-encoded pieces share the sources' parameter sets)
    assert [s.path_taken for s in res.segments] == ["smart"] * 9 + ["copy"], res.notes


def test_mixed_hevc_h264_chain(world, tmp_path):
    specs = [ClipSpec(N, codec="h264" if i % 2 else "hevc10") for i in range(4)]
    # another x265 preset than the emulator's: calibration finds one with the same parameter sets
    paths = make_chain(tmp_path / "clips", specs, world, preset="ultrafast")
    out = tmp_path / "mixed.mp4"
    res = stitch([Segment(p, f"s{i}", chained=i > 0) for i, p in enumerate(paths)], out,
                 loudness=None, chapters=False)
    _check(res, out, world, 4)
    assert ff.decode_check(out) == ""
    # H.264 segments are re-encoded into the 10-bit HEVC output; HEVC ones smart-rendered/copied
    assert [s.path_taken for s in res.segments] == ["smart", "reencode", "smart", "reencode"]
    assert all("codec h264->hevc" in " ".join(s.conform) for s in res.segments[1::2])
    # a crossfade at a scene cut is rendered by x265 Main10 too (10-bit kept, exact count)
    out2 = tmp_path / "xfade.mp4"
    res2 = stitch([Segment(p, f"s{i}", chained=i not in (0, 2), transition="crossfade:0.25")
                   for i, p in enumerate(paths)], out2, loudness=None, chapters=False)
    name, pix, frames = _decode(out2)
    assert (name, pix) == ("hevc", "yuv420p10le")
    assert res2.frames == len(frames) == 4 * N - 2 - 6     # two chained duplicates, 6-frame overlap
    assert ff.decode_check(out2) == ""
