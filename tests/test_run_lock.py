"""One owner per run dir (issue 10 rule 3): chainer.run.lock.RunLock with real processes.

Holders are real subprocesses synchronised over pipes (they print "locked" and block on stdin
until told to go): no sleeps.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from chainer.errors import InputError
from chainer.run.lock import LOCK_NAME, RunDirBusy, RunLock, read_holder

ROOT = Path(__file__).resolve().parent.parent

HOLDER = r"""
import os, sys
from pathlib import Path
from chainer.run.lock import RunLock, RunDirBusy
run_dir, mode = Path(sys.argv[1]), sys.argv[2]
if mode == "race":
    sys.stdin.readline()                      # wait for "go": every racer starts together
try:
    lock = RunLock(run_dir, "render")
    lock.acquire()
except RunDirBusy as exc:
    print("busy", str(exc), flush=True)
    sys.exit(2)
print("locked", os.getpid(), flush=True)
if mode == "crash":
    os._exit(9)                               # die holding it: no release, record left behind
sys.stdin.readline()                          # hold until told to go
lock.release()
print("released", flush=True)
"""


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _spawn(run_dir: Path, mode: str = "hold") -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", HOLDER, str(run_dir), mode], env=_env(),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def _chainer(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chainer", *args], cwd=cwd, env=_env(),
                          capture_output=True, text=True, timeout=120)


def test_second_process_refused_at_once_naming_the_holder(tmp_path):
    run = tmp_path / "run"
    holder = _spawn(run)
    try:
        line = holder.stdout.readline().split()
        assert line[0] == "locked"
        pid = int(line[1])
        rec = read_holder(run)
        assert rec["pid"] == pid and rec["host"] == socket.gethostname()
        assert rec["purpose"] == "render" and rec["started"].endswith("Z")

        with pytest.raises(RunDirBusy) as exc:
            with RunLock(run, "review"):
                pass
        msg = str(exc.value)
        assert "\n" not in msg and f"pid {pid}" in msg and "render" in msg and str(run) in msg
        assert isinstance(exc.value, InputError) and exc.value.exit_code == 2
        assert exc.value.holder["pid"] == pid

        # the CLI: review of a busy run dir exits 2 with one line naming the holder
        res = _chainer("review", "run", cwd=tmp_path)
        assert res.returncode == 2, res.stderr
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and f"pid {pid}" in lines[0] and "Traceback" not in res.stderr
        assert res.stdout == ""
    finally:
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "released"
        holder.wait(30)
    assert not (run / LOCK_NAME).exists()        # a clean release leaves no lock file behind
    with RunLock(run, "review") as lock:         # and the dir is free again
        assert lock.held and read_holder(run)["pid"] == os.getpid()
    assert not (run / LOCK_NAME).exists()


def test_racing_processes_exactly_one_wins(tmp_path):
    run = tmp_path / "run"
    racers = [_spawn(run, "race") for _ in range(4)]
    try:
        for p in racers:
            p.stdin.write("go\n")
            p.stdin.flush()
        first = [p.stdout.readline().split(" ", 1)[0] for p in racers]
        assert sorted(first) == ["busy", "busy", "busy", "locked"], first
    finally:
        for p in racers:
            if p.poll() is None:
                p.stdin.write("go\n")
                p.stdin.flush()
            p.wait(30)
    assert sorted(p.returncode for p in racers) == [0, 2, 2, 2]


def test_stale_lock_of_dead_process_is_taken_over(tmp_path):
    run = tmp_path / "run"
    dead = _spawn(run, "crash")
    line = dead.stdout.readline().split()
    dead.wait(30)
    assert line[0] == "locked" and dead.returncode == 9
    stale = read_holder(run)
    assert stale["pid"] == int(line[1])               # the dead holder's record is still there
    with RunLock(run, "render"):
        assert read_holder(run)["pid"] == os.getpid()  # taken over, record rewritten
        other = _spawn(run)                            # and really held: a third party is refused
        out = other.stdout.readline()
        other.wait(30)
        assert out.startswith("busy") and f"pid {os.getpid()}" in out and other.returncode == 2


def test_leftover_record_from_another_host_is_not_taken_over(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / LOCK_NAME).write_text(json.dumps({"pid": 1, "host": "elsewhere.invalid",
                                             "started": "2026-01-01T00:00:00Z",
                                             "purpose": "render"}))
    with pytest.raises(RunDirBusy) as exc:
        with RunLock(run, "render"):
            pass
    assert "elsewhere.invalid" in str(exc.value) and "delete" in str(exc.value)


def test_planted_symlink_is_not_written_through(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (run / LOCK_NAME).symlink_to(victim)
    with pytest.raises(InputError) as exc:
        with RunLock(run, "render"):
            pass
    assert "symbolic link" in str(exc.value)
    assert victim.read_text() == "precious"


def test_stitch_into_a_busy_run_dir_is_refused(tmp_path):
    from chainer.run.journal import Journal

    run = tmp_path / "run"
    Journal(run / "journal.sqlite").close()      # a run dir as render leaves it
    holder = _spawn(run)
    try:
        assert holder.stdout.readline().startswith("locked")
        res = _chainer("stitch", "a.mp4", "b.mp4", "-o", "run/film.mp4", cwd=tmp_path)
        assert res.returncode == 2 and "in use by chainer render" in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1
        assert not (run / "film.mp4").exists()
    finally:
        holder.stdin.write("go\n")
        holder.stdin.flush()
        holder.wait(30)


def test_review_of_missing_dir_does_not_create_it(tmp_path):
    res = _chainer("review", "nope", cwd=tmp_path)
    assert res.returncode == 2 and "not a directory" in res.stderr
    assert not (tmp_path / "nope").exists()
