"""Issue 10: chainer against a hostile provider of our own (tests/hostile_provider.py).

Each test drives ``chainer render --provider ark --base-url <proxy>`` as a subprocess from a temp
working dir with a relative run dir and asserts: the tasks the emulator really created per shot,
the exit code and the one line, a consistent journal (a re-run proceeds), nothing written outside
the run dir, no fragment of the key in any file or output, no traceback.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3

import pytest

from chainer.emulator import Emulator, EmulatorConfig
from chainer.emulator.config import OffsetClock
from chainer.run.journal import Journal
from hostile_provider import HostileProvider, Rule
from hostile_util import KEY, Scene, leaks_in_text, one_line, tasks_per_prompt

def _emu(**kw) -> EmulatorConfig:
    kw.setdefault("latency", 0.1)
    kw.setdefault("x264_preset", "ultrafast")
    return EmulatorConfig(**kw)


def _journal_ids(scene: Scene) -> list[str]:
    j = Journal(scene.run / "journal.sqlite")
    try:
        return [a.task_id for a in j.attempts() if a.task_id]
    finally:
        j.close()


def _rerun_ok(scene: Scene, hp: HostileProvider, creates: int) -> None:
    """The journal is consistent: without the hostile rules, a re-run through the same endpoint
    finishes, paying only for shots that never had a task."""
    hp.rules = []
    st = scene.chainer("status", "run")
    assert st.rc == 0, st.text
    res = scene.render(hp.base_url)
    scene.check(res)
    assert res.rc == 0, res.text[-2000:]
    assert hp.created() == creates
    assert all(n == 1 for n in tasks_per_prompt(hp.emu).values())


# ---- provider data is untrusted input ------------------------------------------------------------

def test_task_id_with_dot_dot_in_a_poll_answer_stops_that_shot(tmp_path):
    scene = Scene(tmp_path)
    with HostileProvider([Rule("get", "mutate", every=True, mutators=["id_traversal"])]) as hp:
        res = scene.render(hp.base_url)
        scene.check(res)
        assert res.rc == 1 and hp.created() == 1
        line = one_line(res, "is not a valid task id")
        assert "sequence 1 stopped at q0s0" in line and "re-run" in line
        assert not list(tmp_path.rglob("*escaped*"))
        _rerun_ok(scene, hp, 2)


def test_task_id_with_dot_dot_in_a_create_answer_is_resolved_not_used(tmp_path):
    scene = Scene(tmp_path)
    with HostileProvider([Rule("create", "mutate", on=(1,), mutators=["create_bad_id"]),
                          Rule("create", "mutate", on=(2,), mutators=["create_wrong_type"])]) as hp:
        res = scene.render(hp.base_url)
        scene.check(res)
        # the bad answers are ambiguous creates: the tasks are found by their markers
        assert res.rc == 0 and hp.created() == 2, res.text[-2000:]
        assert len(res.lines_with("adopted")) == 2
        assert not list(tmp_path.rglob("*outside*"))
    assert all(i.startswith("cgt-") for i in _journal_ids(scene))


@pytest.mark.parametrize("mutator, field", [
    ("status_unknown", "status: 'paused' is not one of"),
    ("created_inf", "created_at: inf is not an integer"),
    ("seed_nan", "seed: nan is not an integer"),
    ("seed_str", "seed: is a str, not an integer"),
    ("int_huge", "is out of range"),
    ("bool_frames", "frames: is a boolean"),
    ("content_list", "content: is a list, not an object"),
    ("url_ftp", "the result URL has scheme 'ftp'"),           # https only,
    ("url_remote_http", "the result URL has scheme 'http'"),  # plain http on loopback only
    ("url_file", "the result URL has scheme 'file'"),
])
def test_malformed_task_records_give_one_line_for_that_shot(tmp_path, mutator, field):
    scene = Scene(tmp_path, tag=mutator)
    with HostileProvider([Rule("get", "mutate", every=True, mutators=[mutator])]) as hp:
        res = scene.render(hp.base_url)
        scene.check(res)
        assert res.rc == 1 and hp.created() == 1, res.text[-2000:]
        line = one_line(res, field)
        assert line.startswith("sequence 1 stopped at q0s0") and "re-run" in line
        _rerun_ok(scene, hp, 2)


@pytest.mark.parametrize("location", ["ftp://127.0.0.1/x.mp4", "file:///etc/passwd",
                                      "http://203.0.113.7/x.mp4"])
def test_result_download_redirect_to_another_scheme_or_host_is_refused(tmp_path, location):
    scene = Scene(tmp_path)
    with HostileProvider([Rule("file", "redirect", every=True, location=location)]) as hp:
        res = scene.render(hp.base_url)
        scene.check(res)
        assert res.rc == 1 and hp.created() == 1, res.text[-2000:]
        line = one_line(res, "redirect to")
        assert "refused" in line
        assert hp.count("file") == 1          # not retried: the same redirect would come back
        _rerun_ok(scene, hp, 2)


def test_endless_result_download_is_capped(tmp_path):
    scene = Scene(tmp_path)
    with HostileProvider([Rule("file", "file_endless", every=True)]) as hp:
        res = scene.render(hp.base_url)
        scene.check(res)
        assert res.rc == 1 and hp.created() == 1
        one_line(res, "byte cap for this file")
        assert not [p for p in scene.run.rglob("*") if p.is_file() and p.stat().st_size > 8 << 20]
        _rerun_ok(scene, hp, 2)


def test_huge_and_endless_json_answers_are_capped_and_retried(tmp_path):
    scene = Scene(tmp_path)
    rules = [Rule("get", "huge", on=(2,), size=32 << 20), Rule("get", "endless", on=(4,)),
             Rule("get", "after_garbage", on=(5,))]
    with HostileProvider(rules) as hp:
        res = scene.render(hp.base_url)
        scene.check(res)
        assert res.rc == 0 and hp.created() == 2, res.text[-2000:]
        assert [f[1] for f in hp.fired] == [2, 4, 5]
        assert len(res.lines_with("byte cap")) == 2     # shown as retries, then recovered


def test_key_echoed_whole_cut_and_without_prefix_never_shows(tmp_path):
    msg = "bad request from {key} (first 19: {key19}; tail {key_tail}) Authorization: Bearer {key}"
    rules = [Rule("get", "status", on=(2, 3), status=500, message=msg),
             Rule("get", "status", on=(5,), status=503, message=msg + "x" * 400),
             Rule("create", "after_status", on=(2,), status=502, message=msg),
             Rule("list", "status", on=(1,), status=500, message=msg)]
    scene = Scene(tmp_path)
    with HostileProvider(rules) as hp:
        res = scene.render(hp.base_url)
        scene.check(res)
        assert res.rc == 0 and hp.created() == 2, res.text[-2000:]
        assert len(hp.fired) == 5
        assert res.lines_with("***")                  # the echoes were shown, redacted
        st = scene.chainer("status", "run", "--json")
        assert st.rc == 0 and leaks_in_text(st.text) == []


def test_control_characters_from_the_provider_are_escaped(tmp_path):
    scene = Scene(tmp_path)
    with HostileProvider([Rule("get", "mutate", every=True, mutators=["failed_ctrl"])]) as hp:
        res = scene.render(hp.base_url)
        scene.check(res)                               # no ESC, CR or NUL in the output
        assert res.rc == 1 and hp.created() == 1
        line = one_line(res, "fake line")
        assert "\\x1b[2J" in line and "failed" in line
        st = scene.chainer("status", "run")
        scene.check(st)


@pytest.mark.parametrize("url", ["http://user:{key}@127.0.0.1:{port}/api/v3",
                                 "http://{key}@127.0.0.1:{port}/api/v3",
                                 "http://127.0.0.1:{port}/api/v3?api_key={key}"])
def test_a_key_in_the_base_url_is_refused_before_anything_is_sent(tmp_path, url):
    scene = Scene(tmp_path)
    with HostileProvider() as hp:
        res = scene.render(url.format(key=KEY, port=hp.root_url.rsplit(":", 1)[1]))
        scene.check(res)
        assert res.rc == 2 and sum(hp.counts.values()) == 0 and hp.created() == 0
        assert res.err.strip().startswith("error: --base-url:")
        assert len(res.err.strip().splitlines()) == 1
        assert not scene.run.exists() or not (scene.run / "journal.sqlite").exists()


# ---- local input and environment -------------------------------------------------------------

@pytest.mark.parametrize("output, message", [
    ("clips/q0s0.mp4", "clips/ is where chainer keeps its own files"),
    ("Frames/x.mp4", "Frames/ is where chainer keeps its own files"),
    ("graded/a.mp4", "graded/"),
    ("takes/a.mp4", "takes/"),
])
def test_output_file_cannot_be_one_of_chainers_own(tmp_path, output, message):
    scene = Scene(tmp_path, output={"file": output})
    with HostileProvider() as hp:
        res = scene.render(hp.base_url)
        scene.check(res)
        assert res.rc == 2 and hp.created() == 0 and sum(hp.counts.values()) == 0
        assert message in one_line(res, "output.file")


@pytest.mark.parametrize("loudness, ok", [("off", True), (0, False), (-80, False),
                                          (".nan", False), ("loud", False)])
def test_output_loudness_is_checked_before_anything_is_paid(tmp_path, loudness, ok):
    scene = Scene(tmp_path, tag=str(loudness))
    text = scene.sb.read_text()
    assert "output:\n  file: out.mp4\n" in text
    scene.sb.write_text(text.replace("output:\n  file: out.mp4\n",
                                     f"output:\n  file: out.mp4\n  loudness: {loudness}\n"))
    scene.resnap()
    with HostileProvider() as hp:
        res = scene.render(hp.base_url)
        scene.check(res)
        if ok:
            assert res.rc == 0 and hp.created() == 2, res.text[-2000:]
            assert (scene.run / "out.mp4").exists()
        else:
            assert res.rc == 2 and hp.created() == 0
            line = one_line(res, "output.loudness")
            assert "-70..-5" in line or "-70 to -5" in line


@pytest.mark.parametrize("field, value, message", [
    ("image", "pipe.png", "is a named pipe (FIFO), not a regular file"),
    ("image", "/dev/zero", "is a character device, not a regular file"),
    ("image", "a\0b.png", "the path contains a NUL byte: a\\x00b.png"),
    ("id", "q0s0\n", "'q0s0\\n' is not a valid id"),        # fullmatch: no trailing newline
])
def test_bad_local_input_is_refused_before_anything_is_sent(tmp_path, field, value, message):
    import yaml

    scene = Scene(tmp_path)
    os.mkfifo(scene.cwd / "pipe.png")
    doc = yaml.safe_load(scene.sb.read_text())
    doc["shots"][0][field] = value
    scene.sb.write_text(yaml.safe_dump(doc))
    scene.resnap()
    with HostileProvider() as hp:
        res = scene.render(hp.base_url)
        scene.check(res)
        assert res.rc == 2 and sum(hp.counts.values()) == 0
        assert message in one_line(res, f"shots[0].{field}")


def test_corrupt_journal_is_refused_and_left_as_it_is(tmp_path):
    scene = Scene(tmp_path)
    with HostileProvider() as hp:
        assert scene.render(hp.base_url).rc == 0
        j = scene.run / "journal.sqlite"
        for side in ("journal.sqlite-wal", "journal.sqlite-shm"):
            (scene.run / side).unlink(missing_ok=True)
        garbage = b"this is not an SQLite database " * 100
        j.write_bytes(garbage)
        for args in (("render", "sb.yaml", "-o", "run", "--provider", "ark", "--base-url",
                      hp.base_url, "--yes"), ("status", "run")):
            res = scene.chainer(*args)
            scene.check(res)
            assert res.rc == 2, res.text
            assert len(res.err.strip().splitlines()) == 1
            assert "journal.sqlite" in res.err and "corrupt" in res.err
        assert j.read_bytes() == garbage and hp.created() == 2


def test_environment_errors_become_one_line():
    import errno

    from chainer.run.rundir import environment_error

    full = environment_error(sqlite3.OperationalError("database or disk is full"))
    ro = environment_error(sqlite3.OperationalError("attempt to write a readonly database"))
    enospc = environment_error(OSError(errno.ENOSPC, "No space left on device", "run/clips/a.mp4"))
    assert "no space left" in str(full) and full.exit_code == 2
    assert "read-only" in str(ro)
    assert str(enospc).startswith("run/clips/a.mp4: no space left")
    assert environment_error(ValueError("x")) is None
    assert environment_error(sqlite3.OperationalError("no such table: x")) is None


# ---- rules 1, 2, 3, 4, 5, 6 (run-core) -------------------------------------------------------

def test_rule1_transient_404_after_create_is_not_proof_the_task_is_gone(tmp_path):
    scene = Scene(tmp_path)
    with HostileProvider([Rule("get", "status", on=(1, 2), status=404,
                               message="The specified task does not exist")]) as hp:
        res = scene.render(hp.base_url)
        scene.check(res)
        assert hp.created() == 2 and max(tasks_per_prompt(hp.emu).values()) == 1
        assert res.rc == 0, res.text[-2000:]


def test_rule2_foreign_task_in_a_lagging_list_is_never_adopted(tmp_path):
    scene = Scene(tmp_path)
    rules = [Rule("create", "after_status", on=(1,), status=500),
             Rule("list", "mutate", every=True, mutators=["list_lag", "no_markers",
                                                          "foreign_task"])]
    with HostileProvider(rules) as hp:
        res = scene.render(hp.base_url)
        scene.check(res)
        assert hp.created() == 1 and res.rc != 0          # stopped: never a second create
        assert not any("foreign" in i for i in _journal_ids(scene))
        assert len(res.lines_with("q0s0")) >= 1
        _rerun_ok(scene, hp, 2)                          # an honest list resolves it


@pytest.mark.parametrize("mutators", [
    ["list_truncated"],
    ["no_markers", "clock_skew"],
    ["dup_list"],                      # a list naming a task twice proves nothing (ark/client.py)
])
def test_rule2_inconclusive_scans_stop_instead_of_paying_again(tmp_path, mutators):
    scene = Scene(tmp_path, tag="-".join(mutators))
    rules = [Rule("create", "after_drop", on=(1,)),
             Rule("list", "mutate", every=True, mutators=mutators)]
    with HostileProvider(rules) as hp:
        res = scene.render(hp.base_url)
        scene.check(res)
        assert max(tasks_per_prompt(hp.emu).values()) == 1 and hp.created() == 1
        assert res.rc != 0
        _rerun_ok(scene, hp, 2)


def test_rule3_second_render_into_a_busy_run_dir_refuses(tmp_path):
    from soak_util import RenderProcess

    scene = Scene(tmp_path)
    with HostileProvider([Rule("get", "status", on=tuple(range(1, 40)), status=503)]) as hp:
        first = RenderProcess(scene.sb, scene.run, hp.base_url, KEY)
        try:
            first.wait_for(r"submitted")
            res = scene.render(hp.base_url)
            assert res.rc == 2 and "in use by chainer render" in one_line(res, "in use")
            assert hp.created() == 1
        finally:
            first.kill()


def test_rule4_lost_journal_with_clips_is_refused(tmp_path):
    scene = Scene(tmp_path)
    with HostileProvider() as hp:
        assert scene.render(hp.base_url).rc == 0
        for name in ("journal.sqlite", "journal.sqlite-wal", "journal.sqlite-shm"):
            (scene.run / name).unlink(missing_ok=True)
        res = scene.render(hp.base_url)
        scene.check(res)
        assert res.rc == 2 and hp.created() == 2
        assert len(res.err.strip().splitlines()) == 1 and "journal" in res.err


def test_rule4_run_dir_copied_without_the_wal_keeps_its_journal(tmp_path):
    scene = Scene(tmp_path)
    with HostileProvider() as hp:
        assert scene.render(hp.base_url).rc == 0
        copy = scene.cwd / "copy"
        shutil.copytree(scene.run, copy, ignore=shutil.ignore_patterns("*-wal", "*-shm"))
        res = scene.chainer("render", "sb.yaml", "-o", "copy", "--provider", "ark",
                            "--base-url", hp.base_url, "--yes", "--poll-interval", "0.05")
        assert res.rc == 0 and hp.created() == 2, res.text[-2000:]


@contextlib.contextmanager
def _expiring_run(tmp_path):
    """A finished 2-shot run on an emulator whose clock can jump past the result URLs' TTL."""
    clock = OffsetClock()
    scene = Scene(tmp_path)
    emu = Emulator(_emu(clock=clock, url_ttl=3600)).start()
    try:
        with HostileProvider(emulator=emu) as hp:
            assert scene.render(hp.base_url).rc == 0
            yield scene, hp, clock
    finally:
        emu.stop()


def test_rule5_resubmission_after_expired_url_passes_the_same_gate(tmp_path):
    with _expiring_run(tmp_path) as (scene, hp, clock):
        (scene.run / "clips" / "q0s1.mp4").unlink()
        clock.advance(7200)                          # the result URLs are gone
        res = scene.render(hp.base_url, yes=False)   # no --yes, not a terminal
        assert hp.created() == 2 and res.rc != 0, res.text[-2000:]
        assert "1 task(s) to submit" in res.text
        res = scene.render(hp.base_url)
        assert res.rc == 0 and hp.created() == 3


def test_rule5_lost_last_frame_is_re_extracted_never_paid(tmp_path):
    with _expiring_run(tmp_path) as (scene, hp, clock):
        (scene.run / "frames" / "q0s0.last.png").unlink()
        clock.advance(7200)
        res = scene.render(hp.base_url)
        scene.check(res)
        assert res.rc == 0 and hp.created() == 2, res.text[-2000:]


def test_rule6_tasks_are_polled_where_they_were_created(tmp_path):
    scene = Scene(tmp_path)
    emu = Emulator(_emu()).start()
    try:
        with HostileProvider([Rule("get", "status", every=True, status=503)], emulator=emu) as a:
            res = scene.render(a.base_url)
            assert res.rc != 0 and a.created() == 1
            a.rules = []
            with HostileProvider(emulator=emu) as b:    # another --base-url, same account
                res = scene.render(b.base_url)
                scene.check(res)
                assert emu.stats()["tasks_created"] == 2, res.text[-2000:]
                assert a.count("get") > 0 and res.rc == 0
    finally:
        emu.stop()
