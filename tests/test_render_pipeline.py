"""The chain waits only for the last frame; clips download off the critical path.

Also: the poll schedule (a pure function of elapsed / expected time), the journal migration that
adds ``frame_at``, resuming a shot whose last frame is on disk but whose clip is not, a clip URL
that expires after the next shot already chained from the old last frame, and an assembly that
raises (one line, journal consistent, clips intact, re-run retries the assembly only).
"""
from __future__ import annotations

import json
import random
import shutil
import sqlite3

import pytest
from click.testing import CliRunner

from chainer.emulator import Emulator, EmulatorConfig
from chainer.errors import ChainerError
from chainer.run import journal as J
from chainer.run import assembly, fetch
from chainer.run.orchestrator import EXPIRES_DEFAULT, EXPIRES_MARGIN, PollPolicy, render
from chainer.run.status import run_status
from render_util import TWO_SEQUENCES, created, first_frame, png, psnr, sha, write_storyboard

KEY = "sk-pipeline-test"
FAST = PollPolicy.fast(0.05)
CHAIN = [dict(TWO_SEQUENCES[0]), dict(TWO_SEQUENCES[1])]      # s1 -> s2


def _render(emu, sb, run, **kw):
    kw.setdefault("progress", False)
    return render(sb, run_dir=run, provider="ark", base_url=emu.base_url, api_key=KEY, yes=True,
                  poll=FAST, **kw)


# ---- the poll schedule (no network) ------------------------------------------------------------

def test_fixed_poll_interval_is_fixed():
    pol = PollPolicy.fast(0.05)
    rng = random.Random(1)
    assert pol.fixed
    assert {pol.next_delay(t, 3.0, rng) for t in (0.0, 0.01, 2.99, 10.0, 1000.0)} == {0.05}
    assert pol.schedule(None, rng, 1.0) == pytest.approx([0.05 * k for k in range(1, 21)])


def test_ark_schedule_bounds_and_first_poll():
    pol = PollPolicy.for_provider("ark")
    assert not pol.fixed
    for seed in range(50):
        rng = random.Random(seed)
        assert 8.0 <= pol.next_delay(0.0, None, rng) <= 10.0          # first poll at ~10 s
        for elapsed in (5.0, 30.0, 66.0, 100.0, 250.0, 400.0, 3600.0):
            d = pol.next_delay(elapsed, None, rng)
            bound = min(60.0, max(10.0, 0.15 * elapsed))
            assert 0.8 * bound <= d <= bound, (seed, elapsed, d)
    # the emulator keeps its ~2 s start
    assert 1.6 <= PollPolicy.for_provider("emulator").next_delay(0.0, None, random.Random(0)) <= 2.0


def test_ark_schedule_sees_a_task_soon_after_it_ends():
    pol = PollPolicy.for_provider("ark")
    # the former schedule (10 s x1.5, cap 60 s) saw a 30 s task at 47.5 s
    for seed in range(20):
        rng = random.Random(seed)
        # a task ending when the plan expects it is seen on the aimed poll
        seen, gets = pol.detected_at(29.9, expected=30.0, rng=rng)
        assert seen == pytest.approx(30.0) and gets <= 4
        for latency in (30.0, 45.0, 90.0, 300.0, 1200.0, 7200.0):
            seen, gets = pol.detected_at(latency, expected=None, rng=rng)
            late = seen - latency
            assert 0 <= late <= min(60.0, max(10.0, 0.15 * latency)), (seed, latency, seen)
            # and it backs off: a long task is not polled every 10 s
            if latency >= 300:
                assert gets <= 0.75 * latency / 10.0, (latency, gets)


def test_poll_wait_is_bounded_by_the_task_expiry():
    pol = PollPolicy.for_provider("ark")
    assert pol.wait_limit({}) == EXPIRES_DEFAULT + EXPIRES_MARGIN
    assert pol.wait_limit({"execution_expires_after": 3600}) == 3600 + EXPIRES_MARGIN
    assert PollPolicy.fast(0.1, max_wait=5.0).wait_limit({"execution_expires_after": 3600}) == 5.0


def test_poll_interval_option_says_fixed():
    from chainer.cli.render import command

    opt = next(p for p in command.params if p.name == "poll_interval")
    assert "fixed" in opt.help.lower() and "grow" not in opt.help.lower().split(";")[0]


# ---- journal ------------------------------------------------------------------------------------

def test_old_journal_gains_frame_at(tmp_path):
    path = tmp_path / "journal.sqlite"
    db = sqlite3.connect(str(path))
    db.executescript(J._SCHEMA.replace("    frame_at REAL,\n", ""))
    db.execute("INSERT INTO attempts (shot_id, shot_key, number, marker, state) "
               "VALUES ('a', 'k', 1, 'm', 'succeeded')")
    db.commit()
    db.close()
    with J.Journal(path) as j:
        (att,) = j.attempts()
        assert att.frame_at is None
        assert j.update(att.id, frame_at=12.5).frame_at == 12.5


# ---- the pipeline against the emulator ----------------------------------------------------------

@pytest.fixture(scope="module")
def slow_clip(tmp_path_factory):
    """s1 -> s2 where s1's clip downloads slowly (download #2: #1 is s1's last frame). The
    emulator stays up for the tests that resume this run."""
    d = tmp_path_factory.mktemp("pipeline")
    sb = write_storyboard(d / "sb.yaml", CHAIN, seed=None)
    faults = {"slow_download": {"schedule": [2], "bytes_per_second": 100_000}}
    with Emulator(EmulatorConfig(x264_preset="veryfast", latency=0.2, faults=faults)) as emu:
        res = _render(emu, sb, d / "run")
        yield {"dir": d, "sb": sb, "res": res, "stats": emu.stats(), "emu": emu}


def test_next_shot_is_submitted_while_the_previous_clip_downloads(slow_clip):
    res = slow_clip["res"]
    assert res.ok and slow_clip["stats"]["tasks_created"] == 2
    assert slow_clip["stats"]["faults_injected"].get("slow_download") == 1
    s1, s2 = ({k: v for k, v in s["timings"].items()} for s in res.summary["shots"])
    # s2 went out once s1's last frame was verified, long before s1's clip finished
    assert s1["frame_at"] < s2["submitted_at"] < s1["downloaded_at"]
    j = J.Journal(res.run_dir / "journal.sqlite")
    kinds = [(e.shot_id, e.kind) for e in j.events() if e.kind in ("frame", "submitted", "downloaded")]
    assert kinds.index(("s1", "frame")) < kinds.index(("s2", "submitted")) \
        < kinds.index(("s1", "downloaded"))
    j.close()
    # the run is complete only with every clip downloaded and verified, and still chained
    run = res.run_dir
    assert res.output.exists() and all(s["clip"] for s in res.summary["shots"])
    assert psnr(first_frame(run / "clips" / "s2.mp4"), png(run / "frames" / "s1.last.png")) > 35


def test_resume_with_last_frame_on_disk_but_no_clip(slow_clip, tmp_path):
    """A kill after s1's frame was journalled and s2 submitted, before s1's clip landed."""
    run = tmp_path / "run"
    shutil.copytree(slow_clip["res"].run_dir, run)
    clip_sha = sha(run / "clips" / "s1.mp4")
    (run / "clips" / "s1.mp4").unlink()
    (run / "out.mp4").unlink()
    with J.Journal(run / "journal.sqlite") as j:
        (a1,) = j.attempts("s1")
        j.update(a1.id, clip_sha=None, clip_bytes=None, downloaded_at=None)
    actions = {s["id"]: s["action"] for s in run_status(run)["shots"]}
    assert actions == {"s1": "download", "s2": "reuse"}       # s2 chains from s1's frame on disk
    emu = slow_clip["emu"]
    n0 = created(emu)
    res = _render(emu, slow_clip["sb"], run)
    assert res.ok and created(emu) == n0                      # nothing submitted again
    assert sha(run / "clips" / "s1.mp4") == clip_sha
    with J.Journal(run / "journal.sqlite") as j:
        assert len(j.attempts("s1")) == len(j.attempts("s2")) == 1
        assert j.attempts("s1")[0].downloaded_at is not None


def test_expired_clip_url_after_the_chain_moved_on(tmp_path):
    """s1's clip URL answers 403 once s2 is already chained from s1's last frame: s1 gets a new
    task (its seed reused); its new clip ends on the same frame, so s2 is kept."""
    sb = write_storyboard(tmp_path / "sb.yaml", CHAIN, seed=None)
    msgs = []
    faults = {"expired_url": {"schedule": [2]}}
    with Emulator(EmulatorConfig(x264_preset="veryfast", latency=0.2, faults=faults)) as emu:
        res = _render(emu, sb, tmp_path / "run", progress=msgs.append)
        assert res.ok, res.problems
        assert created(emu) == 3                     # s1, s2, s1 again; s2 not resubmitted
    j = J.Journal(res.run_dir / "journal.sqlite")
    old, new = j.attempts("s1")
    assert old.url_expired == 1 and old.frame_sha and new.seed_sent == old.seed
    assert new.frame_sha == old.frame_sha
    (s2,) = j.attempts("s2")
    assert res.summary["shots"][1]["task_id"] == s2.task_id
    j.close()
    text = "\n".join(m.get("text", "") for m in msgs)
    assert "expired" in text and f"seed {old.seed} reused" in text
    assert "s2 already chained from the last frame of task" in text
    assert "ends on the same last frame" in text and "s2 are kept" in text


def test_expired_clip_with_a_different_new_frame_renders_the_rest_again(slow_clip, tmp_path):
    """As if s1's clip URL had expired after s2 was rendered, and s1's new task (here: another
    seed) ends on another frame: s2 is rendered again from it, like after an edit of s1."""
    run = tmp_path / "run"
    shutil.copytree(slow_clip["res"].run_dir, run)
    (run / "clips" / "s1.mp4").unlink()
    old_frame = sha(run / "frames" / "s1.last.png")
    with J.Journal(run / "journal.sqlite") as j:
        (a1,) = j.attempts("s1")
        (a2,) = j.attempts("s2")
        j.update(a1.id, clip_sha=None, clip_bytes=None, downloaded_at=None, url_expired=1,
                 seed=a1.seed + 1)
    msgs = []
    emu = slow_clip["emu"]
    n0 = created(emu)
    res = _render(emu, slow_clip["sb"], run, progress=msgs.append)
    assert res.ok, res.problems
    assert created(emu) - n0 == 2                    # s1 again, then s2 from its new frame
    assert sha(run / "frames" / "s1.last.png") != old_frame
    assert psnr(first_frame(run / "clips" / "s2.mp4"), png(run / "frames" / "s1.last.png")) > 35
    with J.Journal(run / "journal.sqlite") as j:
        assert len(j.attempts("s2")) == 2 and res.summary["shots"][1]["task_id"] != a2.task_id
    text = "\n".join(m.get("text", "") for m in msgs)
    assert "different last frame" in text and "rendering s2 again" in text


def test_clip_that_fails_verification_stops_its_sequence_and_keeps_the_chain(tmp_path, monkeypatch):
    """s1's clip never verifies (as a corrupt file would; the real check is swapped for one that
    rejects s1) while s2 renders from s1's verified last frame: the sequence stops at s1 and says
    why; s2 is kept; a re-run only downloads s1's clip."""
    from chainer.run.download import DownloadError, verify_video

    def reject_s1(path, **kw):
        if path.name.startswith(".s1."):
            raise DownloadError(f"{path.name}: does not decode (test)")
        return verify_video(path, **kw)

    monkeypatch.setattr(fetch, "verify_video", reject_s1)
    sb = write_storyboard(tmp_path / "sb.yaml", CHAIN)
    run = tmp_path / "run"
    with Emulator(EmulatorConfig(x264_preset="veryfast", latency=0.2)) as emu:
        res = _render(emu, sb, run)
        assert not res.ok and created(emu) == 2
        (problem,) = res.problems
        assert problem.startswith("sequence 1 stopped at s1: download of task ")
        assert "does not decode (test)" in problem and "re-run to retry" in problem
        assert [s["status"] for s in res.summary["shots"]] == ["succeeded", "succeeded"]
        assert [bool(s["clip"]) for s in res.summary["shots"]] == [False, True]
        assert res.output is None and not (run / "out.mp4").exists()
        assert not list((run / "clips").glob(".*part"))      # the rejected bytes are not kept
        actions = {s["id"]: s["action"] for s in run_status(run)["shots"]}
        assert actions == {"s1": "download", "s2": "reuse"}
        monkeypatch.undo()
        res2 = _render(emu, sb, run)
        assert res2.ok and created(emu) == 2
        assert [s["task_id"] for s in res2.summary["shots"]] == [s["task_id"] for s in res.summary["shots"]]


# ---- assembly failures ----------------------------------------------------------------------------

def test_assembly_failure_is_one_line_and_rerun_only_assembles(slow_clip, tmp_path, monkeypatch):
    from chainer.cli.main import cli

    run = tmp_path / "run"
    shutil.copytree(slow_clip["res"].run_dir, run)
    (run / "out.mp4").unlink()
    clips = {p.name: sha(p) for p in (run / "clips").glob("*.mp4")}

    def broken(plan, clips, out, **options):
        out.with_name(f".{out.stem}.partial{out.suffix}").write_bytes(b"half a video")
        raise ZeroDivisionError("division by zero\nsecond line")

    monkeypatch.setattr(assembly, "assemble", broken)
    emu = slow_clip["emu"]
    n0 = created(emu)
    r = CliRunner().invoke(cli, ["render", str(slow_clip["sb"]), "-o", str(run), "--provider",
                                 "ark", "--base-url", emu.base_url, "--yes", "--progress", "off",
                                 "--poll-interval", "0.05"], env={"ARK_API_KEY": KEY})
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    line = [ln for ln in r.output.splitlines() if "failed" in ln]
    assert len(line) == 1 and "assembly failed: ZeroDivisionError: division by zero;" in line[0]
    assert "re-running the same command retries the assembly only" in line[0]
    assert created(emu) == n0
    # journal consistent, clips intact, no partial output, summary says incomplete
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "incomplete" and "assembly failed" in summary["problems"][0]
    assert [s["status"] for s in summary["shots"]] == ["succeeded", "succeeded"]
    assert {p.name: sha(p) for p in (run / "clips").glob("*.mp4")} == clips
    assert not (run / "out.mp4").exists() and not (run / ".out.partial.mp4").exists()
    assert [s["action"] for s in run_status(run)["shots"]] == ["reuse", "reuse"]
    with pytest.raises(ChainerError, match=r"^assembly failed: ZeroDivisionError"):
        _render(emu, slow_clip["sb"], run)
    # fixed: the re-run assembles from the same clips, nothing submitted or downloaded
    monkeypatch.undo()
    downloads = emu.stats()["downloads"]
    res = _render(emu, slow_clip["sb"], run)
    assert res.ok and res.output.exists() and created(emu) == n0
    assert emu.stats()["downloads"] == downloads
    assert {p.name: sha(p) for p in (run / "clips").glob("*.mp4")} == clips
