"""Colour drift: Lab maths, measurement, the match guard (clips and last-frame PNGs)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from chainer.errors import InputError
from chainer.media.probe import count_audio_samples, count_frames, probe
from chainer.review.colour import LabStats, Transfer, lab_to_srgb, psnr, srgb_to_lab, ssim, write_cube
from chainer.review.drift import (apply_drift_guard, clip_stats, correct_frame_png, image_stats,
                                  match_clip, measure_drift)
from chainer.review.frames import read_first_last

from review_util import drifted, make_chain, scene


def test_lab_known_values_and_round_trip():
    lab = srgb_to_lab(np.array([[255, 255, 255], [255, 0, 0], [0, 0, 0]], np.uint8))
    assert np.allclose(lab[0], [100, 0, 0], atol=0.01)
    assert np.allclose(lab[1], [53.24, 80.09, 67.20], atol=0.05)
    assert np.allclose(lab[2], [0, 0, 0], atol=0.01)
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (2000, 3)).astype(np.uint8)
    back = np.round(lab_to_srgb(srgb_to_lab(rgb)) * 255)
    assert np.abs(back - rgb).max() <= 1


def test_cube_identity_and_layout(tmp_path):
    p = tmp_path / "id.cube"
    write_cube(p, Transfer.identity(), size=9)
    lines = p.read_text().splitlines()
    assert "LUT_3D_SIZE 9" in lines
    data = np.array([[float(v) for v in ln.split()] for ln in lines if ln[:1].isdigit()])
    assert data.shape == (9 ** 3, 3)
    g = np.linspace(0, 1, 9)
    assert np.allclose(data[1], [g[1], 0, 0], atol=1e-4)      # red varies fastest
    assert np.allclose(data[9], [0, g[1], 0], atol=1e-4)
    assert np.allclose(data[81], [0, 0, g[1]], atol=1e-4)
    assert np.abs(data - data.round(6)).max() < 1e-6


def test_reinhard_transfer_maps_stats_onto_reference():
    ref_img = np.clip(scene(0.0), 0, 255).astype(np.uint8)
    src_img = drifted(scene(0.0), 3.0)
    ref, src = LabStats.of(ref_img), LabStats.of(src_img)
    out = Transfer.reinhard(src, ref).apply_rgb(src_img)
    got = LabStats.of(out)
    assert np.allclose(got.mean, ref.mean, atol=1.0)
    assert np.allclose(got.std, ref.std, rtol=0.06)
    half = LabStats.of(Transfer.reinhard(src, ref, strength=0.5).apply_rgb(src_img))
    assert np.linalg.norm(np.subtract(half.mean, ref.mean)) < np.linalg.norm(np.subtract(src.mean, ref.mean))


def test_psnr_ssim():
    a = np.clip(scene(0.0), 0, 255).astype(np.uint8)
    assert psnr(a, a) == float("inf") and ssim(a, a) == pytest.approx(1.0)
    b = np.clip(scene(0.4), 0, 255).astype(np.uint8)
    assert 10 < psnr(a, b) < 40 and ssim(a, b) < 0.99


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    d = tmp_path_factory.mktemp("drift")
    return d, make_chain(d / "clips", ["s1", "s2", "s3", "s4"], drift=1.0)


def test_measure_drift_grows_along_the_chain(chain, tmp_path):
    _, clips = chain
    m = measure_drift({0: [(p.stem, p) for p in clips]})
    assert list(m) == ["s1", "s2", "s3", "s4"]
    assert m["s1"].first.drift < 1.0                  # the reference itself (coding noise only)
    lasts = [m[s].last.drift for s in m]
    assert all(b > a + 3 for a, b in zip(lasts, lasts[1:])), lasts
    assert lasts[-1] > 15
    # chained: each shot starts where the previous one ended
    for a, b in zip(list(m.values()), list(m.values())[1:]):
        assert abs(b.first.drift - a.last.drift) < 1.0
    assert m["s4"].last.spread_ratio < 0.85            # flatter (the synthetic drift lowers contrast)
    clean = make_chain(tmp_path, ["c1", "c2", "c3"], drift=0.0, audio=False)
    mc = measure_drift({"x": [(p.stem, p) for p in clean]})
    assert max(d.drift for d in mc.values()) < 2.5


def test_match_reduces_drift_keeps_frames_audio_and_seams(chain):
    d, clips = chain
    res = apply_drift_guard([(p.stem, 0, p) for p in clips], d / "graded", mode="match")
    before = [res[s].before.drift for s in ("s1", "s2", "s3", "s4")]
    after = [res[s].after.drift for s in ("s1", "s2", "s3", "s4")]
    assert max(after) < 3.0 and max(after) < 0.2 * max(before), (before, after)
    assert all(a < b for a, b in zip(after[1:], before[1:]))
    for s in ("s2", "s3", "s4"):
        r = res[s]
        assert r.corrected and r.clip != r.original and r.clip.exists()
        assert count_frames(r.clip) == count_frames(r.original)
        assert count_audio_samples(r.clip) == count_audio_samples(r.original)
        assert probe(r.clip).audio.codec == probe(r.original).audio.codec
        assert all(p.suffix == ".cube" and p.exists() for p in r.luts)
    # the grade is continuous across seams: graded last frame of N ~ graded first frame of N+1
    graded = [read_first_last(res[s].clip, max_width=None) for s in ("s1", "s2", "s3", "s4")]
    for (f0, l0, _), (f1, l1, _) in zip(graded, graded[1:]):
        assert psnr(l0, f1) > 34
    rec = json.loads((d / "graded" / "drift.json").read_text())
    assert rec["mode"] == "match" and [s["shot_id"] for s in rec["shots"]] == ["s1", "s2", "s3", "s4"]
    assert rec["shots"][3]["after"]["drift"] < rec["shots"][3]["before"]["drift"]


def test_match_clip_single_lut_when_drift_is_constant(tmp_path):
    # a constant cast (no ramp inside the clip): one LUT, and the cast is removed
    from review_util import FPS, H, W, tone
    from chainer.media.ffmpeg import encode_video

    frames = [drifted(scene(j / FPS), 2.0) for j in range(13)]
    src = tmp_path / "cast.mp4"
    encode_video(src, frames, width=W, height=H, audio=tone(26000, 330), preset="ultrafast", crf=14)
    ref = LabStats.of(np.clip(np.round(scene(0.0)), 0, 255).astype(np.uint8))
    out = match_clip(src, tmp_path / "out" / "cast.mp4", ref)
    assert out.exists() and (tmp_path / "out" / "cast.cube").exists()
    assert not (tmp_path / "out" / "cast.start.cube").exists()
    f0, l0, n = clip_stats(src)
    f1, l1, n1 = clip_stats(out)
    from chainer.review.colour import drift_score

    assert n1 == n == 13
    assert drift_score(f0, ref) > 8 and drift_score(f1, ref) < 2.0


def test_report_and_off_modes_leave_clips(chain, tmp_path):
    _, clips = chain
    triples = [(p.stem, 0, p) for p in clips[:2]]
    assert apply_drift_guard(triples, tmp_path / "off", mode="off") == {}
    rep = apply_drift_guard(triples, tmp_path / "rep", mode="report")
    assert all(r.clip == r.original and not r.corrected and r.after is None for r in rep.values())
    assert (tmp_path / "rep" / "drift.json").exists()
    assert not list((tmp_path / "rep").glob("*.mp4"))
    with pytest.raises(InputError, match="drift_guard"):
        apply_drift_guard(triples, tmp_path / "x", mode="fix")


def test_correct_frame_png(tmp_path):
    from PIL import Image

    ref_img = np.clip(np.round(scene(1.0)), 0, 255).astype(np.uint8)
    bad = drifted(scene(1.0), 3.0)
    Image.fromarray(bad).save(tmp_path / "last.png")
    ref = LabStats.of(ref_img)
    out = correct_frame_png(tmp_path / "last.png", tmp_path / "fixed.png", ref)
    from chainer.review.colour import drift_score

    assert drift_score(out["before"], ref) > 10
    assert drift_score(image_stats(tmp_path / "fixed.png"), ref) < 1.5
    assert Image.open(tmp_path / "fixed.png").size == (bad.shape[1], bad.shape[0])


def test_emulator_drift_is_reduced_by_match(tmp_path):
    """The emulator's own drift knob (contrast up, warm shift) accumulated over a chain of
    first_image renders: match brings every shot back near the first one."""
    render = pytest.importorskip("chainer.emulator.render")
    from PIL import Image

    clips, img = [], None
    for i in range(4):
        spec = render.RenderSpec(width=256, height=144, n_frames=17, prompt="a calm lake at dawn",
                                 seed=7, first_image=img, drift=0.12, preset="ultrafast")
        r = render.render_clip(spec, tmp_path / f"e{i}.mp4", tmp_path / f"e{i}.png")
        img = Image.open(r.last_frame_png).convert("RGB")
        clips.append(r.video)
    res = apply_drift_guard([(p.stem, 0, p) for p in clips], tmp_path / "graded", mode="match")
    before = max(r.before.drift for r in res.values())
    after = max(r.after.drift for r in res.values())
    assert before > 6, before
    assert after < 0.35 * before, (before, after)


def test_match_regrades_only_clips_whose_inputs_changed(tmp_path):
    clips = make_chain(tmp_path / "clips", ["s1", "s2", "s3", "s4"], drift=1.0, audio=False)
    triples = [(p.stem, 0, p) for p in clips]
    events = []
    first = apply_drift_guard(triples, tmp_path / "graded", mode="match",
                              progress=lambda *e: events.append(e))
    graded = [s for s, r in first.items() if r.corrected]
    assert graded == ["s1", "s2", "s3", "s4"] and not any(r.cached for r in first.values())
    assert [e for e in events if e[3] == "graded"] == [(k + 1, 4, s, "graded") for k, s in enumerate(graded)]
    assert [e[2] for e in events if e[3] == "grading"] == graded
    stamp = {s: (first[s].clip.stat().st_mtime_ns, first[s].clip.stat().st_ino) for s in graded}

    # same inputs: nothing is re-encoded, the same graded clips come back
    events.clear()
    again = apply_drift_guard(triples, tmp_path / "graded", mode="match", progress=lambda *e: events.append(e))
    assert [e[3] for e in events] == ["cached"] * 4
    assert all(again[s].cached and again[s].clip == first[s].clip for s in graded)
    assert {s: (again[s].clip.stat().st_mtime_ns, again[s].clip.stat().st_ino) for s in graded} == stamp
    assert [round(again[s].after.drift, 3) for s in graded] == [round(first[s].after.drift, 3) for s in graded]

    # s3 resubmitted (new bytes): only s3 is graded again
    redo = make_chain(tmp_path / "redo", ["s1", "s2", "s3"], drift=1.6, audio=False)[2]
    clips[2].write_bytes(redo.read_bytes())
    events.clear()
    third = apply_drift_guard(triples, tmp_path / "graded", mode="match", progress=lambda *e: events.append(e))
    assert [(e[2], e[3]) for e in events if e[3] != "grading"] == [("s1", "cached"), ("s2", "cached"),
                                                                  ("s3", "graded"), ("s4", "cached")]
    assert third["s3"].after.drift < 0.5 * third["s3"].before.drift
    # a graded output altered on disk is not trusted
    first["s4"].clip.write_bytes(b"not a video")
    events.clear()
    apply_drift_guard(triples, tmp_path / "graded", mode="match", progress=lambda *e: events.append(e))
    assert ("s4", "graded") in [(e[2], e[3]) for e in events]
    # a new reference (the first shot changed) regrades the whole sequence
    clips[0].write_bytes(make_chain(tmp_path / "ref", ["s1"], drift=0.0, t0=0.5, audio=False)[0].read_bytes())
    events.clear()
    apply_drift_guard(triples, tmp_path / "graded", mode="match", progress=lambda *e: events.append(e))
    assert "cached" not in [e[3] for e in events]


def test_match_keeps_a_requested_last_frame(tmp_path):
    """s2 ends on a requested last image (a bookend). Grading it like any shot moves that frame
    (the old behaviour, kept reachable without ``bookends``); with ``bookends`` the correction
    blends to zero there and the next shot starts from zero, so the seam stays continuous."""
    render = pytest.importorskip("chainer.emulator.render")
    from PIL import Image

    from chainer.review.frames import read_first_last
    from emulator_util import image

    w, h = 432, 240
    bookend = np.asarray(render.draw_scene("golden desert dunes at sunset", 5, w, h))
    clips, img = [], image(w, h, seed=1)
    for i in range(3):
        spec = render.RenderSpec(width=w, height=h, n_frames=25, prompt="a calm lake, static camera", seed=7 + i,
                                 first_image=img, last_image=Image.fromarray(bookend) if i == 1 else None,
                                 drift=0.15, preset="ultrafast")
        r = render.render_clip(spec, tmp_path / f"s{i + 1}.mp4", tmp_path / f"s{i + 1}.png")
        img = Image.open(r.last_frame_png).convert("RGB")
        clips.append(r.video)
    triples = [(p.stem, 0, p) for p in clips]
    ungraded = psnr(read_first_last(clips[1], max_width=None)[1], bookend)
    assert ungraded > 36
    plain = apply_drift_guard(triples, tmp_path / "plain", mode="match")
    assert plain["s2"].corrected
    moved = psnr(read_first_last(plain["s2"].clip, max_width=None)[1], bookend)
    assert moved < ungraded - 5, (ungraded, moved)                       # what the guard did before
    kept = apply_drift_guard(triples, tmp_path / "kept", mode="match", bookends={"s2"})
    assert kept["s2"].bookend and kept["s2"].corrected                  # its first frame is still graded
    g2 = read_first_last(kept["s2"].clip, max_width=None)
    assert psnr(g2[1], bookend) > ungraded - 1.0, (ungraded, psnr(g2[1], bookend))
    assert kept["s2"].transfer["end"] == {"scale": [1.0, 1.0, 1.0], "offset": [0.0, 0.0, 0.0]}
    g3 = read_first_last(kept["s3"].clip if kept["s3"].corrected else clips[2], max_width=None)
    assert psnr(g2[1], g3[0]) > 34                                       # no step at the seam after it
    if kept["s3"].corrected:
        assert kept["s3"].transfer["start"] == {"scale": [1.0, 1.0, 1.0], "offset": [0.0, 0.0, 0.0]}
