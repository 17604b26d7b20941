"""The emulator's motion model (motion.py) and video extension (extend.py), decoded and measured:
per-frame motion well above coding noise, a stall after a last-frame seam, an extension that
continues the reference's positions, velocities and colour, its billing and what it refuses."""
from __future__ import annotations

import io
import math
import random

import httpx
import numpy as np
import pytest
from PIL import Image

from chainer import models
from chainer.emulator import Emulator, EmulatorConfig, motion
from chainer.emulator.extend import extension_target
from chainer.extension import tokens_with_video_input as usage_tokens
from chainer.emulator.render import RenderSpec, iter_frames
from chainer.media import ffmpeg
from chainer.review.colour import LabStats, delta_e
from emulator_util import LITE_I2V, PRO_15, TASKS, V20, client, create, data_url, image, wait_status

W, H = models.resolve_model(V20).pixels("480p", "16:9")        # 864x496
PROMPT = "boats on a lake, static camera"


def grey64(frame: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(frame).convert("L").resize((64, 36), Image.BOX), dtype=float)


def change(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of 64x36 grey frames (levels)."""
    return float(np.abs(grey64(a) - grey64(b)).mean())


def locate(frame: np.ndarray, m: motion.Mover, near: tuple[float, float], window: float) -> tuple[float, float]:
    """Where mover ``m`` (its colour and size) is in ``frame``, searching ``window`` px around
    ``near``: the centre where the pixels inside a disc of its radius are closest to its colour
    and those in the ring around it farthest (matched filter, by FFT)."""
    pad = int(window + 1.6 * m.r) + 2
    cx, cy = int(round(near[0])), int(round(near[1]))
    x0, y0 = max(0, cx - pad), max(0, cy - pad)
    x1, y1 = min(frame.shape[1], cx + pad + 1), min(frame.shape[0], cy + pad + 1)
    dist = np.abs(frame[y0:y1, x0:x1].astype(float) - np.asarray(m.colour)).sum(axis=2)
    k = int(1.5 * m.r) + 1
    yy, xx = np.mgrid[-k:k + 1, -k:k + 1]
    rr = np.hypot(xx, yy)
    disc, ring = rr <= m.r * 0.9, (rr > m.r * 1.1) & (rr <= m.r * 1.5)
    kern = disc / disc.sum() - ring / ring.sum()
    shape = (dist.shape[0] + kern.shape[0], dist.shape[1] + kern.shape[1])
    score = np.fft.irfft2(np.fft.rfft2(dist, shape) * np.fft.rfft2(kern, shape), shape)
    score = score[k:k + dist.shape[0], k:k + dist.shape[1]]          # "same" alignment
    ys, xs = np.mgrid[y0:y1, x0:x1]
    valid = (np.abs(xs - near[0]) <= window) & (np.abs(ys - near[1]) <= window)
    score = np.where(valid, score, np.inf)
    j = np.unravel_index(np.argmin(score), score.shape)
    return float(xs[j]) + 0.5, float(ys[j]) + 0.5


def test_fresh_clip_moves_well_above_coding_noise_and_is_deterministic():
    first = image(W, H, seed=1)
    spec = RenderSpec(width=W, height=H, n_frames=49, prompt=PROMPT, seed=11, first_image=first)
    frames = [np.asarray(f) for _, f in iter_frames(spec)]
    assert np.array_equal(frames[0], np.asarray(first))                # frame 0 is the image
    d = [change(a, b) for a, b in zip(frames, frames[1:])]
    assert np.median(d[motion.FADE_FRAMES:]) >= 3.0 and min(d[motion.FADE_FRAMES:]) > 1.5, d
    again = [np.asarray(f) for _, f in iter_frames(spec)]
    assert all(np.array_equal(a, b) for a, b in zip(frames, again))
    other = np.asarray(list(iter_frames(RenderSpec(width=W, height=H, n_frames=13, prompt=PROMPT, seed=12,
                                                   first_image=first)))[-1][1])
    assert change(other, frames[12]) > 2.0                             # another seed, other motion


def test_movers_bounce_and_keep_speed():
    st = motion.MotionState(100, 60, (motion.Mover(95.0, 30.0, 4.0, 0.0, 5.0, (255, 0, 0)),))
    after = motion.advance(st, 1).movers[0]
    assert (after.x, after.vx) == (91.0, -4.0)                         # 99 reflected off 95
    assert motion.MotionState.from_dict(st.to_dict()) == st


def test_extension_prompt_forms():
    assert extension_target("extend video 1: the boats sail on", 1) == 0
    assert extension_target("Extend video 2 with a storm", 2) == 1
    assert extension_target("向后延长「视频1」，小船继续前行", 1) == 0
    assert extension_target("生成「视频1」之后的内容", 1) == 0
    assert extension_target("extend video 1 backwards", 1) is None
    assert extension_target("向前延长「视频1」", 1) is None
    assert extension_target("a boat in video 1", 1) is None
    assert extension_target("the boats sail on", 1, task_type="extend") == 0


def test_usage_bills_input_video_with_the_2_0_minimum():
    # hosts-2026.md s4: 2.0 720p 4 s + 4 s video in = 900 x 193 tokens
    assert usage_tokens(1280, 720, 97, [97 / 24], "2.0") == 173_700
    # minimum 480p 4 s (official table): 70,308 when a 2 s input would bill less
    assert usage_tokens(864, 496, 97, [49 / 24], "2.0") == 70_308
    assert usage_tokens(864, 496, 97, [49 / 24], "2.5") == math.floor(864 * 496 * (97 + 48) / 1024)


@pytest.fixture(scope="module")
def seam(tmp_path_factory):
    """A (first clip), B (chained by its last frame), C (an extension of A), decoded."""
    tmp = tmp_path_factory.mktemp("seam")
    # rng: a fixed seed for A, one whose movers are mostly free of walls and of each other at the
    # seam (so each can be located in the pixels on its own)
    cfg = EmulatorConfig(latency=0, render_workers=2, x264_preset="veryfast", rng=random.Random(4))
    with Emulator(cfg) as e, client(e) as c:
        body = {"model": V20, "resolution": "480p", "ratio": "16:9", "duration": 4, "return_last_frame": True,
                "generate_audio": False}
        a = wait_status(c, create(c, {**body, "content": [
            {"type": "text", "text": PROMPT},
            {"type": "image_url", "image_url": {"url": data_url(image(W, H, seed=1))}, "role": "first_frame"}]}),
            timeout=120)
        assert a["status"] == "succeeded", a
        png = Image.open(io.BytesIO(httpx.get(a["content"]["last_frame_url"], trust_env=False).content))
        video_url = a["content"]["video_url"]
        ids = {
            "b": create(c, {**body, "content": [
                {"type": "text", "text": PROMPT},
                {"type": "image_url", "image_url": {"url": data_url(png)}, "role": "first_frame"}]}),
            "c": create(c, {**body, "content": [
                {"type": "text", "text": "extend video 1, the boats sail on, static camera"},
                {"type": "video_url", "video_url": {"url": video_url}, "role": "reference_video"}]}),
        }
        done = {k: wait_status(c, v, timeout=120) for k, v in ids.items()}
        refusals = {
            "video2": c.post(TASKS, json={**body, "content": [
                {"type": "text", "text": "extend video 2"},
                {"type": "video_url", "video_url": {"url": video_url}, "role": "reference_video"}]}),
            "pro15": c.post(TASKS, json={"model": PRO_15, "content": [
                {"type": "text", "text": "extend video 1"},
                {"type": "video_url", "video_url": {"url": video_url}, "role": "reference_video"}]}),
            "foreign": c.post(TASKS, json={**body, "content": [
                {"type": "text", "text": "extend video 1"},
                {"type": "video_url", "video_url": {"url": "http://192.0.2.1/x.mp4"}, "role": "reference_video"}]}),
        }
        short = wait_status(c, create(c, {"model": LITE_I2V, "resolution": "480p", "frames": 29, "content": [
            {"type": "text", "text": "x"},
            {"type": "image_url", "image_url": {"url": data_url(image(864, 480, seed=2))}, "role": "first_frame"}]}))
        refusals["short"] = c.post(TASKS, json={**body, "content": [
            {"type": "text", "text": "extend video 1"},
            {"type": "video_url", "video_url": {"url": short["content"]["video_url"]}, "role": "reference_video"}]})
        out = {"a": a, "refusals": refusals, **done}
        for k in ("a", "b", "c"):
            assert out[k]["status"] == "succeeded", out[k]
            path = tmp / f"{k}.mp4"
            path.write_bytes(httpx.get(out[k]["content"]["video_url"], trust_env=False).content)
            out[k + "_mp4"] = path
            out[k + "_frames"] = list(ffmpeg.decode_frames(path, W, H))
    return out


def test_extension_is_billed_with_its_input_seconds(seam):
    assert seam["c"]["usage"]["completion_tokens"] == math.floor(W * H * (97 + 96) / 1024)
    assert seam["b"]["usage"]["completion_tokens"] == math.floor(W * H * 97 / 1024)


def test_extension_refuses_what_ark_refuses(seam):
    for name, r in seam["refusals"].items():
        assert r.status_code == 400, (name, r.text)
    assert "video 2" in seam["refusals"]["video2"].json()["error"]["message"]
    assert "[2, 15]" in seam["refusals"]["short"].json()["error"]["message"]


def test_extension_continues_motion_and_colour_while_a_last_frame_seam_stalls(seam):
    a, b, c = seam["a_frames"], seam["b_frames"], seam["c_frames"]
    assert len(a) == len(b) == len(c) == 97                           # C holds only new content
    in_shot = float(np.median([change(x, y) for x, y in zip(a[-12:], a[-11:])]))
    assert in_shot >= 3.0
    ext_seam, stall_seam = change(a[-1], c[0]), change(a[-1], b[1])
    assert change(a[-1], b[0]) < 1.0                                  # B starts on A's last frame
    assert ext_seam > 0.6 * in_shot, (ext_seam, in_shot)              # no held or duplicated frame
    assert stall_seam < 0.25 * in_shot, (stall_seam, in_shot)          # B holds still at first
    # colour carries on across the extension seam: it changes no more than within the shot
    step_de = [delta_e(LabStats.of(x), LabStats.of(y)) for x, y in zip(a[-12:], a[-11:])]
    assert delta_e(LabStats.of(a[-1]), LabStats.of(c[0])) <= max(step_de) + 0.5, step_de
    # per mover: position at C's first frame = A's last position + A's last velocity
    movers = motion.MotionLayer(W, H, 97, seam["a"]["seed"]).movers_at(96)
    ext_ok = stall_ok = candidates = 0
    for m in movers:
        v = math.hypot(m.vx, m.vy)
        near_wall = not (m.r + 1.5 * v < m.x < W - m.r - 1.5 * v and m.r + 1.5 * v < m.y < H - m.r - 1.5 * v)
        if near_wall or any(math.hypot(o.x - m.x, o.y - m.y) < m.r + o.r + v for o in movers if o is not m):
            continue                               # a bounce or an occlusion at the seam
        candidates += 1
        p1 = locate(a[-1], m, (m.x, m.y), 3 * v)
        p0 = locate(a[-2], m, (m.x - m.vx, m.y - m.vy), 3 * v)
        vel = (p1[0] - p0[0], p1[1] - p0[1])
        assert math.hypot(vel[0] - m.vx, vel[1] - m.vy) < 0.2 * v + 2  # the model agrees with the pixels
        pc = locate(c[0], m, p1, 3 * v)
        predicted = (p1[0] + vel[0], p1[1] + vel[1])
        ext_ok += math.hypot(pc[0] - predicted[0], pc[1] - predicted[1]) < 0.25 * v + 2
        pb = locate(b[1], m, p1, 3 * v)
        stall_ok += math.hypot(pb[0] - p1[0], pb[1] - p1[1]) < 0.15 * v + 1.5           # held still
    assert candidates >= 3, "too few free movers to measure"
    assert ext_ok == candidates and stall_ok == candidates, (ext_ok, stall_ok, candidates)


def test_a_stall_starts_exactly_on_the_first_image_and_states_rescale():
    first = image(W, H, seed=3)
    out: list = []
    frames = [np.asarray(f) for _, f in iter_frames(RenderSpec(width=W, height=H, n_frames=13, prompt=PROMPT,
                                                               seed=2, first_image=first), out)]
    end = out[0]
    last = Image.fromarray(frames[-1])
    stall = [np.asarray(f) for _, f in iter_frames(RenderSpec(width=W, height=H, n_frames=4, prompt=PROMPT, seed=4,
                                                              first_image=last, motion=motion.Start("stall", end)))]
    assert np.array_equal(stall[0], frames[-1])
    half = motion.MotionLayer(W // 2, H // 2, 2, 1, motion.Start("continue", end))
    assert half.kind == "continue"
    m0, h0 = motion.advance(end, 1).movers[0], half.movers_at(0)[0]
    assert (h0.x, h0.y) == pytest.approx((m0.x / 2, m0.y / 2), abs=1.0)
    assert motion.MotionLayer(W, W, 2, 1, motion.Start("continue", end)).kind == "fresh"   # other aspect
