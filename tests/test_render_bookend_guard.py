"""Issue 14: under ``drift_guard: match`` a shot with a requested last frame (``last_image``) keeps
it: the graded clip's last frame stays within 1 dB (PSNR against the bookend) of the ungraded
clip's, through a real render on an emulator that drifts, while the shot before it is corrected."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image

import chainer
from chainer.emulator import EmulatorConfig
from chainer.media.last_frame import extract_last_frame
from render_util import psnr, write_storyboard

ROOT = Path(__file__).resolve().parent.parent


def _last(clip: Path, tmp: Path) -> np.ndarray:
    png = tmp / f"{clip.parent.name}-{clip.stem}.png"
    extract_last_frame(clip, png)
    return np.asarray(Image.open(png).convert("RGB"))


def test_bookend_keeps_its_last_frame_under_match(tmp_path):
    shutil.copy(ROOT / "storyboards" / "images" / "bloom.jpg", tmp_path / "bloom.jpg")
    sb = write_storyboard(tmp_path / "sb.yaml", [
        {"id": "s1", "prompt": "A garden at dawn, slow push in"},
        {"id": "s2", "prompt": "The bud opens into a flower", "last_image": "bloom.jpg"},
        {"id": "s3", "prompt": "Petals fall, the camera pulls back"},
    ], model="seedance-2.0", drift_guard="match",
        defaults={"resolution": "480p", "ratio": "16:9", "duration": 4, "seed": 5})
    res = chainer.render(sb, run_dir=tmp_path / "run", yes=True, preview=False,
                         emulator_config=EmulatorConfig(latency=0.1, drift=0.2), poll=0.05)
    assert res.ok, res.problems
    run = tmp_path / "run"
    graded = run / "graded" / "s2.mp4"
    assert graded.is_file(), "the drifting shot was not graded"
    w, h = Image.open(tmp_path / "bloom.jpg").size
    ungraded_last = _last(run / "clips" / "s2.mp4", tmp_path)
    graded_last = _last(graded, tmp_path)
    size = (ungraded_last.shape[1], ungraded_last.shape[0])
    bookend = np.asarray(Image.open(tmp_path / "bloom.jpg").convert("RGB").resize(size))
    before, after = psnr(ungraded_last, bookend), psnr(graded_last, bookend)
    assert after >= before - 1.0, (before, after, (w, h))
    # and the grade did act on the shot (its first frame moved toward the sequence's look)
    assert psnr(graded_last, ungraded_last) > 30
