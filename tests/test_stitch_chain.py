"""Long chains keep A/V sync; the CLI is a thin wrapper."""
from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from chainer.cli.main import cli
from chainer.media import ffmpeg as ff
from chainer.media.probe import probe
from chainer.media.stitch import Segment, stitch
from stitch_util import SR, ClipSpec, World, make_chain

FPS = 24


@pytest.fixture(scope="module")
def long_chain(tmp_path_factory):
    world = World(width=128, height=72)
    d = tmp_path_factory.mktemp("long")
    return make_chain(d, [ClipSpec(13) for _ in range(100)], world), world


def test_hundred_segments_stay_in_sync(long_chain, tmp_path):
    paths, world = long_chain
    segs = [Segment(p, f"s{i:03d}", chained=i > 0) for i, p in enumerate(paths)]
    res = stitch(segs, tmp_path / "long.mp4", loudness=None, chapters=False)
    assert res.frames == 100 * 13 - 99
    assert ff.decode_check(tmp_path / "long.mp4") == ""
    n_video = sum(1 for _ in ff.decode_frames(tmp_path / "long.mp4", 128, 72))
    assert n_video == res.frames
    audio = ff.decode_audio(tmp_path / "long.mp4")[:, 0]
    assert abs(audio.shape[0] / SR - n_video / FPS) <= 1 / FPS
    # the stitched track is the world's continuous audio: shot 99 still starts where its video does
    for s in (res.segments[50], res.segments[99]):
        a = int((s.start + 0.1) * SR)
        n = int(0.3 * SR)
        best = min((float(np.sqrt(np.mean((audio[a:a + n] - world.audio(s.start + 0.1 + d, n)) ** 2))), d)
                   for d in np.arange(-1 / FPS, 1 / FPS + 1e-9, 1 / SR))
        assert abs(best[1]) <= 1 / FPS and best[0] < 0.03, (s.shot_id, best)
    assert {s.path_taken for s in res.segments} <= {"smart", "copy"}


def test_cli_stitch(long_chain, tmp_path):
    paths, _ = long_chain
    out = tmp_path / "cli.mp4"
    runner = CliRunner()
    r = runner.invoke(cli, ["stitch", *map(str, paths[:4]), "-o", str(out), "--cut-before", "2",
                            "--transition", "crossfade:0.25", "--loudness", "off"])
    assert r.exit_code == 0, r.output
    assert "frames" in r.output
    info = probe(out)
    assert len(info.chapters) == 4
    n = sum(1 for _ in ff.decode_frames(out, 128, 72))
    assert n == 4 * 13 - 2 - 6          # two chained duplicates, a 6-frame crossfade at the cut
    r = runner.invoke(cli, ["stitch", str(paths[0]), "-o", str(out), "--transition", "wipe"])
    assert r.exit_code == 2 and "transition" in r.output and "Traceback" not in r.output
    r = runner.invoke(cli, ["stitch", str(paths[0]), "-o", str(out), "--loudness", "loud"])
    assert r.exit_code == 2
