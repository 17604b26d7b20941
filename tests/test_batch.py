"""chainer batch: many films on one account (limiter, shared budget), resumable, isolated failures."""
from __future__ import annotations

import json
import threading
import time

import pytest
from click.testing import CliRunner

from chainer.batch import run_batch
from chainer.batch.budget import LedgerBudget
from chainer.batch.limiter import AccountLimiter, Limits
from chainer.batch.status import batch_status
from chainer.emulator import Emulator
from chainer.media.probe import count_frames
from chainer.run.journal import Journal
from chainer.run.orchestrator import PollPolicy
from emulator_util import fast_cfg
from render_util import MODEL, write_storyboard

FAST = PollPolicy.fast(0.1)
KEY = "batch-test-key"


def films(tmp_path, n, shots=2):
    d = tmp_path / "storyboards"
    d.mkdir(exist_ok=True)
    return [write_storyboard(d / f"film{i}.yaml",
                             [{"id": f"s{k}", "prompt": f"film {i}: shot {k}, slow pan left"}
                              for k in range(shots)])
            for i in range(n)]


# ---- the limiter -------------------------------------------------------------------------------

def test_limiter_holds_the_limit_and_is_fair_across_films():
    lim = AccountLimiter(Limits(2))
    long_a = lim.acquire("acct", "m", "long")
    long_b = lim.acquire("acct", "m", "long")
    got: list[str] = []
    waiting = []

    def want(film):
        lease = lim.acquire("acct", "m", film)
        got.append(film)
        waiting.append(lease)

    # the long film asks first for a third slot, the short one after: the short one gets it
    t_long = threading.Thread(target=want, args=("long",))
    t_long.start()
    deadline = time.monotonic() + 5
    while not lim._pools[("acct", "m")].waiting and time.monotonic() < deadline:
        time.sleep(0.01)
    t_short = threading.Thread(target=want, args=("short",))
    t_short.start()
    while len(lim._pools[("acct", "m")].waiting) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert got == []                       # both wait: 2 slots held
    long_a.release()
    t_short.join(5)
    assert got == ["short"]                # fewest held slots first, although it came later
    long_b.release()
    t_long.join(5)
    assert got == ["short", "long"]
    assert lim.stats()["acct m"]["peak"] == 2
    for lease in waiting:
        lease.release()
    assert lim.stats()["acct m"]["held"] == 0


def test_limiter_rate_and_cancel():
    now = [1000.0]
    lim = AccountLimiter(Limits(5, rpm=2), clock=lambda: now[0])
    a = lim.acquire("acct", "m", "f")
    b = lim.acquire("acct", "m", "f")
    stop = threading.Event()
    out = []
    t = threading.Thread(target=lambda: out.append(lim.acquire("acct", "m", "f", cancel=stop)))
    t.start()
    t.join(0.5)
    assert t.is_alive()                    # a third create within the minute waits
    # a task that exists already (create=False) takes a slot without spending rate
    c = lim.acquire("acct", "m", "f", create=False)
    stop.set()
    t.join(5)
    assert out == [None]                   # cancelled: no slot
    now[0] += 61.0
    d = lim.acquire("acct", "m", "f")      # the window moved on
    for lease in (a, b, c, d):
        lease.release()
    assert lim.stats()["acct m"]["held"] == 0


def test_ledger_budget_is_one_budget_across_processes(tmp_path):
    import pickle

    one = LedgerBudget(tmp_path / "b.sqlite", 10.0, "inv-1")
    two = pickle.loads(pickle.dumps(one))          # what a cluster worker gets
    assert one.reserve("m1", 6.0)
    assert not two.reserve("m2", 6.0)              # 6 + 6 > 10
    one.settle("m1", 3.0)
    assert two.reserve("m2", 6.0)                  # 3 + 6 <= 10
    two.release("m2")
    assert one.state().spent == 3.0 and one.state().in_flight == 0.0
    # another invocation of the batch has its own budget
    assert LedgerBudget(tmp_path / "b.sqlite", 10.0, "inv-2").reserve("m3", 9.0)


# ---- the batch ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_batch_of_eight_holds_the_account_limit_and_resumes(tmp_path):
    sbs = films(tmp_path, 8)
    out = tmp_path / "out"
    with Emulator(fast_cfg(latency=0.2, concurrency=2)) as emu:
        res = run_batch(sbs, out_dir=out, provider="ark", base_url=emu.base_url, api_key=KEY,
                        concurrency_per_model=2, yes=True, render_options={"poll": FAST})
        assert res.ok, [f.error for f in res.films]
        st = emu.stats()
        assert st["tasks_created"] == 16                       # total creates == total shots
        lim = st["limits"]
        assert lim["peak_running_by_model"][MODEL] <= 2
        # the emulator does not cap queued + running: this is the limiter's doing
        assert lim["peak_active_by_model"][MODEL] == 2
        assert lim["refused"] == {}
        for f in res.films:
            assert f.output is not None and count_frames(f.output) == 49 + 48   # chained seam once
        report = batch_status(out)
        assert report["counts"]["done"] == 8 and report["eta_seconds"] is None
        assert report["spent"] > 0 and report["estimate"] == pytest.approx(report["spent"], rel=0.1)
        # re-running the batch resumes everything: nothing new is created
        again = run_batch([sbs[0].parent], out_dir=out, provider="ark", base_url=emu.base_url,
                          api_key=KEY, concurrency_per_model=2, yes=True,
                          render_options={"poll": FAST})
        assert again.ok and again.estimate == 0.0
        assert emu.stats()["tasks_created"] == 16


def test_one_film_failing_does_not_stop_the_others(tmp_path):
    sbs = films(tmp_path, 3, shots=1)
    out = tmp_path / "out"
    out.mkdir()
    (out / "film1").write_text("not a directory")       # film1 cannot have its run dir
    with Emulator(fast_cfg(latency=0.1, concurrency=2)) as emu:
        res = run_batch(sbs, out_dir=out, provider="ark", base_url=emu.base_url, api_key=KEY,
                        concurrency_per_model=2, yes=True, render_options={"poll": FAST})
        assert [f.ok for f in res.films] == [True, False, True]
        assert emu.stats()["tasks_created"] == 2
    report = batch_status(out)
    assert report["counts"]["done"] == 2 and report["counts"]["failed"] == 1
    failed = [f for f in report["films"] if f["state"] == "failed"]
    assert failed[0]["name"] == "film1" and failed[0]["error"]
    r = CliRunner().invoke(__import__("chainer.cli.main", fromlist=["cli"]).cli, ["status", str(out)])
    assert r.exit_code == 0, r.output
    assert "2 done" in r.output and "1 failed" in r.output and "film1" in r.output


def test_cli_bad_storyboard_anywhere_submits_nothing(tmp_path, monkeypatch):
    from chainer.cli.main import cli

    sbs = films(tmp_path, 2, shots=1)
    bad = sbs[0].parent / "broken.yaml"
    bad.write_text("title: x\nshots: []\n", encoding="utf-8")
    monkeypatch.setenv("ARK_API_KEY", KEY)
    with Emulator(fast_cfg(latency=0.1)) as emu:
        r = CliRunner().invoke(cli, ["batch", str(sbs[0].parent), "-o", str(tmp_path / "out"),
                                     "--provider", "ark", "--base-url", emu.base_url, "--yes"])
        assert r.exit_code == 2, r.output
        assert "broken.yaml" in r.output and "Traceback" not in r.output
        # over the batch budget: refused before anything is submitted
        bad.unlink()
        r = CliRunner().invoke(cli, ["batch", *map(str, sbs), "-o", str(tmp_path / "out"),
                                     "--provider", "ark", "--base-url", emu.base_url, "--yes",
                                     "--budget", "0.1"])
        assert r.exit_code == 2 and "exceeds --budget" in r.output, r.output
        assert emu.stats()["tasks_created"] == 0
    assert not (tmp_path / "out" / "batch.json").exists()


@pytest.mark.slow
def test_batch_on_a_local_cluster_survives_a_killed_worker(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    import os
    import signal

    sbs = films(tmp_path, 8)
    monkeypatch.setenv("ARK_API_KEY", KEY)        # workers read the key from their environment
    killed: list[int] = []

    def kill_one_worker_mid_batch(client, emu):
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:        # bounded poll: until films are on the account
            busy = [w for w, keys in client.processing().items() if keys]
            if emu.stats()["tasks_created"] >= 3 and busy:
                pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.1)

    with Emulator(fast_cfg(latency=0.3, concurrency=2)) as emu:
        def on_cluster(client):
            threading.Thread(target=kill_one_worker_mid_batch, args=(client, emu),
                             daemon=True).start()

        res = run_batch(sbs, out_dir=tmp_path / "out", provider="ark", base_url=emu.base_url,
                        concurrency_per_model=2, yes=True, cluster="local:3",
                        render_options={"poll": FAST}, on_cluster=on_cluster)
        assert killed, "no worker was killed"
        assert res.ok, [f.error for f in res.films]
        st = emu.stats()
        assert st["tasks_created"] == 16                        # creates == shots, kill or not
        assert st["limits"]["peak_running_by_model"][MODEL] <= 2
        assert st["limits"]["peak_active_by_model"][MODEL] <= 2
    runs = {}
    for f in res.films:
        assert count_frames(f.output) == 49 + 48
        with Journal(f.run_dir / "journal.sqlite") as j:
            runs[f.name] = len(list(j.events(kind="run")))
    # the film the killed worker was rendering (one thread per worker) ran again elsewhere and
    # resumed from its journal; every other film ran once
    assert sorted(runs.values()) == [1] * 7 + [2], runs
    assert json.loads((tmp_path / "out" / "batch.json").read_text())["cluster"] == "local:3"


def test_cli_batch_then_status_json(tmp_path, monkeypatch):
    from chainer.cli.main import cli

    sbs = films(tmp_path, 2, shots=1)
    out = tmp_path / "out"
    monkeypatch.setenv("ARK_API_KEY", KEY)
    with Emulator(fast_cfg(latency=0.1, concurrency=1)) as emu:
        r = CliRunner().invoke(cli, ["batch", str(sbs[0].parent), "-o", str(out), "--provider",
                                     "ark", "--base-url", emu.base_url, "--yes",
                                     "--concurrency-per-model", "1", "--poll-interval", "0.1"])
        assert r.exit_code == 0, r.output
        assert "batch estimate: 2 film(s), 2 shot(s), 2 task(s) to submit" in r.output
        assert emu.stats()["tasks_created"] == 2
        assert emu.stats()["limits"]["peak_active"] == 1
    assert count_frames(out / "film0" / "out.mp4") == 49
    r = CliRunner().invoke(cli, ["status", str(out), "--json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    assert report["counts"]["done"] == 2 and [f["state"] for f in report["films"]] == ["done"] * 2
    assert report["limits"] == {"concurrency_per_model": 1, "rpm": 600}


def test_status_of_a_batch_that_has_not_started_a_film(tmp_path):
    from chainer.batch.films import collect_storyboards, plan_films, shortest_first
    from chainer.batch.manifest import Manifest

    sbs = films(tmp_path, 3, shots=2)
    out = tmp_path / "out"
    out.mkdir()
    planned = shortest_first(plan_films(collect_storyboards([sbs[0].parent]), out))
    Manifest.start(out, planned, invocation="x", provider="ark", estimate=1.0, budget=None,
                   currency="CNY", limits={}, films_at_once=2, cluster=None)
    report = batch_status(out)
    assert report["counts"]["waiting"] == 3 and report["spent"] == 0
    # nothing finished yet: the films' critical paths, films_at_once at a time
    crit = sum(f.critical_seconds for f in planned)
    assert report["eta_seconds"] == pytest.approx(crit / 2, abs=0.2) and crit > 0
