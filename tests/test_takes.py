"""takes: N (issue 14) on the emulator: N tasks through the gate, ranked by the seam, the best in
the film, the others kept and reported; chainer pick / --reroll re-render exactly downstream."""
from __future__ import annotations

import json

import numpy as np
import pytest

from chainer.emulator import Emulator, EmulatorConfig
from chainer.media.probe import count_frames
from chainer.plan import build_plan
from chainer.review.frames import read_clip
from chainer.run.journal import Journal
from chainer.run.orchestrator import PollPolicy, render
from render_util import PRICE, created, write_storyboard

FAST = PollPolicy.fast(0.05)
SHOTS = [{"id": "s1", "prompt": "a lake at dawn, slow dolly forward"},
         {"id": "s2", "prompt": "the camera glides over the water", "takes": 3},
         {"id": "s3", "prompt": "the camera rises to a cabin"},
         {"id": "s4", "prompt": "smoke from the chimney"}]


def test_plan_counts_every_take(tmp_path):
    plan = build_plan(write_storyboard(tmp_path / "sb.yaml", SHOTS))
    one = build_plan(write_storyboard(tmp_path / "one.yaml", [dict(s, takes=1) for s in SHOTS]))
    s2 = plan.shot("s2")
    assert s2.takes == 3 and plan.paid_tasks == 6 and one.paid_tasks == 4
    assert plan.total_cost == pytest.approx(one.total_cost + 2 * s2.est_cost)
    assert plan.critical_path.est_wall_seconds == pytest.approx(one.critical_path.est_wall_seconds)
    assert any("s2 x3" in n and "wall time" in n for n in plan.notes)


def _admitted(run_dir):
    """(shot id, marker) of every journalled create intent: each one passed Gate.admit first."""
    with Journal(run_dir / "journal.sqlite") as j:
        return [(a.shot_id, a.task_id) for a in j.attempts()]


def _frames_equal(a, b, index_a, index_b) -> bool:
    fa = read_clip(a, [index_a], max_width=128).get(index_a)
    fb = read_clip(b, [index_b], max_width=128).get(index_b)
    return float(np.abs(fa.astype(np.float32) - fb.astype(np.float32)).mean()) < 1.0


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("takes")
    sb = write_storyboard(d / "sb.yaml", SHOTS)
    with Emulator(EmulatorConfig(x264_preset="veryfast", latency=0, concurrency=4)) as emu:
        kw = dict(run_dir=d / "run", provider="ark", base_url=emu.base_url, api_key="k",
                  yes=True, poll=FAST)
        before = created(emu)
        res = render(sb, **kw)
        out = {"sb": sb, "res": res, "created": created(emu) - before, "emu": emu, "kw": kw}
        yield out


def test_takes_render_rank_and_report(run):
    res = run["res"]
    assert res.ok, res.problems
    assert run["created"] == 6                       # 4 shots + exactly 2 extra takes of s2
    rd = res.run_dir
    report = json.loads((rd / "report.json").read_text())
    takes = report["takes"]["s2"]["takes"]
    assert sorted(t["take"] for t in takes) == ["s2", "s2.take2", "s2.take3"]
    scores = [t["score"] for t in takes]
    assert scores == sorted(scores) and len(set(scores)) == 3
    best = takes[0]["take"]
    assert report["takes"]["s2"]["current"] == best and takes[0]["current"]
    for t in takes:
        assert (rd / t["thumbnail"]).exists() and (rd / t["clip"]).exists()
    html = (rd / "report.html").read_text()
    assert "Takes of s2" in html and all(t["take"] in html for t in takes)
    # the film holds the best take: its frames right after s1's
    n1 = count_frames(rd / "clips" / "s1.mp4")
    best_clip = rd / "clips" / f"{best}.mp4"
    assert _frames_equal(rd / "out.mp4", best_clip, n1 - 1 + 5, 5)   # s1 ends one frame early: the chained duplicate
    summary = json.loads((rd / "summary.json").read_text())
    assert summary["shots"][1]["take"] == best and summary["shots"][1]["clip"] == f"clips/{best}.mp4"
    # s3 chained from the best take's last frame
    assert _frames_equal(best_clip, rd / "clips" / "s3.mp4", -1, 0)
    # a re-run reuses everything (the choice is the same)
    emu = run["emu"]
    before = created(emu)
    again = render(run["sb"], **run["kw"])
    assert again.ok and created(emu) == before


def test_pick_and_reroll_render_exactly_downstream(run, monkeypatch):
    from cli_util import chainer

    monkeypatch.setenv("ARK_API_KEY", "k")
    emu, kw, rd = run["emu"], run["kw"], run["res"].run_dir
    report = json.loads((rd / "report.json").read_text())
    other = report["takes"]["s2"]["takes"][-1]["take"]      # the worst take
    n_before = len(_admitted(rd))
    before = created(emu)
    r = chainer("pick", rd, "s2", other, "--provider", "ark", "--base-url", emu.base_url, "--yes",
                "--progress", "off", "--poll-interval", "0.05")
    assert r.exit_code == 0, r.output
    assert created(emu) - before == 2                 # s3 and s4, nothing else
    new = _admitted(rd)[n_before:]
    assert sorted(s for s, _ in new) == ["s3", "s4"] and all(t for _, t in new)
    assert json.loads((rd / "summary.json").read_text())["shots"][1]["take"] == other
    n1 = count_frames(rd / "clips" / "s1.mp4")
    assert _frames_equal(rd / "out.mp4", rd / "clips" / f"{other}.mp4", n1 - 1 + 5, 5)   # s1 ends one frame early: the chained duplicate

    n_before, before = len(_admitted(rd)), created(emu)
    res = render(run["sb"], reroll="s3", **kw)
    assert res.ok, res.problems
    assert created(emu) - before == 2                 # a new take of s3, then s4
    new = _admitted(rd)[n_before:]
    assert sorted(s for s, _ in new) == ["s3.taker1", "s4"] and all(t for _, t in new)
    summary = json.loads((rd / "summary.json").read_text())
    assert summary["shots"][2]["take"] == "s3.taker1"
    assert (rd / "clips" / "s3.mp4").exists()         # the old take is kept
