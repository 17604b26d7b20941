"""chain: extend wired into the product (issue 14): validation, plan prices, the request each
extension sends, and a 4-shot film on the emulator whose seams hold no repeated frame and score
better than the same storyboard chained by last frame."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import yaml

from chainer import models
from chainer.emulator import Emulator, EmulatorConfig
from chainer.errors import ValidationError
from chainer.media.probe import count_frames
from chainer.plan import build_plan, compare_chain
from chainer.review.frames import read_clip
from chainer.review.takes import held_head, score_take
from chainer.run.journal import Journal
from chainer.run.orchestrator import PollPolicy, render
from chainer.storyboard import load_storyboard
from emulator_util import PRO_15, V20
from render_util import created

FAST = PollPolicy.fast(0.05)
PROMPTS = ["boats on a lake, static camera", "the boats race on, static camera",
           "the wind rises, static camera", "evening falls, static camera"]


def write(path, chain="extend", model=V20, shots=None, **defaults):
    doc = {"title": "extend", "model": model,
           "defaults": {"resolution": "480p", "ratio": "16:9", "duration": 4, "chain": chain,
                        **defaults},
           "output": {"file": "out.mp4", "loudness": None},
           "shots": shots or [{"id": f"s{k + 1}", "prompt": p} for k, p in enumerate(PROMPTS)]}
    if model != V20:
        doc["defaults"].pop("generate_audio", None)
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def test_models_without_extension_refuse_extend_at_validate(tmp_path):
    sb = write(tmp_path / "sb.yaml", model=PRO_15)
    with pytest.raises(ValidationError) as exc:
        load_storyboard(sb)
    lines = [str(p) for p in exc.value.problems]
    assert len(lines) == 1, lines
    assert "sb.yaml" in lines[0] and "defaults.chain" in lines[0] and "extend is not supported" in lines[0]
    # per-shot override: only that shot's field is named
    sb = write(tmp_path / "sb2.yaml", chain="last_frame", model=PRO_15,
               shots=[{"id": "a", "prompt": "x"}, {"id": "b", "prompt": "y", "chain": "extend"}])
    with pytest.raises(ValidationError) as exc:
        load_storyboard(sb)
    assert [p.path for p in exc.value.problems] == ["shots[1].chain"]


def test_plan_prices_the_input_video_and_compares(tmp_path):
    sb = write(tmp_path / "sb.yaml", generate_audio=False)
    plans = compare_chain(sb)
    ext, lf = plans["extend"], plans["last_frame"]
    w, h = ext.shots[1].width, ext.shots[1].height
    assert [s.chain for s in ext.shots] == ["last_frame", "extend", "extend", "extend"]
    assert [s.chain for s in lf.shots] == ["last_frame"] * 4
    # 97 frames out + 4 s (96 frames) of the previous clip in, at the video-input price
    assert ext.shots[1].est_tokens == math.floor(w * h * (97 + 96) / 1024)
    assert lf.shots[1].est_tokens == math.floor(w * h * 97 / 1024)
    p_in = models.price_for(ext.shots[1].model, "ark", resolution="480p", audio=False, video_input=True)
    assert ext.shots[1].price_per_mtok == p_in.per_mtok
    assert ext.total_cost > lf.total_cost
    assert build_plan(sb).total_cost == pytest.approx(ext.total_cost)


def _seam_frames(film, starts):
    """(grey change across each seam, median in-shot change) of the decoded film."""
    idx = sorted({i for s in starts for i in (s - 3, s - 2, s - 1, s)})
    got = read_clip(film, idx, max_width=64)
    g = {i: np.asarray(got.get(i), np.float32).mean(axis=2) for i in idx}
    out = []
    for s in starts:
        inside = np.median([np.abs(g[i + 1] - g[i]).mean() for i in (s - 3, s - 2)])
        out.append((float(np.abs(g[s] - g[s - 1]).mean()), float(inside)))
    return out


@pytest.fixture(scope="module")
def films(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("extend")
    out = {}
    with Emulator(EmulatorConfig(latency=0, render_workers=2, x264_preset="veryfast")) as emu:
        for chain in ("extend", "last_frame"):
            sb = write(tmp / f"{chain}.yaml", chain=chain, generate_audio=False)
            before = created(emu)
            res = render(sb, run_dir=tmp / chain, provider="ark", base_url=emu.base_url,
                         api_key="k", yes=True, poll=FAST)
            out[chain] = {"res": res, "created": created(emu) - before}
    return out


def test_extend_film_on_the_emulator(films):
    ext = films["extend"]
    res = ext["res"]
    assert res.ok and ext["created"] == 4, res.problems
    run = res.run_dir
    with Journal(run / "journal.sqlite") as j:
        atts = {sid: j.attempts(sid)[-1] for sid in ("s1", "s2", "s3", "s4")}
    for prev, sid in (("s1", "s2"), ("s2", "s3"), ("s3", "s4")):
        body = json.loads(atts[sid].request_json)
        refs = [i for i in body["content"] if i["type"] == "video_url"]
        assert [r["video_url"]["url"] for r in refs] == [atts[prev].video_url]
        assert refs[0]["role"] == "reference_video"
        assert not [i for i in body["content"] if i["type"] == "image_url"]
        assert body["content"][0]["text"].startswith("extend video 1, ")
        assert atts[sid].tokens == atts[sid].est_tokens       # billed as planned (video input)
    clips = [run / "clips" / f"s{k}.mp4" for k in range(1, 5)]
    frames = [count_frames(c) for c in clips]
    film = run / "out.mp4"
    assert count_frames(film) == sum(frames)          # no frame dropped at an extension seam
    starts = list(np.cumsum(frames)[:-1])
    for seam, inside in _seam_frames(film, starts):   # and none held: the seam moves like the shot
        assert seam > 0.5 * inside and seam > 0.5, (seam, inside)
    for a, b in zip(clips, clips[1:]):
        assert held_head(a, b) == 0


def test_extend_seams_beat_last_frame(films):
    def scores(res):
        clips = [res.run_dir / "clips" / f"s{k}.mp4" for k in range(1, 5)]
        return [score_take(b, a).score for a, b in zip(clips, clips[1:])]

    lf = films["last_frame"]
    assert lf["res"].ok and lf["created"] == 4
    ext_s, lf_s = scores(films["extend"]["res"]), scores(lf["res"])
    assert max(ext_s) < min(lf_s), (ext_s, lf_s)
    # the last-frame film drops the repeated frame at each of its 3 seams
    run = lf["res"].run_dir
    total = sum(count_frames(run / "clips" / f"s{k}.mp4") for k in range(1, 5))
    assert count_frames(run / "out.mp4") == total - 3


def test_stale_reference_url_refuses_before_paying(tmp_path):
    """A previous clip whose result URL would expire before the provider fetches it cannot be
    extended (a reference video goes only as a URL): one line, nothing submitted for it."""
    sb = write(tmp_path / "sb.yaml", generate_audio=False,
               shots=[{"id": "s1", "prompt": PROMPTS[0]}, {"id": "s2", "prompt": PROMPTS[1]}])
    with Emulator(EmulatorConfig(latency=0, x264_preset="veryfast", url_ttl=600)) as emu:
        res = render(sb, run_dir=tmp_path / "run", provider="ark", base_url=emu.base_url,
                     api_key="k", yes=True, poll=FAST)
        assert created(emu) == 1                         # s1 only: s2 was never paid for
    assert not res.ok and len(res.problems) == 1, res.problems
    assert "s2.chain" in res.problems[0] and "expired" in res.problems[0]
    with Journal(tmp_path / "run" / "journal.sqlite") as j:
        assert j.attempts("s2") == []                    # no intent: the gate was never asked


def test_cli_plan_compare_chain(tmp_path):
    from cli_util import chainer as run_cli

    sb = write(tmp_path / "sb.yaml", generate_audio=False)
    r = run_cli("plan", sb, "--compare-chain", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    both = compare_chain(sb)
    assert data["compare_chain"]["extend"]["cost"] == pytest.approx(both["extend"].total_cost, abs=1e-5)
    assert data["compare_chain"]["last_frame"]["cost"] == pytest.approx(both["last_frame"].total_cost, abs=1e-5)
    r = run_cli("plan", sb, "--compare-chain")
    assert "chain: extend" in r.output and "chain: last_frame" in r.output
