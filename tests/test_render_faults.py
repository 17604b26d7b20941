"""render() against an emulator injecting faults: every one survived or reported clearly, and no
task is ever created twice for one shot."""
from __future__ import annotations


from chainer.emulator import Emulator, EmulatorConfig
from chainer.run.journal import Journal
from chainer.run.orchestrator import PollPolicy, render
from render_util import TWO_SEQUENCES, created, first_frame, png, psnr, write_storyboard

KEY = "sk-faults-test"
FAST = PollPolicy.fast(0.05)


def _render(emu, sb, run, **kw):
    kw.setdefault("progress", False)
    return render(sb, run_dir=run, provider="ark", base_url=emu.base_url, api_key=KEY, yes=True,
                  poll=FAST, **kw)


def test_transient_faults_are_survived_without_duplicates(tmp_path):
    faults = {"seed": 3,
              "create_429": {"schedule": [1]},
              "drop_after_create": {"schedule": [2]},       # task created, response lost
              "server_error": {"schedule": [4, 9], "endpoints": ["get"]},
              "drop_connection": {"schedule": [12], "endpoints": ["get"]},
              "truncated_download": {"schedule": [1, 3]}}
    sb = write_storyboard(tmp_path / "sb.yaml", TWO_SEQUENCES[:4])
    with Emulator(EmulatorConfig(x264_preset="veryfast", latency=0.2, faults=faults)) as emu:
        res = _render(emu, sb, tmp_path / "run", concurrency=1)
        stats = emu.stats()
    assert res.ok, res.problems
    assert stats["tasks_created"] == 4                       # one task per shot, no duplicate
    fired = stats["faults_injected"]
    for name in ("create_429", "drop_after_create", "server_error", "drop_connection",
                 "truncated_download"):
        assert fired.get(name), (name, fired)
    j = Journal(res.run_dir / "journal.sqlite")
    assert [e.shot_id for e in j.events(kind="adopted")] == ["s2"]   # the lost create, found by marker
    assert len(list(j.events(kind="retry"))) >= 3
    run = res.run_dir
    assert psnr(first_frame(run / "clips" / "s3.mp4"), png(run / "frames" / "s2.last.png")) > 35


def test_failed_task_stops_its_sequence_only_then_rerun_and_retry(tmp_path):
    sb = write_storyboard(tmp_path / "sb.yaml", TWO_SEQUENCES[:4])
    code = "OutputVideoSensitiveContentDetected.PolicyViolation"
    with Emulator(EmulatorConfig(x264_preset="veryfast", latency=0.2, faults={"task_failed": {"schedule": [2]}})) as emu:
        res = _render(emu, sb, tmp_path / "run", concurrency=1)
        assert not res.ok and created(emu) == 3            # s1, s2 (failed), t1; s3 never
        status = {s["id"]: s["status"] for s in res.summary["shots"]}
        assert status == {"s1": "succeeded", "s2": "failed", "s3": "pending", "t1": "succeeded"}
        (problem,) = res.problems
        assert "s2" in problem and code in problem and "--retry-failed" in problem
        assert res.summary["shots"][1]["error"]["code"] == code
        # a re-run resubmits the failed shot and finishes the sequence; nothing else is redone
        res2 = _render(emu, sb, tmp_path / "run")
        assert res2.ok and created(emu) == 5
        assert res2.summary["shots"][1]["attempts"] == 2
    # --retry-failed resubmits within the same run
    sb1 = write_storyboard(tmp_path / "one.yaml", TWO_SEQUENCES[:1])
    with Emulator(EmulatorConfig(x264_preset="veryfast", latency=0.2,
                                 faults={"task_failed": {"schedule": [1]}})) as emu:
        res = _render(emu, sb1, tmp_path / "run2", retry_failed=1)
        assert res.ok and created(emu) == 2 and res.summary["shots"][0]["attempts"] == 2


def test_validation_error_stops_sequence_with_provider_code(tmp_path):
    shots = [dict(TWO_SEQUENCES[0]), dict(TWO_SEQUENCES[3])]
    sb = write_storyboard(tmp_path / "sb.yaml", shots)
    with Emulator(EmulatorConfig(x264_preset="veryfast", latency=0.2, api_key="the-right-key")) as emu:
        res = _render(emu, sb, tmp_path / "run")
    assert not res.ok and len(res.problems) == 2
    assert all("HTTP 401" in p and "the-right-key" not in p and KEY not in p for p in res.problems)


def test_expired_result_url_means_a_new_task_with_the_saved_seed(tmp_path):
    sb = write_storyboard(tmp_path / "sb.yaml", TWO_SEQUENCES[:1], seed=None)
    msgs = []
    with Emulator(EmulatorConfig(x264_preset="veryfast", latency=0.2, faults={"expired_url": {"schedule": [1]}})) as emu:
        res = _render(emu, sb, tmp_path / "run", progress=msgs.append)
        assert res.ok and created(emu) == 2
    j = Journal(res.run_dir / "journal.sqlite")
    first, second = j.attempts("s1")
    assert first.url_expired == 1 and second.seed_sent == first.seed and second.seed == first.seed
    assert any("expired" in m.get("text", "") and f"seed {first.seed} reused" in m.get("text", "")
               for m in msgs)
    assert res.summary["shots"][0]["attempts"] == 2
