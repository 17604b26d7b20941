"""output.subtitles: burn: the text is in the decoded frames inside its cue and nowhere else,
inside the safe margins of a 9:16 frame; audio and chapters come through untouched."""
from __future__ import annotations

import numpy as np
import pytest

from chainer.media import ffmpeg as ff
from chainer.media import subtitles as S
from chainer.media.probe import probe

W, H, FPS, N = 144, 256, 24, 48


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    d = tmp_path_factory.mktemp("it's: [burn]")          # quotes, colon, brackets in the path
    src = d / "film.mp4"
    frames = [np.full((H, W, 3), 60, np.uint8) for _ in range(N)]
    t = np.arange(int(48000 * N / FPS)) / 48000
    ff.encode_video(src, frames, width=W, height=H, fps=FPS,
                    audio=(0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32))
    return d, src


def test_burnt_text_shows_only_inside_its_cue_and_the_safe_area(film):
    d, src = film
    cue = S.Cue(12, 30, "Hello")
    ass = d / "film.ass"
    ass.write_text(S.to_ass([cue], FPS, width=W, height=H), encoding="utf-8")
    out = d / "burnt.mp4"
    ff.burn_subtitles(src, ass, out, preset="ultrafast")
    frames = list(ff.decode_frames(out, W, H))
    assert len(frames) == N
    bright = [int((f.max(axis=2) > 180).sum()) for f in frames]
    inside = bright[cue.start_frame:cue.end_frame]
    outside = bright[:cue.start_frame] + bright[cue.end_frame:]
    assert min(inside) > 30, bright                    # the white glyphs
    assert max(outside) == 0, bright
    ys, xs = np.nonzero(frames[20].max(axis=2) > 180)
    st = S.burn_style(W, H)
    assert ys.max() < H - st.margin_v + 2               # above the portrait bottom overlay
    assert xs.min() >= st.margin_l - 2 and xs.max() <= W - st.margin_r + 2
    assert abs((xs.min() + xs.max()) / 2 - (st.margin_l + W - st.margin_r) / 2) < 6   # centred
    info = probe(out)
    assert info.audio is not None
    a, b = ff.decode_audio(src), ff.decode_audio(out)
    assert a.shape == b.shape and np.array_equal(a, b)  # audio copied, not re-encoded


def test_ass_times_are_exact_to_the_frame():
    text = S.to_ass([S.Cue(1, 25, "a{b}\\c\nd")], 24, width=1920, height=1080)
    line = text.splitlines()[-1]
    # frame 1 = 41.67 ms -> 0.04 s, frame 25 = 1041.67 ms -> 1.04 s (rounded down)
    assert line == "Dialogue: 0,0:00:00.04,0:00:01.04,Default,,0,0,0,,a\\{b\\}\uff3cc\\Nd"
    assert "PlayResX: 1920" in text and "PlayResY: 1080" in text
    land, port = S.burn_style(1920, 1080), S.burn_style(1080, 1920)
    assert port.margin_v > 0.15 * 1920 and land.margin_v < 0.1 * 1080
