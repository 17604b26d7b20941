"""The assembly engine, measured on decoded output of synthetic chained clips."""
from __future__ import annotations


import numpy as np
import pytest

from chainer.errors import InputError
from chainer.media import ffmpeg as ff
from chainer.media.audio import longest_silence, max_jump
from chainer.media.probe import packets, probe
from chainer.media.seams import psnr
from chainer.media.stitch import Segment, stitch
from stitch_util import SR, ClipSpec, World, make_chain

W, H = 864, 496
FPS = 24


def decode_all(path, w=W, h=H):
    return list(ff.decode_frames(path, w, h))


@pytest.fixture(scope="module")
def world():
    return World(width=W, height=H)


@pytest.fixture(scope="module")
def chain(tmp_path_factory, world):
    """0,1 normal; 2 no audio; 3 another size (4:3); 4 at 25 fps; 5 44.1 kHz stereo; 6 normal."""
    d = tmp_path_factory.mktemp("chain")
    specs = [ClipSpec(25), ClipSpec(25), ClipSpec(25, audio=False), ClipSpec(25, width=640, height=480),
             ClipSpec(26, fps=25), ClipSpec(25, sample_rate=44100, stereo=True), ClipSpec(25)]
    return make_chain(d, specs, world), specs


@pytest.fixture(scope="module")
def auto(chain, tmp_path_factory):
    paths, _ = chain
    out = tmp_path_factory.mktemp("auto") / "out.mp4"
    segs = [Segment(p, f"shot{i}", chained=i > 0, title=f"Shot {i}") for i, p in enumerate(paths)]
    res = stitch(segs, out, loudness=None)
    frames = decode_all(out)
    audio = ff.decode_audio(out)
    return res, out, frames, audio


def test_auto_frame_count_paths_and_clean_decode(auto, chain):
    res, out, frames, _ = auto
    paths, specs = chain
    assert ff.decode_check(out) == ""
    assert len(frames) == res.frames
    # every chained seam here is a return_last_frame duplicate: exactly one frame per seam dropped
    assert all(s.seam["duplicate"] for s in res.segments[1:])
    assert sum(s.head_trim + s.tail_trim for s in res.segments) == len(paths) - 1
    for s, spec in zip(res.segments, specs):
        if spec.fps in (None, FPS):
            assert s.frames_kept == s.frames_in - s.head_trim - s.tail_trim
    assert sum(s.frames_kept for s in res.segments) == res.frames
    expected = sum(sp.frames if not sp.fps else round(sp.frames / sp.fps * FPS) for sp in specs) - (len(paths) - 1)
    assert res.frames == expected
    taken = [s.path_taken for s in res.segments]
    assert taken[3] == "reencode" and any("size" in c for c in res.segments[3].conform)
    assert taken[4] == "reencode" and any("fps" in c for c in res.segments[4].conform)
    assert taken[0] == taken[1] == "smart" and taken[6] == "copy"
    assert taken[5] in ("smart", "copy") and any("sample rate" in c for c in res.segments[5].conform)
    # timestamps strictly monotonic
    pk = packets(out)
    assert all(b.dts > a.dts for a, b in zip(pk, pk[1:]))
    pts = sorted(p.pts for p in pk)
    assert all(b > a for a, b in zip(pts, pts[1:]))


def test_no_held_frame_and_pixels_match_inputs(auto, chain):
    res, _, frames, _ = auto
    paths, _ = chain
    for s in res.segments[1:]:
        b = int(round(s.start * FPS))
        assert psnr(frames[b - 1], frames[b]) < 30, f"held frame at seam before {s.shot_id}"
    # copied and smart-rendered segments reproduce their input frames
    for i, s in enumerate(res.segments):
        if s.path_taken == "reencode":
            continue
        src = decode_all(paths[i])[s.head_trim:s.frames_in - s.tail_trim]
        b = int(round(s.start * FPS))
        for k, f in enumerate(src):
            p = psnr(frames[b + k], f)
            assert p >= 40, (s.shot_id, k, p)
        if s.path_taken == "copy":
            assert all(np.array_equal(frames[b + k], f) for k, f in enumerate(src))


def test_letterbox_conform(auto, world):
    res, _, frames, _ = auto
    s = res.segments[3]
    f = frames[int(round(s.start * FPS)) + 5].astype(int)
    inner_w = round(640 * H / 480)                      # 661: scaled to full height, bars at the sides
    bar = (W - inner_w) // 2
    assert f[:, : bar - 2].max() <= 20 and f[:, W - bar + 2:].max() <= 20
    assert f[:, bar + 10: W - bar - 10].mean() > 40    # picture inside, not stretched over the bars


def test_av_sync_and_audio_continuity(auto, chain, world):
    res, _, frames, audio = auto
    paths, specs = chain
    assert abs(audio.shape[0] / SR - len(frames) / FPS) <= 1 / FPS
    assert abs(res.audio_duration - res.duration) <= 1 / FPS
    mono = audio[:, 0]
    # each shot's audio is the world's audio at its video's time (sync well within one frame)
    t0 = 0.0
    for s, spec in zip(res.segments, specs):
        fps = spec.fps or FPS
        if spec.audio and not spec.sample_rate:
            a = int((s.start + 0.1) * SR)
            n = int(0.5 * s.duration * SR)
            lag, err = best_lag(mono[a:a + n], lambda d: world.audio(t0 + s.head_trim / fps + 0.1 + d, n))
            assert abs(lag) <= 1 / FPS and err < 0.12, (s.shot_id, lag, err)
        t0 += (spec.frames - 1) / fps
    # seams: no silence the inputs did not have, no jump beyond the inputs' own largest
    inputs_jump = max(max_jump(ff.decode_audio(p, sample_rate=SR, channels=1)) for p, sp in zip(paths, specs) if sp.audio)
    silent = res.segments[2]
    for s in res.segments[1:]:
        a = int(s.start * SR)
        win = mono[a - int(0.05 * SR): a + int(0.05 * SR)][:, None]
        assert max_jump(win) <= inputs_jump * 1.05 + 1e-3, s.shot_id
        if s is not silent and res.segments[s_index(res, s) - 1] is not silent:
            assert longest_silence(win) <= int(0.005 * SR), s.shot_id
    # the segment without audio is silence, the track does not end early
    a, e = int((silent.start + 0.05) * SR), int((silent.start + silent.duration - 0.05) * SR)
    assert np.abs(mono[a:e]).max() < 1e-3
    assert np.abs(mono[-int(0.2 * SR):]).max() > 0.05


def best_lag(got, ref_at, span=0.05, step=1 / SR):
    """Offset (s) of ``got`` against ``ref_at(offset)`` minimising the relative RMS error: coarse
    search by cross-correlation, then exact error at the best candidates."""
    ref0 = ref_at(-span)
    big = ref_at(-span)[:0]
    n = got.shape[0]
    k = int(round(2 * span * SR))
    wide = np.concatenate([ref0, ref_at(-span + n / SR)[: k]])
    corr = np.correlate(wide, got, mode="valid")
    best = sorted(np.argsort(corr)[-5:])
    errs = []
    for j in best:
        r = wide[j:j + n]
        errs.append((float(np.sqrt(np.mean((got - r) ** 2)) / np.sqrt(np.mean(r ** 2))), j))
    e, j = min(errs)
    del big
    return j / SR - span, e


def s_index(res, seg):
    return res.segments.index(seg)


def test_chapters(auto):
    res, out, _, _ = auto
    ch = probe(out).chapters
    assert [c.title for c in ch] == [f"Shot {i}" for i in range(len(res.segments))]
    for c, s in zip(ch, res.segments):
        assert abs(c.start - s.start) < 0.002


def test_keep_and_dedupe(chain, tmp_path):
    paths, _ = chain
    segs = [Segment(p, f"s{i}", chained=i > 0) for i, p in enumerate(paths[:3])]
    keep = stitch(segs, tmp_path / "keep.mp4", seam="keep", loudness=None, chapters=False)
    assert [s.path_taken for s in keep.segments] == ["copy"] * 3
    assert len(decode_all(tmp_path / "keep.mp4")) == keep.frames == 75
    assert ff.decode_check(tmp_path / "keep.mp4") == ""
    assert probe(tmp_path / "keep.mp4").chapters == []
    dd = stitch(segs, tmp_path / "dd.mp4", seam="dedupe", loudness=None)
    assert dd.frames == 73 == len(decode_all(tmp_path / "dd.mp4"))
    # cuts are never deduplicated, whatever the pixels say
    cuts = [Segment(p, f"s{i}", chained=False) for i, p in enumerate(paths[:3])]
    assert stitch(cuts, tmp_path / "cuts.mp4", loudness=None).frames == 75
    assert not list(tmp_path.glob(".*part*"))


def test_transitions(chain, tmp_path):
    paths, _ = chain
    a, b, c = paths[0], paths[1], paths[6]
    segs = [Segment(a, "a", False), Segment(b, "b", False, transition="crossfade:0.5"),
            Segment(c, "c", False, transition="fade:0.5")]
    res = stitch(segs, tmp_path / "tr.mp4", loudness=None)
    out = decode_all(tmp_path / "tr.mp4")
    assert ff.decode_check(tmp_path / "tr.mp4") == ""
    assert len(out) == res.frames == 75 - 12
    assert res.segments[1].transition_in == "crossfade:0.5"
    fa, fb = decode_all(a), decode_all(b)
    mid = 25 - 12 + 6                      # middle of the 12-frame overlap
    blend = (fa[mid].astype(np.float32) + fb[6].astype(np.float32)) / 2
    assert psnr(out[mid], blend.astype(np.uint8)) > 25
    seam = int(round(res.segments[2].start * FPS))
    assert out[seam - 1].mean() < 20 and out[seam].mean() < 20     # through black
    audio = ff.decode_audio(tmp_path / "tr.mp4")
    assert abs(audio.shape[0] / SR - len(out) / FPS) <= 1 / FPS


def test_loudness(chain, tmp_path):
    paths, _ = chain
    segs = [Segment(p, f"s{i}", chained=i > 0) for i, p in enumerate([paths[0], paths[1], paths[6]] * 2)]
    res = stitch(segs, tmp_path / "ln.mp4", seam="keep", loudness=-16.0)
    st = ff.loudness_stats(tmp_path / "ln.mp4")
    assert abs(st["integrated"] - (-16.0)) <= 1.0, st
    assert st["true_peak"] <= -1.4, st
    audio = ff.decode_audio(tmp_path / "ln.mp4")
    assert abs(audio.shape[0] / SR - res.frames / FPS) <= 1 / FPS


def test_input_errors(chain, tmp_path):
    paths, _ = chain
    with pytest.raises(InputError):
        stitch([Segment(paths[0], "a", False, transition="wipe:1")], tmp_path / "x.mp4")
    with pytest.raises(InputError):
        stitch([Segment(tmp_path / "missing.mp4", "a", False)], tmp_path / "x.mp4")
    with pytest.raises(InputError):
        stitch([Segment(paths[0], "a", False)], tmp_path / "x.mp4", seam="sometimes")
    with pytest.raises(InputError):
        stitch([], tmp_path / "x.mp4")
