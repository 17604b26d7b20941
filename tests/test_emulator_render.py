"""Rendered clips, decoded: size, fps, frame count, audio, first/last frame fidelity, PNG = last
frame, determinism by seed, motion from camera words, drift."""
from __future__ import annotations

import hashlib

import httpx
import numpy as np
import pytest
from PIL import Image

from chainer import models
from chainer.emulator import Emulator, EmulatorConfig
from chainer.emulator.render import RenderSpec, camera_from_prompt, iter_frames
from chainer.media import ffmpeg, probe
from emulator_util import LITE_I2V, LITE_T2V, V20, client, create, data_url, image, psnr, wait_status

W1, H1 = models.resolve_model(LITE_I2V).pixels("480p", "16:9")      # 864x480
W2, H2 = models.resolve_model(V20).pixels("480p", "16:9")           # 864x496


@pytest.fixture(scope="module")
def emu():
    # veryfast: same profile, B-frames and GOP as the default "medium", a third of the CPU
    with Emulator(EmulatorConfig(latency=0, render_workers=2, x264_preset="veryfast")) as e:
        yield e


def _fetch(url: str, dest) -> bytes:
    data = httpx.get(url, trust_env=False, timeout=30).content
    dest.write_bytes(data)
    return data


def _render(emu, tmp, name: str, body: dict) -> dict:
    with client(emu) as c:
        done = wait_status(c, create(c, body), timeout=60)
    assert done["status"] == "succeeded", done
    out = {"task": done, "mp4": tmp / f"{name}.mp4"}
    out["mp4_bytes"] = _fetch(done["content"]["video_url"], out["mp4"])
    if "last_frame_url" in done["content"]:
        out["png"] = tmp / f"{name}.png"
        out["png_bytes"] = _fetch(done["content"]["last_frame_url"], out["png"])
    return out


def _i2v_body(first: Image.Image, prompt: str, seed=7, **kw) -> dict:
    return {"model": LITE_I2V, "content": [
        {"type": "text", "text": prompt},
        {"type": "image_url", "image_url": {"url": data_url(first)}, "role": "first_frame"}],
        "resolution": "480p", "duration": 2, "seed": seed, "return_last_frame": True, **kw}


@pytest.fixture(scope="module")
def clips(emu, tmp_path_factory):
    """Render every clip the tests need once, concurrently (the emulator runs 2 renders at a time)."""
    tmp = tmp_path_factory.mktemp("clips")
    first = image(W1, H1, seed=1)
    square = image(800, 800, seed=2)
    last = image(W1, H1, seed=3)
    bodies = {
        "i2v": _i2v_body(first, "a boat drifts, slow pan left"),
        "i2v_again": _i2v_body(first, "a boat drifts, slow pan left"),
        "v2_square": {"model": V20, "content": [
            {"type": "text", "text": "waves under a sunset sky, push in"},
            {"type": "image_url", "image_url": {"url": data_url(square)}, "role": "first_frame"}],
            "resolution": "480p", "ratio": "16:9", "duration": 4, "return_last_frame": True},
        "first_last": {"model": LITE_I2V, "content": [
            {"type": "text", "text": "morph, orbit"},
            {"type": "image_url", "image_url": {"url": data_url(first)}, "role": "first_frame"},
            {"type": "image_url", "image_url": {"url": data_url(last)}, "role": "last_frame"}],
            "resolution": "480p", "duration": 2, "seed": 5, "return_last_frame": True},
        "t2v_static": {"model": LITE_T2V, "content": [{"type": "text", "text": "a forest at night, static camera"}],
                       "resolution": "480p", "frames": 29, "camera_fixed": True},
    }
    with client(emu) as c:
        ids = {name: create(c, body) for name, body in bodies.items()}
    out = {}
    with client(emu) as c:
        for name, tid in ids.items():
            done = wait_status(c, tid, timeout=90)
            assert done["status"] == "succeeded", done
            rec = {"task": done, "mp4": tmp / f"{name}.mp4"}
            rec["mp4_bytes"] = _fetch(done["content"]["video_url"], rec["mp4"])
            if "last_frame_url" in done["content"]:
                rec["png"] = tmp / f"{name}.png"
                rec["png_bytes"] = _fetch(done["content"]["last_frame_url"], rec["png"])
            out[name] = rec
    out["images"] = {"first": first, "square": square, "last": last}
    return out


def _frames(path, w, h):
    return list(ffmpeg.decode_frames(path, w, h))


def test_i2v_clip_format_and_first_frame(clips):
    rec = clips["i2v"]
    info = probe.probe(rec["mp4"])
    v = info.video
    assert (v.codec, v.profile, v.pix_fmt, v.width, v.height, v.fps) == ("h264", "High", "yuv420p", W1, H1, 24)
    assert info.audio is None                                    # 1.0: no audio
    pk = probe.packets(rec["mp4"])
    assert len(pk) == 49 == models.frames_for_duration(2)
    assert sum(p.keyframe for p in pk) == 1                      # one keyframe per clip
    assert any(p.pts != p.dts for p in pk)                       # B-frames reorder
    frames = _frames(rec["mp4"], W1, H1)
    assert len(frames) == 49
    assert psnr(frames[0], np.asarray(clips["images"]["first"])) > 35
    # a pan moves the picture: far from the first frame at the end, never frozen on the way
    assert psnr(frames[-1], frames[0]) < 25
    assert all(np.abs(frames[i].astype(int) - frames[i + 1]).mean() > 0.3 for i in range(len(frames) - 1))


def test_last_frame_png_is_the_clips_last_frame(clips):
    rec = clips["i2v"]
    png = Image.open(rec["png"])
    assert png.format == "PNG" and png.size == (W1, H1)
    last = _frames(rec["mp4"], W1, H1)[-1]
    assert psnr(last, np.asarray(png.convert("RGB"))) > 35


def test_same_seed_and_request_are_byte_identical(clips):
    a, b = clips["i2v"], clips["i2v_again"]
    assert a["task"]["id"] != b["task"]["id"]
    assert hashlib.sha256(a["mp4_bytes"]).digest() == hashlib.sha256(b["mp4_bytes"]).digest()
    assert a["png_bytes"] == b["png_bytes"]


def test_v2_crop_rule_audio_and_frame_count(clips):
    rec = clips["v2_square"]
    t = rec["task"]
    assert (t["resolution"], t["ratio"], t["duration"], t["generate_audio"]) == ("480p", "16:9", 4, True)
    info = probe.probe(rec["mp4"])
    assert (info.video.width, info.video.height) == (W2, H2)
    assert info.audio is not None and (info.audio.codec, info.audio.sample_rate, info.audio.channels) == ("aac", 48000, 1)
    assert probe.count_frames(rec["mp4"]) == 97
    # ark-api.md s3: W/H (1.0) < 16:9 -> keep the full width, crop the height, centered
    sq = clips["images"]["square"]
    ch = round(800 / (W2 / H2))
    expected = sq.crop((0, (800 - ch) // 2, 800, (800 - ch) // 2 + ch)).resize((W2, H2), Image.LANCZOS)
    first = _frames(rec["mp4"], W2, H2)[0]
    assert psnr(first, np.asarray(expected)) > 35
    # audio: the whole clip long and continuous in level (no fades, no gaps)
    audio = ffmpeg.decode_audio(rec["mp4"])[:, 0]
    assert abs(len(audio) / 48000 - 97 / 24) < 0.05
    body = audio[2400: len(audio) - 2400]
    win = body[: len(body) // 4800 * 4800].reshape(-1, 4800)          # 100 ms windows
    rms_db = 20 * np.log10(np.sqrt((win ** 2).mean(axis=1)))
    assert rms_db.min() > -30 and rms_db.max() - rms_db.min() < 4


def test_first_last_clip_ends_on_the_last_image(clips):
    rec = clips["first_last"]
    frames = _frames(rec["mp4"], W1, H1)
    assert psnr(frames[0], np.asarray(clips["images"]["first"])) > 35
    assert psnr(frames[-1], np.asarray(clips["images"]["last"])) > 35
    assert psnr(np.asarray(Image.open(rec["png"]).convert("RGB")), np.asarray(clips["images"]["last"])) > 60


def test_t2v_static_camera_still_moves_and_frames_param(clips):
    rec = clips["t2v_static"]
    t = rec["task"]
    assert t["frames"] == 29 and "duration" not in t and isinstance(t["seed"], int)
    w, h = models.resolve_model(LITE_T2V).pixels("480p", "16:9")
    frames = _frames(rec["mp4"], w, h)
    assert len(frames) == 29
    assert frames[0].std() > 10                                   # a drawn scene, not a flat colour
    diffs = [np.abs(frames[i].astype(int) - frames[i + 1]).mean() for i in range(28)]
    assert min(diffs[12:]) > 0.05                                 # moving detail: never a still
    # but no camera move: the movers (motion.py) change part of the picture, the rest stays put
    # (median over a 64x36 grey version, where the coding noise averages out)
    g0, gl = (np.asarray(Image.fromarray(f).convert("L").resize((64, 36), Image.BOX), float)
              for f in (frames[0], frames[-1]))
    assert np.median(np.abs(g0 - gl)) < 1.0


def test_drift_shifts_colour_and_contrast(tmp_path):
    first = image(W1, H1, seed=1)
    with Emulator(EmulatorConfig(latency=0, drift=0.3, x264_preset="ultrafast")) as e:
        rec = _render(e, tmp_path, "drift", _i2v_body(first, "a boat, static camera", duration=None, frames=29))
    frames = _frames(rec["mp4"], W1, H1)
    f0, fl = frames[0].astype(float), frames[-1].astype(float)
    assert psnr(frames[0], np.asarray(first)) > 30                # frame 0 still is the image
    shift = fl.mean(axis=(0, 1)) - f0.mean(axis=(0, 1))
    assert shift[0] > 5 and shift[2] < -5                         # warmer
    assert fl.std() > f0.std() * 1.1                              # more contrast


@pytest.mark.parametrize("prompt, sign", [("pan left across the hills", -1), ("pan right across the hills", 1),
                                          ("the camera is static", 0)])
def test_camera_words_drive_the_move(prompt, sign):
    spec = RenderSpec(width=320, height=192, n_frames=13, prompt=prompt, seed=4, first_image=image(320, 192, 4))
    # column profiles; best s means the last frame shows at column i what frame 0 showed at i + s
    # (camera pans left -> the picture slides right on screen -> s < 0)
    frames = [np.asarray(f, dtype=float).mean(axis=(0, 2)) for _, f in iter_frames(spec)]
    a, b = frames[0] - frames[0].mean(), frames[-1] - frames[-1].mean()
    shifts = range(-80, 81)
    best = max(shifts, key=lambda s: float(np.dot(a[max(0, s):len(a) + min(0, s)],
                                                  b[max(0, -s):len(b) - max(0, s)])) / (len(a) - abs(s)))
    if sign == 0:
        assert abs(best) <= 2
    else:
        assert best * sign > 20, best


def test_camera_word_table():
    assert camera_from_prompt("slow dolly in on her face", False, 1).name == "push_in"
    assert camera_from_prompt("pull back to reveal the city", False, 1).name == "pull_back"
    assert camera_from_prompt("crane up over the trees", False, 1).name == "crane_up"
    assert camera_from_prompt("orbit around the statue", False, 1).name == "orbit"
    assert camera_from_prompt("tilt down to the river", False, 1).name == "tilt_down"
    assert camera_from_prompt("pan left", True, 1).name == "static"             # camera_fixed wins
    assert camera_from_prompt("a cat sleeps", False, 1).name == "gentle"


def test_hevc_10bit_render(tmp_path):
    """codec hevc10: 10-bit HEVC Main10 with every frame and the exact last frame as PNG."""
    import av

    from chainer.emulator.render import render_clip

    spec = RenderSpec(width=640, height=352, n_frames=25, prompt="a lighthouse, pan left", seed=3,
                      generate_audio=True, preset="ultrafast", codec="hevc10")
    res = render_clip(spec, tmp_path / "c.mp4", tmp_path / "c.png")
    v = probe.probe(res.video).video
    assert (v.codec, v.pix_fmt, v.width, v.height) == ("hevc", "yuv420p10le", 640, 352)
    with av.open(str(res.video)) as f:
        stream = f.streams.video[0]
        assert stream.codec_context.profile == "Main 10"
        frames = [fr.to_ndarray(format="rgb24") for fr in f.decode(stream)]
    assert len(frames) == 25
    assert psnr(frames[-1], np.asarray(Image.open(res.last_frame_png).convert("RGB"))) > 35


def test_hevc_only_where_ark_delivers_it():
    v25, v20 = models.resolve_model("seedance-2.5"), models.resolve_model("seedance-2.0")
    assert [r for r in v25.resolutions if v25.is_hevc_10bit(r)] == ["1080p"]
    assert [r for r in v20.resolutions if v20.is_hevc_10bit(r)] == ["4k"]
    assert not any(models.resolve_model(m).hevc_10bit for m in models.MODELS
                   if m not in ("seedance-2.0", "seedance-2.5"))


@pytest.mark.slow
def test_emulator_serves_2_5_1080p_as_10bit_hevc(tmp_path):
    with Emulator(EmulatorConfig(latency=0, x264_preset="ultrafast")) as e, client(e) as c:
        tid = create(c, {"model": "doubao-seedance-2-5-260628", "resolution": "1080p",
                         "duration": 4, "ratio": "16:9", "generate_audio": False,
                         "content": [{"type": "text", "text": "a harbour at dusk"}]})
        done = wait_status(c, tid, timeout=240)
        assert done["status"] == "succeeded", done
        path = tmp_path / "c.mp4"
        path.write_bytes(httpx.get(done["content"]["video_url"], trust_env=False).content)
    v = probe.probe(path).video
    assert (v.codec, v.pix_fmt, v.width, v.height) == ("hevc", "yuv420p10le", 1920, 1080)
    assert len(probe.packets(path)) == 97
