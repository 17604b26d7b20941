"""The render loop against MockProvider (no HTTP, no encoding): fast checks of the issue 10 rules
that live in the run (each asserts creates per shot, the outcome and its one line, and the
journal), the gate, the journal's mode and migration, and the provider seam itself."""
from __future__ import annotations

import importlib.util
import math
import re
import shutil
import subprocess
import sys
import threading

import pytest

from chainer.errors import InputError
from chainer.providers import open_provider
from chainer.providers.base import ProviderRequest, TaskStatus, decide_ownership
from chainer.providers.mock import MockError, MockProvider
from chainer.run import journal as J
from chainer.run.orchestrator import render
from chainer.run.status import run_status
from render_util import MODEL, TWO_SEQUENCES, write_storyboard


def _ok_clip(path, **kw):
    return None


def _render(prov, sb, run, **kw):
    kw.setdefault("progress", False)
    kw.setdefault("yes", True)
    return render(sb, run_dir=run, provider=prov, verify_clip=_ok_clip, assembly=False, **kw)


def _attempts(run):
    with J.Journal(run / "journal.sqlite") as j:
        return j.attempts()


@pytest.fixture
def sb(tmp_path):
    return write_storyboard(tmp_path / "sb.yaml", TWO_SEQUENCES)


def test_happy_path_one_create_per_shot_and_a_rerun_creates_nothing(sb, tmp_path):
    prov = MockProvider()
    res = _render(prov, sb, tmp_path / "run")
    assert res.ok, res.problems
    assert prov.creates == {s["id"]: 1 for s in TWO_SEQUENCES}
    atts = _attempts(tmp_path / "run")
    assert {a.state for a in atts} == {J.SUCCEEDED}
    assert {a.provider_identity for a in atts} == {prov.identity}
    assert {a.currency for a in atts} == {"CNY"}
    res2 = _render(prov, sb, tmp_path / "run")
    assert res2.ok and prov.create_calls == len(TWO_SEQUENCES)
    # rollback journal: nothing lives beside journal.sqlite once a render is over
    assert not list((tmp_path / "run").glob("journal.sqlite-*"))


# ---- rule 1: a 404 is not proof -----------------------------------------------------------------

def test_transient_404_after_create_is_rechecked_not_resubmitted(sb, tmp_path):
    prov = MockProvider()
    prov.flaky_404 = {"s2": 3}
    res = _render(prov, sb, tmp_path / "run")
    assert res.ok, res.problems
    assert prov.creates_for("s2") == 1


def test_task_gone_stops_its_sequence_unless_resubmission_is_asked(sb, tmp_path):
    prov = MockProvider()
    prov.vanish = {"s2"}
    run = tmp_path / "run"
    res = _render(prov, sb, run)
    assert not res.ok and prov.creates_for("s2") == 1 and prov.creates_for("s3") == 0
    (line,) = res.problems
    assert line.startswith("sequence 1 stopped at s2: task mock-") and "--resubmit" in line
    assert "check it in the provider's console" in line
    assert prov.creates_for("t2") == 1                       # the other sequence went on
    s2 = [a for a in _attempts(run) if a.shot_id == "s2"]
    assert [a.state for a in s2] == [J.SUBMITTED]            # never declared lost on its own
    res = _render(prov, sb, run)                              # still gone: still not resubmitted
    assert not res.ok and prov.creates_for("s2") == 1
    res = _render(prov, sb, run, resubmit=True)
    assert res.ok, res.problems
    assert prov.creates_for("s2") == 2
    assert [a.state for a in _attempts(run) if a.shot_id == "s2"] == [J.LOST, J.SUCCEEDED]


# ---- rule 2: an ambiguous create is resolved only on proof --------------------------------------

def test_ambiguous_create_adopts_the_task_carrying_our_marker(sb, tmp_path):
    prov = MockProvider()
    prov.fail_create[2] = "ambiguous_after_create"
    res = _render(prov, sb, tmp_path / "run", concurrency=1)
    assert res.ok, res.problems
    assert prov.creates == {s["id"]: 1 for s in TWO_SEQUENCES}
    with J.Journal(tmp_path / "run" / "journal.sqlite") as j:
        assert [e.shot_id for e in j.events(kind="adopted")] == ["s2"]


@pytest.mark.parametrize("mode, why", [("partial", "not scanned to its end"),
                                       ("strip", "does not echo markers")])
def test_ambiguous_create_with_an_unprovable_list_stops_without_a_second_create(sb, tmp_path, mode, why):
    prov = MockProvider(list_mode=mode)
    prov.fail_create[1] = MockError("ambiguous", "timed out")   # made no task; nothing can tell
    run = tmp_path / "run"
    res = _render(prov, sb, run, concurrency=1)
    assert prov.create_calls == 3                      # s1 once (ambiguous), t1, t2; never again
    assert prov.creates_for("s1") == 0 and prov.creates_for("s2") == 0
    line = [p for p in res.problems if "stopped at s1" in p][0]
    assert why in line and "not submitting again" in line
    assert [a.state for a in _attempts(run) if a.shot_id == "s1"] == [J.AMBIGUOUS]
    assert {s["id"]: s["action"] for s in run_status(run)["shots"]}["s1"] == "resolve"
    res = _render(prov, sb, run, concurrency=1)        # a re-run checks again; still no create
    assert prov.create_calls == 3 and prov.creates_for("s1") == 0


def test_ambiguous_create_with_markers_stripped_is_adopted_on_parameters_and_clock(sb, tmp_path):
    prov = MockProvider(list_mode="strip")
    prov.fail_create[1] = "ambiguous_after_create"
    res = _render(prov, sb, tmp_path / "run", concurrency=1)
    assert res.ok, res.problems
    assert prov.creates_for("s1") == 1
    with J.Journal(tmp_path / "run" / "journal.sqlite") as j:
        (ev,) = list(j.events(kind="adopted"))
        assert "parameter" in ev.detail["by"]


def test_ambiguous_create_found_once_the_lagging_list_catches_up(sb, tmp_path):
    from chainer.providers.poll import PollPolicy

    prov = MockProvider(list_lag=0.05, poll=PollPolicy.fast(0.03))   # re-scan after 0.15 s
    prov.fail_create[1] = "ambiguous_after_create"
    res = _render(prov, sb, tmp_path / "run", concurrency=1)
    assert res.ok, res.problems
    assert prov.creates_for("s1") == 1


def test_ambiguous_create_never_adopts_a_foreign_task_with_other_parameters(sb, tmp_path):
    prov = MockProvider(list_mode="strip")
    foreign = prov.add_foreign(MODEL, {"resolution": "720p", "duration": 2})
    prov.fail_create[1] = MockError("ambiguous", "timed out")     # no task made
    run = tmp_path / "run"
    res = _render(prov, sb, run, concurrency=1)
    assert prov.creates_for("s1") == 0
    assert foreign not in {a.task_id for a in _attempts(run)}
    assert any("stopped at s1" in p and "absence is not proven" in p for p in res.problems), res.problems


def test_lagging_list_with_markers_proves_absence_only_on_a_second_scan(sb, tmp_path):
    """The create never reached the provider but looked ambiguous: absent twice -> created once."""
    prov = MockProvider(list_mode="echo")
    prov.fail_create[1] = MockError("ambiguous", "connection reset")
    res = _render(prov, sb, tmp_path / "run", concurrency=1)
    assert res.ok, res.problems
    assert prov.creates_for("s1") == 1
    assert [a.state for a in _attempts(tmp_path / "run") if a.shot_id == "s1"] == [J.REJECTED, J.SUCCEEDED]


def test_a_create_answered_with_an_id_already_journalled_stops_that_sequence(sb, tmp_path):
    prov = MockProvider()
    run = tmp_path / "run"
    assert _render(prov, sb, run).ok
    edited = [dict(s) for s in TWO_SEQUENCES]
    edited[-1]["prompt"] += ", the fire crackles"                # t2 must be rendered again
    prov.reuse_ids = True
    res = _render(prov, write_storyboard(tmp_path / "edited.yaml", edited), run)
    assert not res.ok
    (line,) = res.problems
    # the id the mock hands out again belongs to whichever shot was created first (s1 or t1)
    m = re.search(r"answered with task id (\S+), which is already recorded for (\w+)", line)
    assert "stopped at t2" in line and m, line
    assert J.Journal(run / "journal.sqlite").by_task(m.group(1)).shot_id == m.group(2)
    atts = _attempts(run)
    ids = [a.task_id for a in atts if a.task_id]
    assert len(ids) == len(set(ids)) == 5
    assert [a.state for a in atts if a.shot_id == "t2"] == [J.SUCCEEDED, J.AMBIGUOUS]


def test_decide_ownership_rules():
    req = ProviderRequest(body={}, model="m", params={"resolution": "720p", "seed": 3},
                          marker="chainer-x", marker_sent=True)

    def t(i, **kw):
        kw.setdefault("model", "m")
        kw.setdefault("params", {"resolution": "720p", "seed": 3})
        kw.setdefault("created_at", 100.0)
        return TaskStatus(id=i, state="running", **kw)

    assert decide_ownership(req, [t("a", marker="chainer-x")], complete=False, window=None).kind == "proven"
    bad = decide_ownership(req, [t("a", marker="chainer-x", model="other")], complete=True, window=None)
    assert bad.kind == "unknown"
    assert decide_ownership(req, [t("a", marker="chainer-y")], complete=True, window=None).kind == "absent"
    assert decide_ownership(req, [t("a", marker="chainer-y")], complete=False, window=None).kind == "unknown"
    # a list said to echo markers, holding a matching task WITHOUT one: never "absent"
    assert decide_ownership(req, [t("a")], complete=True, window=None,
                            markers_echoed=True).kind == "unknown"
    assert decide_ownership(req, [t("a", params={"resolution": "480p"})], complete=True,
                            window=None, markers_echoed=True).kind == "absent"
    # no markers: every parameter + the provider's clock + a complete scan
    assert decide_ownership(req, [t("a")], complete=True, window=(90, 110)).kind == "proven"
    assert decide_ownership(req, [t("a")], complete=True, window=None).kind == "unknown"
    assert decide_ownership(req, [t("a")], complete=False, window=(90, 110)).kind == "unknown"
    assert decide_ownership(req, [t("a", created_at=500.0)], complete=True, window=(90, 110)).kind == "unknown"
    assert decide_ownership(req, [t("a", params={"resolution": "720p"})], complete=True,
                            window=(90, 110)).kind == "unknown"
    assert decide_ownership(req, [t("a"), t("b")], complete=True, window=(90, 110)).kind == "unknown"
    assert decide_ownership(req, [t("a"), t("b")], complete=True, window=(90, 110),
                            known_ids=["b"]).kind == "proven"


# ---- rule 4: no journal, no render ---------------------------------------------------------------

@pytest.mark.parametrize("damage", ["missing", "empty", "garbage"])
def test_run_dir_with_outputs_but_no_usable_journal_is_refused(sb, tmp_path, damage):
    prov = MockProvider()
    run = tmp_path / "run"
    assert _render(prov, sb, run).ok
    path = run / "journal.sqlite"
    if damage == "missing":
        path.unlink()
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(InputError) as exc:
        _render(prov, sb, run)
    msg = str(exc.value)
    assert "\n" not in msg and "nothing submitted" in msg and "To recover" in msg
    assert exc.value.exit_code == 2
    assert prov.create_calls == len(TWO_SEQUENCES)


def test_cli_refuses_a_run_dir_without_its_journal_with_exit_2(sb, tmp_path):
    run = tmp_path / "run"
    (run / "clips").mkdir(parents=True)
    (run / "clips" / "s1.mp4").write_bytes(b"paid for")
    from click.testing import CliRunner

    from chainer.cli.main import cli

    r = CliRunner().invoke(cli, ["render", str(sb), "-o", str(run), "--provider", "emulator",
                                 "--progress", "off"])
    assert r.exit_code == 2, r.output
    assert "journal.sqlite is missing" in r.output and "Traceback" not in r.output


# ---- rule 5: every paid submission passes the gate ----------------------------------------------

def test_resubmission_for_an_expired_url_needs_the_same_confirmation(sb, tmp_path):
    """The estimate (5 x 0.19 CNY) is under the threshold; the unplanned 6th task passes it."""
    above = 1.05
    prov = MockProvider()
    prov.expire_on_success = {"s1"}
    asked: list[str] = []
    res = _render(prov, sb, tmp_path / "run", yes=False, confirm_above=above,
                  confirm=lambda q: asked.append(q) or False, concurrency=1)
    assert len(asked) == 1 and "s1" in asked[0] and "not in the estimate" in asked[0]
    assert prov.creates_for("s1") == 1                 # the new task was not confirmed
    assert any("stopped at s1" in p and "not confirmed" in p for p in res.problems)
    # chainer status counts it, and the next run asks for it with the estimate
    st = run_status(tmp_path / "run")
    assert {s["id"]: s["action"] for s in st["shots"]}["s1"] == "resubmit"
    assert st["totals"]["to_submit"] == 3              # s1 again, s2 and s3 after it
    asked.clear()
    res = _render(prov, sb, tmp_path / "run", yes=False, confirm_above=0.5,
                  confirm=lambda q: asked.append(q) or True, concurrency=1)
    assert res.ok and prov.creates_for("s1") == 2
    assert len(asked) == 1 and asked[0].startswith("Submit 3 paid task(s)")
    # without a way to ask, refused the same way
    prov2 = MockProvider()
    prov2.expire_on_success = {"s1"}
    res = _render(prov2, sb, tmp_path / "run2", yes=False, confirm_above=above, confirm=None,
                  concurrency=1)
    assert prov2.creates_for("s1") == 1
    assert any("not in the estimate" in p and "--yes" in p for p in res.problems)
    # --yes: the re-render goes through
    prov3 = MockProvider()
    prov3.expire_on_success = {"s1"}
    res = _render(prov3, sb, tmp_path / "run3", yes=True, concurrency=1)
    assert res.ok and prov3.creates_for("s1") == 2


def test_budget_nan_negative_and_unknown_price(sb, tmp_path):
    for bad in (float("nan"), -1.0, float("inf")):
        with pytest.raises(InputError, match="--budget"):
            _render(MockProvider(), sb, tmp_path / "run", budget=bad)

    class Unpriced(MockProvider):       # a host with no known price (Replicate, say)
        def estimate(self, shot):
            return None

        def price(self, shot):
            return None

    prov = Unpriced()
    with pytest.raises(InputError, match="no price is known"):
        _render(prov, sb, tmp_path / "run", budget=100.0)
    assert prov.create_calls == 0


def test_budget_stops_submitting_before_it_is_passed(sb, tmp_path):
    prov = MockProvider()
    res = _render(prov, sb, tmp_path / "run", budget=1000.0, concurrency=1)
    assert res.ok


def test_lost_last_frame_is_reextracted_from_the_local_clip_not_paid(tmp_path):
    """Clips are real here (tiny, encoded once) so the last frame can be extracted."""
    import numpy as np

    from chainer.media.ffmpeg import encode_video, extract_frame_png

    def clip_maker(path, shot_id, size):
        w, h = size
        frames = [np.full((h, w, 3), (i * 9 + len(shot_id) * 30) % 255, np.uint8) for i in range(5)]
        encode_video(path.with_suffix(".tmp.mp4"), frames, width=w, height=h, preset="ultrafast")
        path.with_suffix(".tmp.mp4").replace(path)

    class Prov(MockProvider):
        def download(self, url, dest, *, max_bytes, deadline):
            tid, _, what = url[len("mock://"):].partition("/")
            if what == "last.png":      # the provider's last frame IS the clip's last frame
                clip = dest.with_name(dest.name + ".clip.mp4")
                body = self.tasks[tid].request.body
                clip_maker(clip, self.tasks[tid].shot_id, (body["w"], body["h"]))
                extract_frame_png(clip, dest.with_name("x.png"), last=True)
                dest.with_name("x.png").replace(dest)
                clip.unlink()
                return dest.stat().st_size
            return super().download(url, dest, max_bytes=max_bytes, deadline=deadline)

    sb = write_storyboard(tmp_path / "sb.yaml", TWO_SEQUENCES[:2])
    prov = Prov(clip_maker=clip_maker)
    run = tmp_path / "run"
    assert _render(prov, sb, run).ok
    (run / "frames" / "s1.last.png").unlink()
    res = _render(prov, sb, run)
    assert res.ok, res.problems
    assert prov.create_calls == 2
    s1 = [a for a in _attempts(run) if a.shot_id == "s1"]
    assert len(s1) == 1 and s1[0].frame_source == "extracted"


# ---- rule 6: tasks are polled where they were created -------------------------------------------

def test_changing_base_url_never_declares_old_tasks_lost(sb, tmp_path):
    from chainer.providers.poll import PollPolicy

    run = tmp_path / "run"
    a = MockProvider("https://a.example/api", script={"s1": ["running"]},
                     poll=PollPolicy.fast(0.001, max_wait=0.05))
    res = _render(a, sb, run, concurrency=1)
    assert not res.ok
    b = MockProvider("https://b.example/api")
    res = _render(b, sb, run, concurrency=1)
    assert b.creates_for("s1") == 0
    line = [p for p in res.problems if "stopped at s1" in p][0]
    assert "lives at mock@https://a.example/api" in line and "--base-url https://a.example/api" in line
    att = [x for x in _attempts(run) if x.shot_id == "s1"]
    assert [x.state for x in att] == [J.RUNNING] and att[0].provider_identity == a.identity


def test_emulator_base_url_is_used(sb, tmp_path):
    from chainer.emulator import Emulator, EmulatorConfig

    with Emulator(EmulatorConfig()) as emu:
        prov = open_provider("emulator", base_url=emu.base_url)
        try:
            assert prov.base_url == emu.base_url and not prov.ephemeral
            assert prov.identity == "emulator@" + emu.base_url
        finally:
            prov.close()


# ---- journal ------------------------------------------------------------------------------------

def test_journal_copied_without_side_files_loses_nothing(sb, tmp_path):
    prov = MockProvider()
    run = tmp_path / "run"
    assert _render(prov, sb, run).ok
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(run / "journal.sqlite", copy / "journal.sqlite")
    with J.Journal(copy / "journal.sqlite") as j:
        assert len(j.attempts()) == len(TWO_SEQUENCES)


def test_intent_numbers_are_unique_across_two_writers(tmp_path):
    path = tmp_path / "journal.sqlite"
    j1, j2 = J.Journal(path), J.Journal(path)
    nums: list[int] = []
    lock = threading.Lock()

    def add(j):
        for i in range(20):
            a = j.add_intent("s1", "k", f"m-{id(j)}-{i}")
            with lock:
                nums.append(a.number)

    ts = [threading.Thread(target=add, args=(j,)) for j in (j1, j2)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert sorted(nums) == list(range(1, 41))
    j1.close()
    j2.close()


def test_schema_1_journal_written_by_the_previous_version_is_migrated(tmp_path):
    """The previous journal.py (from git history) writes the journal; this one reads it."""
    src = subprocess.run(["git", "show", "c7cdc24:chainer/run/journal.py"], capture_output=True,
                         text=True, cwd=str(tmp_path.parent if False else _repo()))
    if src.returncode != 0:
        pytest.skip("git history not available")
    mod_path = tmp_path / "old_journal.py"
    mod_path.write_text(src.stdout)
    spec = importlib.util.spec_from_file_location("old_journal", mod_path)
    old = importlib.util.module_from_spec(spec)
    sys.modules["old_journal"] = old
    spec.loader.exec_module(old)
    path = tmp_path / "journal.sqlite"
    oj = old.Journal(path)
    oj.set_meta("provider", "ark")
    oj.set_meta("base_url", "https://Ark.cn-beijing.volces.com/api/v3/")
    a = oj.add_intent("s1", "k", "chainer-1", model="m", base_url="https://ark.cn-beijing.volces.com/api/v3")
    oj.update(a.id, task_id="cgt-1", state="running")
    oj.close()
    with J.Journal(path) as j:
        (att,) = j.attempts()
        assert att.provider_identity == "ark@https://ark.cn-beijing.volces.com/api/v3"
        assert att.currency == "CNY" and att.task_id == "cgt-1"
        assert j.get_meta("schema_version") == J.SCHEMA_VERSION
    assert not (tmp_path / "journal.sqlite-wal").exists()


def _repo():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent


def test_open_provider_registry():
    with pytest.raises(InputError, match="not one of"):
        open_provider("nonesuch")
    with pytest.raises(InputError, match="credentials"):
        open_provider("ark", base_url="https://user:sk-secret@ark.example/api/v3", api_key="k")
    p = open_provider("mock")
    assert p.identity == "mock@mock://local" and math.isfinite(p.poll_policy().initial)


def test_cli_budget_nan_and_negative_exit_2_one_line(sb, tmp_path):
    from click.testing import CliRunner

    from chainer.cli.main import cli

    for bad in ("nan", "-1"):
        r = CliRunner().invoke(cli, ["render", str(sb), "-o", str(tmp_path / "run"), "--provider",
                                     "emulator", "--budget", bad, "--progress", "off"])
        assert r.exit_code == 2, r.output
        (line,) = [ln for ln in r.output.splitlines() if ln.strip()]
        assert "--budget" in line and "Traceback" not in r.output
    assert not (tmp_path / "run" / "journal.sqlite").exists()


def test_cli_emulator_base_url_is_the_one_used(tmp_path):
    from click.testing import CliRunner

    from chainer.cli.main import cli
    from chainer.emulator import Emulator, EmulatorConfig

    sb = write_storyboard(tmp_path / "sb.yaml", TWO_SEQUENCES[:1])
    with Emulator(EmulatorConfig(x264_preset="ultrafast", latency=0.1)) as emu:
        r = CliRunner().invoke(cli, ["render", str(sb), "-o", str(tmp_path / "run"), "--provider",
                                     "emulator", "--base-url", emu.base_url, "--progress", "off",
                                     "--poll-interval", "0.05"])
        assert r.exit_code == 0, r.output
        assert emu.stats()["tasks_created"] == 1
    (att,) = _attempts(tmp_path / "run")
    assert att.provider_identity == "emulator@" + emu.base_url


def test_a_clip_the_journal_does_not_know_is_refused(tmp_path):
    """An older copy of the journal restored over a newer render: t1's and t2's clips are not in it."""
    prov = MockProvider()
    run = tmp_path / "run"
    short = write_storyboard(tmp_path / "short.yaml", TWO_SEQUENCES[:3])
    full = write_storyboard(tmp_path / "full.yaml", TWO_SEQUENCES)
    assert _render(prov, short, run).ok
    shutil.copy(run / "journal.sqlite", tmp_path / "old.sqlite")       # a backup, then more work
    assert _render(prov, full, run).ok and prov.create_calls == 5
    shutil.copy(tmp_path / "old.sqlite", run / "journal.sqlite")
    with pytest.raises(InputError, match=r"clips/t1.mp4 \(and 1 more\) has no task in journal"):
        _render(prov, full, run)
    assert prov.create_calls == 5
