"""preview.mp4: written after the first clip lands, decodes, grows with each clip in film order,
and a failed refresh leaves the previous preview in place."""
from __future__ import annotations

import threading

import pytest

from chainer.media import ffmpeg as ff
from chainer.media.preview import Preview
from chainer.media.probe import count_frames
from stitch_util import ClipSpec, World, make_chain


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return make_chain(tmp_path_factory.mktemp("pv"), [ClipSpec(25), ClipSpec(25), ClipSpec(25)],
                      World(width=160, height=96))


def test_preview_grows_in_film_order(clips, tmp_path):
    errors = []
    pv = Preview(tmp_path, ["a", "b", "c"], on_error=errors.append)
    assert not (tmp_path / "preview.mp4").exists()
    # the third clip lands first (another sequence): the preview is that clip alone
    assert pv.landed("c", clips[2]) == tmp_path / "preview.mp4"
    assert ff.decode_check(tmp_path / "preview.mp4") == ""
    assert count_frames(tmp_path / "preview.mp4") == 25
    pv.landed("a", clips[0])
    first = list(ff.decode_frames(tmp_path / "preview.mp4", 160, 96))
    assert len(first) == 50
    a_frames = list(ff.decode_frames(clips[0], 160, 96))
    assert (first[0] == a_frames[0]).all()                  # a comes first, copied bit-exact
    pv.landed("b", clips[1])
    assert count_frames(tmp_path / "preview.mp4") == 75     # keep: nothing trimmed
    assert ff.decode_check(tmp_path / "preview.mp4") == ""
    assert errors == [] and pv.refreshes == 3
    assert not list(tmp_path.glob(".preview*.mp4"))          # no temporary left behind


def test_failed_refresh_keeps_the_last_good_preview(clips, tmp_path):
    errors = []
    pv = Preview(tmp_path, ["a", "b"], on_error=errors.append)
    pv.landed("a", clips[0])
    before = (tmp_path / "preview.mp4").read_bytes()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\0\0\0\x18ftypisom" + b"\0" * 100)
    assert pv.landed("b", bad) is None
    assert len(errors) == 1
    assert (tmp_path / "preview.mp4").read_bytes() == before


def test_concurrent_landings_are_folded(clips, tmp_path):
    pv = Preview(tmp_path, ["a", "b", "c"])
    ts = [threading.Thread(target=pv.landed, args=(sid, p)) for sid, p in zip("abc", clips)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert count_frames(tmp_path / "preview.mp4") == 75
    assert 1 <= pv.refreshes <= 3
