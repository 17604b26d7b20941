"""The finishing pieces wired into `render`, through the product on the emulator: the live
preview (decodes after the first clip lands, grows to every clip, never the film; `--preview off`
never writes it), the progress events (expected latency, estimate, concurrency, currency, actual
costs, local steps), the dialogue in the prompt sent, the prompt sheet and loudness chart in the
review, and `chainer status` at 80 columns."""
from __future__ import annotations

import base64
import io
import json
import re
import threading

import av
import numpy as np
import pytest
import yaml
from PIL import Image

from chainer.emulator import EmulatorConfig
from chainer.media import ffmpeg as ff
from chainer.run import journal as J
from chainer.run.orchestrator import PollPolicy, render
from cli_util import chainer, cwd
from render_util import sha, write_storyboard

LATENCY = 0.3
SHOTS = [{"id": "s1", "prompt": "Aerial shot of a mountain lake at sunrise, slow dolly forward"},
         {"id": "s2", "prompt": "The camera glides low over the water, pan left"},
         {"id": "t1", "prompt": "Inside the cabin, warm firelight, slow push in", "cut": True}]


def frames(path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One render (in-process emulator) watched through its progress events. s2 waits (on an
    event, bounded) until the first preview is announced, so that preview holds s1 alone."""
    d = tmp_path_factory.mktemp("live")
    t = np.arange(3 * 48000) / 48000
    ff.write_wav(d / "bed.wav", 0.2 * np.sin(2 * np.pi * 220 * t), 48000)
    sb = write_storyboard(d / "sb.yaml", SHOTS,          # the film's only audio: a music bed
                          output={"file": "out.mp4", "music": {"file": "bed.wav", "loop": True}})
    events: list[dict] = []
    first = threading.Event()
    seen: dict = {}

    def on_event(ev: dict) -> None:
        events.append(ev)
        if ev["event"] == "message" and ev["text"].startswith("preview: ") and not first.is_set():
            path = ev["text"][len("preview: "):]
            seen["path"] = path
            seen["frames"] = frames(path)                   # decodes at the moment it is said
            seen["done"] = [e["shot"] for e in events if e["event"] == "shot" and e["state"] == "done"]
            first.set()
        if ev["event"] == "shot" and ev["shot"] == "s2" and ev["state"] == "submitting":
            seen["waited"] = first.wait(120)

    res = render(sb, run_dir=d / "run", provider="emulator", concurrency=2, yes=True,
                 emulator_config=EmulatorConfig(x264_preset="veryfast", latency=LATENCY),
                 poll=PollPolicy.fast(0.05), progress=on_event)
    return {"res": res, "events": events, "seen": seen, "dir": d}


def test_preview_decodes_after_the_first_clip_and_grows_to_every_clip(run):
    res, seen = run["res"], run["seen"]
    assert res.ok, res.problems
    rd = res.run_dir
    assert seen["waited"] is True
    assert seen["path"] == str(rd / "preview.mp4")
    # the first preview: the clip(s) landed by then (s1 and/or t1, the other sequence; s2 was
    # held back until it was announced), every frame decodable
    assert all(frames(rd / "clips" / f"{s['id']}.mp4") == 49 for s in SHOTS)
    assert seen["done"] and set(seen["done"]) <= {"s1", "t1"}
    assert seen["frames"] in [49 * k for k in range(1, len(seen["done"]) + 1)]
    # said once
    said = [e["text"] for e in run["events"] if e["event"] == "message"
            and e["text"].startswith("preview")]
    assert said == [f"preview: {rd / 'preview.mp4'}"]
    # at the end: every clip, kept whole (the fast path), and it is not the film
    assert frames(rd / "preview.mp4") == sum(frames(rd / "clips" / f"{s['id']}.mp4") for s in SHOTS)
    assert res.output == rd / "out.mp4" and sha(res.output) != sha(rd / "preview.mp4")
    assert frames(res.output) == 49 + 48 + 49          # the film dedupes the chained seam
    assert not list(rd.glob(".preview*"))


def test_progress_events_carry_expected_cost_concurrency_and_steps(run):
    res, events = run["res"], run["events"]
    begin = [e for e in events if e["event"] == "begin"]
    assert len(begin) == 1
    rows = begin[0]["shots"]
    assert [r["id"] for r in rows] == ["s1", "s2", "t1"]
    summary = {s["id"]: s for s in res.summary["shots"]}
    for r in rows:
        assert r["expected"] == pytest.approx(LATENCY)       # the in-process emulator's latency
        assert r["cost"] == pytest.approx(summary[r["id"]]["cost"]["estimated"])
        assert r["concurrency"] == 2 and r["currency"] == res.summary["totals"]["currency"]
    costs = {e["shot"]: e["amount"] for e in events if e["event"] == "cost"}
    assert costs == {sid: pytest.approx(s["cost"]["actual"]) for sid, s in summary.items()}
    steps: dict[str, list] = {}
    for e in events:
        if e["event"] == "step":
            steps.setdefault(e["name"], []).append((e["done"], e["total"], e["unit"]))
    assert set(steps) == {"assembly", "review"}                    # drift guard off: no matching
    for name, seq in steps.items():
        assert seq[-1][0] == seq[-1][1] > 0, (name, seq)           # ends at done == total
        assert [d for d, _, _ in seq] == sorted(d for d, _, _ in seq)
    assert steps["assembly"][-1][:2] == (3, 3)
    # the progress steps come before the end of the display
    assert events[-1]["event"] == "end"


def test_review_writes_the_prompt_sheet_and_the_loudness_chart(run):
    rd = run["res"].run_dir
    sheet = (rd / "prompts.md").read_text(encoding="utf-8")
    for s in SHOTS:
        assert s["prompt"] in sheet
        thumb = rd / "thumbs" / f"{s['id']}.png"
        assert f"(thumbs/{s['id']}.png)" in sheet and thumb.exists()
    assert "sequence 1" in sheet and "sequence 2" in sheet and "sequence 0" not in sheet
    html = (rd / "report.html").read_text(encoding="utf-8")
    m = re.search(r"<h2>Loudness over time</h2>.*?src='data:image/png;base64,([^']+)'", html, re.S)
    assert m, "no loudness chart in report.html"
    with Image.open(io.BytesIO(base64.b64decode(m.group(1)))) as im:
        assert im.size == (960, 240)
    # beside the shots: after the shots table, before the other charts
    assert html.index("<h2>Shots</h2>") < html.index("<h2>Loudness over time</h2>") \
        < html.index("<h2>Render time line</h2>")
    report = json.loads((rd / "report.json").read_text())
    assert report["files"]["prompts"] == "prompts.md"


def test_status_fits_80_columns_without_splitting_words(run, monkeypatch):
    rd = run["res"].run_dir
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("LINES", "24")
    res = chainer("status", rd)
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines and all(len(ln) <= 80 for ln in lines), res.output
    data = json.loads(chainer("status", rd, "--json").output)
    text = " ".join(res.output.split())
    for s in data["shots"]:
        # every word of a row is whole on one line (nothing folded mid-word)
        for word in [s["id"], s["task_id"], s["state"], *s["next"].split()]:
            assert any(re.search(rf"(^|\s){re.escape(word)}(\s|$)", ln) for ln in lines), \
                (word, res.output)
        row = next(ln for ln in lines if ln.split()[:1] == [s["id"]])
        assert row.split()[1] == str(s["sequence"])          # numbered from 1
    assert sorted({s["sequence"] for s in data["shots"]}) == [1, 2]
    assert "spent so far" in text


def test_cli_preview_off_never_writes_it(tmp_path):
    sb = write_storyboard(tmp_path / "sb.yaml", SHOTS[:2])
    with cwd(tmp_path):
        res = chainer("render", "sb.yaml", "-o", "run", "--provider", "emulator",
                      "--emulator-latency", "0.2", "--yes", "--progress", "plain",
                      "--poll-interval", "0.05", "--preview", "off")
    assert res.exit_code == 0, res.output
    rd = tmp_path / "run"
    assert (rd / "out.mp4").exists() and frames(rd / "out.mp4") == 49 + 48
    assert not (rd / "preview.mp4").exists() and not list(rd.glob(".preview*"))
    assert "preview" not in res.output


def test_dialogue_goes_out_in_the_prompt_when_the_model_speaks(tmp_path):
    doc = {"title": "Dialogue", "model": "doubao-seedance-1-5-pro-251215",
           "defaults": {"resolution": "480p", "ratio": "16:9", "duration": 4, "seed": 3},
           "output": {"file": "out.mp4"},
           "shots": [{"id": "a", "prompt": "An old man by the lake",
                      "dialogue": ["We leave at dawn.", {"speaker": "Mia", "text": "Why?"}]},
                     {"id": "b", "prompt": "A cabin", "cut": True, "generate_audio": False,
                      "dialogue": ["Quiet now."]}]}
    sb = tmp_path / "sb.yaml"
    sb.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    with cwd(tmp_path):
        plan = json.loads(chainer("plan", "sb.yaml", "--json").output)
    prompts = {s["id"]: s["prompt"] for s in plan["shots"]}
    said = 'An old man by the lake. A voice says: "We leave at dawn." Mia says: "Why?"'
    assert prompts == {"a": said, "b": "A cabin"}
    # the body sent (journalled before the create) carries that prompt; the summary agrees
    res = render(sb, run_dir=tmp_path / "run", provider="emulator", yes=True,
                 emulator_config=EmulatorConfig(x264_preset="veryfast", latency=0.1),
                 poll=PollPolicy.fast(0.05), progress=False, assembly=False, preview=False)
    assert res.ok, res.problems
    with J.Journal(tmp_path / "run" / "journal.sqlite") as j:
        sent = {a.shot_id: [c["text"] for c in a.request["content"] if c.get("type") == "text"]
                for a in j.attempts()}
    assert sent == {"a": [said], "b": ["A cabin"]}
    assert {s["id"]: s["prompt"] for s in res.summary["shots"]} == prompts
