"""write_review runs in bounded memory: peak RSS does not grow with the number of shots.

A long run (40 shots at 864x496, 480p's size, rendered by the product against the emulator) is
reviewed in a fresh child process; its peak RSS
(VmHWM) minus its RSS after the imports is the growth. The review used to keep five full frames
per shot until the end (~6.4 MB a shot at this size: > 250 MB here); now frames live only until
their seam is scored and thumbnails until their contact-sheet page is written.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from cli_util import chainer, cwd

ROOT = Path(__file__).resolve().parent.parent
MODEL = "doubao-seedance-1-0-pro-fast-251015"

CHILD = r"""
import json, os, sys
sys.path.insert(0, sys.argv[1])
from chainer.review import write_review
import chainer.review.contact_sheet, chainer.review.report, chainer.review.otio_export  # noqa
import chainer.review.charts, chainer.review.drift, chainer.review.chapters  # noqa
def mb(key):
    # /proc, not ru_maxrss: ru_maxrss keeps the forking parent's high-water mark across exec
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key):
                return int(line.split()[1]) / 1024
run_dir = sys.argv[2]
summary = json.load(open(os.path.join(run_dir, "summary.json")))
base = mb("VmRSS:")
write_review(run_dir, summary, drift_guard="match", export_formats=False)
print(json.dumps({"base_mb": base, "peak_mb": mb("VmHWM:"), "growth_mb": mb("VmHWM:") - base}))
"""


def render_long_run(root: Path, name: str, n_shots: int) -> Path:
    """A run of ``n_shots`` 480p shots (864x496) rendered by the product against the emulator:
    four chained sequences rendered side by side, ``drift_guard: match`` (so the review measures
    the downloaded and the graded clips)."""
    shots = []
    for i in range(n_shots):
        shot = {"id": f"s{i:02d}", "prompt": f"shot {i}, slow pan across a lake"}
        if i and i % max(1, -(-n_shots // 4)) == 0:
            shot["cut"] = True
        shots.append(shot)
    doc = {"title": "long run", "model": MODEL, "drift_guard": "match",
           "defaults": {"resolution": "480p", "ratio": "16:9", "duration": 2, "seed": 5},
           "pricing": {MODEL: 10.0}, "output": {"file": "final.mp4"}, "shots": shots}
    (root / f"{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    with cwd(root):
        r = chainer("render", f"{name}.yaml", "-o", name, "--yes", "--provider", "emulator",
                    "--progress", "off", "--poll-interval", "0.1", "--emulator-latency", "0.1",
                    "--concurrency", "4")
    assert r.exit_code == 0, r.output
    return root / name


def peak_growth_mb(run_dir: Path, code_root: Path = ROOT) -> dict:
    """Review ``run_dir`` in a fresh process with the chainer package under ``code_root``."""
    out = subprocess.run([sys.executable, "-c", CHILD, str(code_root), str(run_dir)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")
@pytest.mark.slow      # renders 53 clips (several minutes on a shared machine)
@pytest.mark.timeout(2400)
def test_review_memory_does_not_grow_with_shots(tmp_path):
    render_long_run(tmp_path, "short", 13)                # one full contact-sheet page
    render_long_run(tmp_path, "long", 40)                 # four pages
    g13 = peak_growth_mb(tmp_path / "short")["growth_mb"]
    g40 = peak_growth_mb(tmp_path / "long")["growth_mb"]
    # the old review: ~6.4 MB per shot at this size (> 250 MB for 40 shots)
    assert g40 < 60, (g13, g40)
    assert g40 - g13 < 12, (g13, g40)
    # and the outputs are complete
    r = json.loads((tmp_path / "long" / "report.json").read_text())
    assert len(r["shots"]) == 40 and len(r["seams"]) == 39
    assert all(s["psnr_db"] is not None for s in r["seams"])
    assert all(s["drift"]["before"] and s["drift"]["after"] for s in r["shots"])
    assert not [n for n in r["notes"] if "not found" in n]
    pages = sorted(p.name for p in (tmp_path / "long").glob("contact-sheet*.png"))
    assert pages == ["contact-sheet-2.png", "contact-sheet-3.png", "contact-sheet-4.png",
                     "contact-sheet.png"]


def test_read_clip_one_pass_gives_the_exact_frames(tmp_path):
    """The single pass (only asked frames leave ffmpeg, unneeded non-reference packets dropped)
    returns exactly the frames a full decode gives, and so does the plain fallback."""
    from chainer.review.frames import _read_clip_plain, plan_clip, read_clip, read_frames
    from review_util import make_chain

    clip = make_chain(tmp_path, ["x"], seconds=1.0, preset="medium", audio=False)[0]
    full = read_frames(clip, list(range(25)))
    assert len(full) == 25
    req = plan_clip(clip, [0, 1, 12, -2, -1])
    assert req.fast and req.count == 25 and req.absolute == [0, 1, 12, 23, 24]
    assert req.drop, "x264 medium makes non-reference B-frames: some packets are dropped"
    for got in (read_clip(clip, [0, 1, 12, -2, -1]), _read_clip_plain(clip, [0, 1, 12, -2, -1], None)):
        assert got.count == 25 and sorted(got.frames) == [0, 1, 12, 23, 24]
        for i, frame in got.frames.items():
            assert np.array_equal(frame, full[i]), i
        assert got.get(-1) is got.frames[24]
    raw = tmp_path / "x.rgb"
    assert req.decode_to(raw)
    loaded = req.load(raw)
    assert loaded.fast and all(np.array_equal(loaded.frames[i], full[i]) for i in req.absolute)
    # a short file (the tables promise more than it holds) falls back to the plain decode
    raw.write_bytes(raw.read_bytes()[:-10])
    assert not req.load(raw).fast and np.array_equal(req.load(raw).frames[24], full[24])
    # scaled for analysis: no wider than max_width, aspect kept, even size
    small = read_clip(clip, [0], max_width=128).frames[0]
    assert small.shape == (72, 128, 3)
