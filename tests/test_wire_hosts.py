"""Every host end to end through the CLI (issue 13 "Done when").

``chainer render sb.yaml --provider P --base-url URL`` as a subprocess, from a temp cwd with
relative paths and a dummy key the emulator profile requires: the same 3-shot chained storyboard
(neutral ``seedance-2.0``, 480p, 4 s) on Ark, BytePlus, fal and Replicate. Checked on what the run
really produced: the tasks the emulator created, the film decoded and its frames counted, the seams
scored by the review, the money in the host's currency, and the key in no file and no output.
"""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from chainer.emulator import Emulator
from chainer.media.ffmpeg import decode_frames
from emulator_util import fast_cfg

REPO = Path(__file__).resolve().parents[1]
KEY = "dummy-KEY-0a9b8c7d6e5f4321"
KEY_VARS = {"ark": "ARK_API_KEY", "byteplus": "ARK_API_KEY", "fal": "FAL_KEY",
            "replicate": "REPLICATE_API_TOKEN"}
CURRENCY = {"ark": "CNY", "byteplus": "USD", "fal": "USD", "replicate": "USD"}
FRAMES = 24 * 4 + 1

STORYBOARD = """\
title: Harbour
{provider}model: seedance-2.0
defaults:
  resolution: 480p
  duration: 4
  generate_audio: false
output:
  file: harbour.mp4
shots:
  - id: a
    prompt: A small red boat leaves a quiet harbour at dawn, slow pan right
  - id: b
    prompt: The boat passes a lighthouse, gulls circling overhead
  - id: c
    prompt: The boat reaches open sea under a bright sky
"""


def write_storyboard(cwd: Path, provider: str | None = None) -> None:
    (cwd / "sb.yaml").write_text(STORYBOARD.format(
        provider=f"provider: {provider}\n" if provider else ""), encoding="utf-8")


def env_with(**keys: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("ARK_API_KEY", "ARK_BASE_URL", "FAL_KEY", "REPLICATE_API_TOKEN")}
    env["PYTHONPATH"] = str(REPO)
    env.update(keys)
    return env


def render(cwd: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chainer", "render", "sb.yaml", "-o", "run",
                           "--yes", "--progress", "plain", "--poll-interval", "0.05", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def count_frames(path: Path) -> int:
    return sum(1 for _ in decode_frames(path, 16, 16, pix_fmt="gray", vf="scale=16:16"))


def assert_key_nowhere(root: Path, *texts: str) -> None:
    for f in root.rglob("*"):
        if f.is_file():
            assert KEY.encode() not in f.read_bytes(), f
            assert KEY[-12:].encode() not in f.read_bytes(), f
    for t in texts:
        assert KEY[-12:] not in t


def attempts_of(run: Path, provider: str) -> list[tuple]:
    with sqlite3.connect(run / "journal.sqlite") as db:
        return db.execute("SELECT * FROM attempts WHERE provider = ? ORDER BY id",
                          (provider,)).fetchall()


@pytest.mark.parametrize("host", ["ark", "byteplus", "fal", "replicate"])
def test_same_chained_storyboard_renders_on_every_host(tmp_path, host):
    write_storyboard(tmp_path)
    with Emulator(fast_cfg(api=host, latency=0.1, api_key=KEY)) as emu:
        res = render(tmp_path, env_with(**{KEY_VARS[host]: KEY}),
                     "--provider", host, "--base-url", emu.base_url)
        assert res.returncode == 0, res.stderr[-3000:]
        stats = emu.stats()
    assert stats["tasks_created"] == 3 and stats["creates_rejected"] == 0
    run = tmp_path / "run"
    # the film: 3 clips of 97 frames, the 2 duplicated seam frames dropped
    assert count_frames(run / "harbour.mp4") == 3 * FRAMES - 2
    report = json.loads((run / "report.json").read_text())
    seams = report["seams"]
    assert [s["kind"] for s in seams] == ["chained", "chained"]
    assert all(s["verdict"] == "seamless" for s in seams), seams
    # money in the host's currency, everywhere it is shown
    summary = json.loads((run / "summary.json").read_text())
    cur = CURRENCY[host]
    assert summary["provider"] == host and summary["totals"]["currency"] == cur
    assert report["totals"]["currency"] == cur
    assert {s["cost"]["currency"] for s in summary["shots"]} == {cur}
    assert summary["totals"]["succeeded"] == 3
    assert all(s["clip"] == f"clips/{s['id']}.mp4" and s["timings"]["downloaded_at"]
               for s in summary["shots"])
    if host == "replicate":        # no price known: said honestly, no invented total
        assert summary["totals"]["cost_complete"] is False
        assert "price unknown" in res.stdout
    else:
        assert summary["totals"]["cost_actual"] > 0
        assert f"{summary['totals']['cost_actual']:.2f} {cur}" in res.stdout
    # usage: the host's own (Ark, BytePlus), else computed from the decoded clip (W*H*frames/1024)
    assert summary["totals"]["tokens_actual"] == 3 * (864 * 496 * FRAMES // 1024)
    sources = [s["frame_source"] for s in summary["shots"][:2]]
    assert sources == (["extracted"] * 2 if host in ("fal", "replicate") else ["provider"] * 2)
    assert_key_nowhere(tmp_path, res.stdout, res.stderr)


def test_switching_the_storyboards_provider_renders_again_on_the_new_host(tmp_path, monkeypatch):
    env = env_with(ARK_API_KEY=KEY, FAL_KEY=KEY)
    with Emulator(fast_cfg(api="byteplus", latency=0.1, api_key=KEY)) as bp, \
            Emulator(fast_cfg(api="fal", latency=0.1, api_key=KEY)) as fal:
        write_storyboard(tmp_path, "byteplus")
        first = render(tmp_path, env, "--base-url", bp.base_url)
        assert first.returncode == 0, first.stderr[-3000:]
        assert bp.stats()["tasks_created"] == 3
        run = tmp_path / "run"
        before = attempts_of(run, "byteplus")
        bp_calls = bp.stats()["requests"]
        first_ids = [s["task_id"] for s in json.loads((run / "summary.json").read_text())["shots"]]

        write_storyboard(tmp_path, "fal")          # one word: the other host
        second = render(tmp_path, env, "--base-url", fal.base_url)
        assert second.returncode == 0, second.stderr[-3000:]
        assert fal.stats()["tasks_created"] == 3                 # different host = new tasks
        assert fal.stats()["unauthorized"] == 0
        assert bp.stats()["tasks_created"] == 3 and bp.stats()["requests"] == bp_calls
        # the first host's tasks were never polled (here or there): their journal rows unchanged
        assert attempts_of(run, "byteplus") == before
        summary = json.loads((run / "summary.json").read_text())
        assert summary["provider"] == "fal" and summary["totals"]["currency"] == "USD"
        assert not set(first_ids) & {s["task_id"] for s in summary["shots"]}
        assert count_frames(run / "harbour.mp4") == 3 * FRAMES - 2
    # `chainer status` plans for the host the run used: its currency, nothing left to do
    from chainer.run.status import run_status

    monkeypatch.chdir(tmp_path)
    st = run_status("run")
    assert st["provider"] == "fal" and st["currency"] == "USD"
    assert [s["state"] for s in st["shots"]] == ["succeeded"] * 3, st["shots"]
    assert_key_nowhere(tmp_path, first.stdout, first.stderr, second.stdout, second.stderr)


@pytest.mark.parametrize("host,var", [("fal", "FAL_KEY"), ("auto", None)])
def test_a_host_without_its_key_renders_on_its_emulator_and_says_so(tmp_path, host, var):
    write_storyboard(tmp_path)
    res = render(tmp_path, env_with(), "--provider", host)
    assert res.returncode == 0, res.stderr[-3000:]
    said = [line for line in (res.stdout + res.stderr).splitlines() if "built-in" in line]
    assert len(said) == 1 and "nothing is billed" in said[0]
    assert (var or "ARK_API_KEY") in said[0]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["billed"] is False and "not billed: emulator" in res.stdout
    assert summary["provider"] == ("fal" if host == "fal" else "emulator")


def test_validation_against_the_chosen_host_before_anything_is_paid(tmp_path):
    (tmp_path / "sb.yaml").write_text(STORYBOARD.format(provider="provider: byteplus\n")
                                      .replace("seedance-2.0", "seedance-1.0-lite")
                                      .replace("duration: 4", "duration: 5"), encoding="utf-8")
    with Emulator(fast_cfg(api="byteplus", api_key=KEY)) as emu:
        res = render(tmp_path, env_with(ARK_API_KEY=KEY), "--base-url", emu.base_url)
        assert emu.stats()["requests"] == 0
    assert res.returncode == 2
    assert "byteplus" in res.stderr and "seedance-1.0-lite" in res.stderr
    assert "Traceback" not in res.stderr


def test_plan_shows_each_hosts_price_and_currency(tmp_path):
    write_storyboard(tmp_path)
    out = {}
    for host in ("ark", "byteplus", "fal", "replicate"):
        res = subprocess.run([sys.executable, "-m", "chainer", "plan", "sb.yaml", "--provider", host],
                             cwd=tmp_path, env=env_with(), capture_output=True, text=True,
                             timeout=120)
        assert res.returncode == 0, res.stderr
        out[host] = " ".join(res.stdout.split())
    assert "Host: ark; prices in CNY per million tokens: Seedance 2.0 46" in out["ark"]
    assert "Host: byteplus; prices in USD per million tokens: Seedance 2.0 7" in out["byteplus"]
    assert "Host: fal; prices in USD per million tokens: Seedance 2.0 14" in out["fal"]
    assert "Seedance 2.0 price unknown" in out["replicate"]
    assert "est cost 0.85 USD" in out["byteplus"] and "est cost 1.70 USD" in out["fal"]
    for host in ("fal", "replicate"):
        assert f"{host} returns no last frame: each chained shot waits for the previous clip's " \
               "download" in out[host]
    assert "replicate deletes results 1 h after a task succeeds" in out["replicate"]
    assert "returns no last frame" not in out["ark"] + out["byteplus"]


@pytest.mark.parametrize("requested,storyboard,env,want", [
    ("auto", None, {}, "emulator"),
    ("auto", None, {"ARK_API_KEY": "k"}, "ark"),
    ("auto", "byteplus", {"ARK_API_KEY": "k"}, "byteplus"),
    ("auto", None, {"FAL_KEY": "k"}, "fal"),
    ("auto", None, {"REPLICATE_API_TOKEN": "k"}, "replicate"),
    ("auto", None, {"FAL_KEY": "", "REPLICATE_API_TOKEN": "k"}, "replicate"),
    (None, "volcengine", {}, "ark"),
    ("fal", "byteplus", {"ARK_API_KEY": "k"}, "fal"),          # the option wins
    ("emulator", "fal", {"FAL_KEY": "k"}, "emulator"),
])
def test_choose_provider(requested, storyboard, env, want):
    from chainer.providers.choose import choose_provider, plan_host

    assert choose_provider(requested, storyboard, env) == want
    assert plan_host(want) == (want if want != "emulator" else "ark")
