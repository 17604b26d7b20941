"""The SQLite journal: durable across kill -9, thread-safe, never stores unknown fields."""
from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from chainer.run.journal import CREATING, SUCCEEDED, Journal


def test_intent_task_id_and_updates_round_trip(tmp_path):
    j = Journal(tmp_path / "journal.sqlite", clock=lambda: 100.0)
    a = j.add_intent("s1", "k1", "chainer-abc", model="m", est_tokens=10, est_cost=0.5)
    assert (a.state, a.number, a.intent_at, a.task_id) == (CREATING, 1, 100.0, None)
    a = j.update(a.id, state="submitted", task_id="cgt-1", event="submitted", detail={"x": 1})
    b = j.add_intent("s1", "k1", "chainer-def")
    assert b.number == 2 and j.latest("s1", "k1").id == b.id
    assert j.by_task("cgt-1").id == a.id and j.known_task_ids() == {"cgt-1"}
    j.update(a.id, state=SUCCEEDED, tokens=99, result_json='{"seed": 3}')
    assert j.get(a.id).result == {"seed": 3}
    assert [e.kind for e in j.events("s1")] == ["intent", "submitted", "intent"]
    with pytest.raises(KeyError):
        j.update(a.id, api_key="nope")
    j.set_meta("provider", {"name": "emulator"})
    j.close()
    j2 = Journal(tmp_path / "journal.sqlite")
    assert j2.get_meta("provider") == {"name": "emulator"} and len(j2.attempts("s1")) == 2


def test_commits_survive_kill_9(tmp_path):
    path = tmp_path / "journal.sqlite"
    code = f"""
import os, signal
from chainer.run.journal import Journal
j = Journal({str(path)!r})
a = j.add_intent("s1", "k", "m1")
j.update(a.id, task_id="cgt-x", state="submitted")
os.kill(os.getpid(), signal.SIGKILL)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert proc.returncode == -9
    j = Journal(path)
    (a,) = j.attempts()
    assert (a.task_id, a.state, a.marker) == ("cgt-x", "submitted", "m1")


def test_concurrent_writers(tmp_path):
    j = Journal(tmp_path / "j.sqlite")

    def work(n):
        for i in range(20):
            a = j.add_intent(f"s{n}", "k", f"m{n}-{i}")
            j.update(a.id, state="queued", task_id=f"t{n}-{i}", event="queued")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(j.attempts()) == 80 and len(j.known_task_ids()) == 80
    assert [a.number for a in j.attempts("s2", "k")] == list(range(1, 21))
