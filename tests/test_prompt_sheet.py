"""prompts.md from a real (emulator) render: per shot the thumbnail, prompt, model, parameters,
seed and cost, as summary.json has them."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from chainer.emulator import Emulator, EmulatorConfig
from chainer.review.prompts import write_prompt_sheet
from chainer.run.orchestrator import PollPolicy, render
from render_util import first_frame, png, psnr, write_storyboard

SHOTS = [
    {"id": "lake", "prompt": "Aerial shot of a mountain lake at sunrise | a sign reads ```hi```"},
    {"id": "cabin", "prompt": "The camera rises toward a wooden cabin <b>crane up</b>", "seed": 99},
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("prompts")
    sb = write_storyboard(d / "sb.yaml", SHOTS)
    with Emulator(EmulatorConfig(x264_preset="veryfast", latency=0.2)) as emu:
        res = render(sb, run_dir=d / "run", provider="ark", base_url=emu.base_url,
                     api_key="sk-prompts-test", yes=True, poll=PollPolicy.fast(0.05), progress=False)
    assert res.ok
    return res.run_dir


def _timeline(run_dir):
    from chainer.timeline import Timeline

    return Timeline.load(run_dir)      # None until the assembly writes timeline.json


def test_prompt_sheet_from_a_render(run, tmp_path):
    summary = json.loads((run / "summary.json").read_text())
    path = write_prompt_sheet(run, summary, _timeline(run))
    assert path == run / "prompts.md"
    text = path.read_text(encoding="utf-8")
    sections = text.split("\n## ")[1:]
    assert [s.split("\n", 1)[0] for s in sections] == ["1. lake · sequence 1", "2. cabin · sequence 1"]
    for sec, shot in zip(sections, summary["shots"]):
        assert f"| model | {shot['model']} |" in sec
        assert f"| seed | {shot['seed']} |" in sec
        cost = shot["cost"]
        assert f"| cost | {cost['actual']:.2f} {cost['currency']} (estimated {cost['estimated']:.2f}" in sec
        assert "| parameters | resolution 480p, ratio 16:9, duration 2 s" in sec
        assert f"| task | {shot['task_id']} |" in sec
        # the prompt verbatim, in a fence it cannot close
        fence = "````text\n" if "```" in shot["prompt"] else "```text\n"
        assert fence + shot["prompt"] + "\n" + fence[:-5] + "\n" in sec
        # the thumbnail is the clip's first frame, 320 px wide
        thumb = run / "thumbs" / f"{shot['id']}.png"
        assert f"![{shot['id']}](thumbs/{shot['id']}.png)" in sec
        img = png(thumb)
        assert img.shape[1] == 320
        ref = first_frame(run / shot["clip"])
        from PIL import Image
        small = np.asarray(Image.fromarray(ref).resize((img.shape[1], img.shape[0]), Image.BILINEAR))
        assert psnr(img, small) > 25
    assert summary["shots"][1]["seed"] == 99
    # moved elsewhere, the sheet's links still resolve (all relative to the run dir)
    moved = tmp_path / "moved"
    shutil.copytree(run, moved)
    for line in (moved / "prompts.md").read_text().splitlines():
        if line.startswith("!["):
            assert (moved / line.split("](")[1].rstrip(")")).exists()
