"""render() against a real (loopback) emulator: chaining, concurrency, reuse, incremental edits,
budget, confirmation, key redaction."""
from __future__ import annotations

import json
import shutil

import pytest

from chainer.emulator import Emulator, EmulatorConfig
from chainer.errors import InputError
from chainer.media.probe import count_frames, probe
from chainer.run.orchestrator import PollPolicy, render
from render_util import (PRICE, TWO_SEQUENCES, created, first_frame, png, psnr, sha,
                         write_storyboard)

KEY = "sk-render-test-SECRET-4242"
FAST = PollPolicy.fast(0.05)


@pytest.fixture(scope="module")
def emu():
    with Emulator(EmulatorConfig(x264_preset="veryfast", latency=0.3, concurrency=4)) as e:
        yield e


@pytest.fixture(scope="module")
def base(tmp_path_factory, emu):
    """One full render of two sequences (3 + 2 shots), reused by several tests."""
    d = tmp_path_factory.mktemp("render")
    sb = write_storyboard(d / "sb.yaml", TWO_SEQUENCES)
    events = []
    before = created(emu)
    res = render(sb, run_dir=d / "run", provider="ark", base_url=emu.base_url, api_key=KEY,
                 concurrency=2, yes=True, poll=FAST, progress=events.append)
    return {"dir": d, "sb": sb, "res": res, "events": events, "created": created(emu) - before}


def test_render_outputs_and_summary(base):
    res = base["res"]
    assert res.ok and res.problems == [] and base["created"] == 5
    run = res.run_dir
    assert res.output == run / "out.mp4" and res.output.exists()
    for sid in ("s1", "s2", "s3", "t1", "t2"):
        assert count_frames(run / "clips" / f"{sid}.mp4") == 49   # 24*2+1
    # last frames exist only where the next shot chains from them
    assert sorted(p.name for p in (run / "frames").glob("*.png")) == ["s1.last.png", "s2.last.png",
                                                                       "t1.last.png"]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["provider"] == "ark" and summary["output"] == "out.mp4"
    shot = summary["shots"][1]
    for key in ("id", "name", "index", "sequence", "position", "chained_from", "mode", "model",
                "prompt", "params", "width", "height", "frames", "task_id", "status", "seed",
                "timings", "tokens", "cost", "clip", "last_frame", "attempts"):
        assert key in shot
    assert shot["chained_from"] == "s1" and shot["mode"] == "first_frame"
    assert shot["status"] == "succeeded" and shot["attempts"] == 1 and shot["seed"] == 7
    assert shot["params"]["duration"] == 2 and shot["params"]["return_last_frame"] is True
    assert summary["shots"][2]["params"]["return_last_frame"] is False
    # the estimate uses the billed formula W*H*(24d+1)/1024, so it equals the actual usage
    assert shot["tokens"] == {"estimated": 864 * 480 * 49 // 1024, "actual": 864 * 480 * 49 // 1024}
    assert shot["cost"]["actual"] == pytest.approx(shot["tokens"]["actual"] * PRICE / 1e6)
    t = summary["totals"]
    assert t["tokens_actual"] == 5 * 864 * 480 * 49 // 1024
    assert t["cost_actual"] == pytest.approx(t["cost_estimated"])
    assert set(shot["timings"]) >= {"submitted", "queued", "running", "succeeded", "downloaded"}
    info = probe(res.output)
    assert info.video.width == 864 and info.video.height == 480


def test_chaining_first_frame_equals_previous_last_frame(base):
    run = base["res"].run_dir
    for prev, nxt in (("s1", "s2"), ("s2", "s3"), ("t1", "t2")):
        assert psnr(first_frame(run / "clips" / f"{nxt}.mp4"), png(run / "frames" / f"{prev}.last.png")) > 35
    # and a cut is not chained
    assert psnr(first_frame(run / "clips" / "t1.mp4"), png(run / "frames" / "s2.last.png")) < 25


def test_sequences_run_concurrently(base):
    shots = {s["id"]: s for s in base["res"].summary["shots"]}
    # the second sequence started before the first one finished its first shot
    assert shots["t1"]["timings"]["submitted_at"] < shots["s1"]["timings"]["downloaded_at"]
    assert shots["s1"]["timings"]["submitted_at"] < shots["t1"]["timings"]["downloaded_at"]
    # and within a sequence, strictly in order: a shot is submitted once the previous shot's
    # last frame (its input) is downloaded and verified; the previous clip downloads meanwhile
    for prev, nxt in (("s1", "s2"), ("s2", "s3"), ("t1", "t2")):
        p, n = shots[prev]["timings"], shots[nxt]["timings"]
        assert n["submitted_at"] > p["frame_at"] > p["submitted_at"] + p["succeeded"] - 1e-3
        assert p["downloaded_at"] >= p["frame_at"]


def test_key_never_written_anywhere(base):
    for path in base["res"].run_dir.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    assert KEY not in json.dumps(base["events"], default=str)


def test_rerun_reuses_everything(base, emu):
    before = created(emu)
    out_sha = sha(base["res"].output)
    res = render(base["sb"], run_dir=base["res"].run_dir, provider="ark", base_url=emu.base_url,
                 api_key=KEY, yes=True, poll=FAST, progress=False)
    assert res.ok and created(emu) == before and sha(res.output) == out_sha


def test_edited_prompt_rerenders_only_that_shot_and_the_rest_of_its_sequence(base, emu, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(base["res"].run_dir, run)
    before = {p.name: sha(p) for p in (run / "clips").glob("*.mp4")}
    shots = [dict(s) for s in TWO_SEQUENCES]
    shots[1]["prompt"] = "The camera glides low over the water at dusk, pan right"
    sb = write_storyboard(tmp_path / "sb.yaml", shots)
    n0 = created(emu)
    res = render(sb, run_dir=run, provider="ark", base_url=emu.base_url, api_key=KEY, yes=True,
                 poll=FAST, progress=False)
    assert res.ok and created(emu) - n0 == 2            # s2 and s3, nothing else
    after = {p.name: sha(p) for p in (run / "clips").glob("*.mp4")}
    changed = sorted(k for k in after if after[k] != before[k])
    assert changed == ["s2.mp4", "s3.mp4"]
    assert psnr(first_frame(run / "clips" / "s3.mp4"), png(run / "frames" / "s2.last.png")) > 35


def test_budget_refuses_to_start_and_stops_submitting(emu, tmp_path):
    shots = TWO_SEQUENCES[:3]
    sb = write_storyboard(tmp_path / "sb.yaml", shots)
    est = 3 * (864 * 480 * 49 // 1024) * PRICE / 1e6     # the billed formula: 24*2+1 frames
    n0 = created(emu)
    with pytest.raises(InputError, match="exceeds --budget"):
        render(sb, run_dir=tmp_path / "a", provider="ark", base_url=emu.base_url, api_key=KEY,
               yes=True, poll=FAST, progress=False, budget=est * 0.9)
    assert created(emu) == n0
    # The estimate is the bill (the plan uses the billed formula): a budget just above it runs
    # every shot and the actual cost equals the estimate.
    res = render(sb, run_dir=tmp_path / "b", provider="ark", base_url=emu.base_url, api_key=KEY,
                 yes=True, poll=FAST, progress=False, budget=est * 1.001)
    assert res.ok and created(emu) - n0 == 3
    assert [s["status"] for s in res.summary["shots"]] == ["succeeded"] * 3
    assert sum(s["cost"]["actual"] for s in res.summary["shots"]) == pytest.approx(est)


def test_confirmation_required_without_terminal(emu, tmp_path):
    sb = write_storyboard(tmp_path / "sb.yaml", TWO_SEQUENCES[:1])
    n0 = created(emu)
    with pytest.raises(InputError, match="--yes"):
        render(sb, run_dir=tmp_path / "a", provider="ark", base_url=emu.base_url, api_key=KEY,
               poll=FAST, progress=False, confirm_above=0.0)
    asked = []
    with pytest.raises(InputError, match="not confirmed"):
        render(sb, run_dir=tmp_path / "a", provider="ark", base_url=emu.base_url, api_key=KEY,
               poll=FAST, progress=False, confirm_above=0.0, confirm=lambda q: asked.append(q) or False)
    assert created(emu) == n0 and "0.20 CNY" in asked[0]          # 864*480*121/1024 tokens at 10
