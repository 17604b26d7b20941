"""Local exact-last-frame extraction (hosts without a last-frame output: fal, Replicate)."""
from __future__ import annotations

import av
import numpy as np
import pytest
from PIL import Image

from chainer.media.ffmpeg import decode_frames
from chainer.media.last_frame import ImageLimits, LastFrameError, extract_last_frame


def write_clip(path, *, codec: str, pix_fmt: str, width: int, height: int, n: int) -> None:
    """A clip whose every frame differs (a moving bar over a per-frame gradient)."""
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=24)
        s.width, s.height, s.pix_fmt = width, height, pix_fmt
        if codec == "libx265":
            s.options = {"x265-params": "log-level=error"}
        y, x = np.mgrid[0:height, 0:width]
        for i in range(n):
            arr = np.stack([(x * 255 // width + i * 9) % 256, (y * 255 // height) % 256,
                            np.full_like(x, (i * 37) % 256)], -1).astype(np.uint8)
            arr[:, (i * 13) % width:(i * 13) % width + 24] = (255, 255, 255)
            for p in s.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


@pytest.mark.parametrize("codec,pix_fmt", [("libx264", "yuv420p"), ("libx265", "yuv420p10le")])
def test_last_frame_is_the_exact_final_decoded_frame_in_8_bit(tmp_path, codec, pix_fmt):
    clip = tmp_path / "clip.mp4"
    write_clip(clip, codec=codec, pix_fmt=pix_fmt, width=640, height=368, n=49)
    with av.open(str(clip)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == pix_fmt
    frames = list(decode_frames(clip, 640, 368))
    assert len(frames) == 49
    lf = extract_last_frame(clip, tmp_path / "last.png")
    with Image.open(lf.path) as img:
        got = np.asarray(img)
    head = lf.path.read_bytes()[:26]
    assert head[12:16] == b"IHDR" and (head[24], head[25]) == (8, 2)   # 8-bit depth, truecolour
    assert (lf.width, lf.height) == (640, 368) and lf.size_bytes == lf.path.stat().st_size
    assert np.array_equal(got, frames[-1])                           # pixel-exact
    assert not np.array_equal(got, frames[-2])                       # and not its neighbour
    assert lf.data_uri().startswith("data:image/png;base64,")
    assert not list(tmp_path.glob("*.part.png"))


def test_last_frame_checked_against_host_limits(tmp_path):
    clip = tmp_path / "wide.mp4"
    write_clip(clip, codec="libx264", pix_fmt="yuv420p", width=960, height=320, n=5)   # aspect 3.0
    with pytest.raises(LastFrameError, match="aspect"):
        extract_last_frame(clip, tmp_path / "last.png")
    with pytest.raises(LastFrameError, match="bytes"):
        extract_last_frame(clip, tmp_path / "last.png", limits=ImageLimits(max_aspect=3.5, max_bytes=1000))
    assert not (tmp_path / "last.png").exists() and not list(tmp_path.glob("*.part.png"))


def test_no_video_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(LastFrameError):
        extract_last_frame(bad, tmp_path / "last.png")
