"""The emulator enforces an account's limits like the host and reports peak tasks in flight."""
from __future__ import annotations

import time

from chainer.emulator import Emulator
from emulator_util import LITE_T2V, PRO_10, TASKS, client, create, fast_cfg, t2v_body


def _wait(emu, pred, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = emu.stats()
        if pred(st):
            return st
        time.sleep(0.05)
    raise AssertionError(f"timed out; last stats {emu.stats()['limits']}")


def test_concurrency_queues_and_peaks_are_reported():
    with Emulator(fast_cfg(latency=0.3, concurrency=2)) as emu, client(emu) as c:
        ids = [create(c, t2v_body(LITE_T2V, text=f"shot {i}")) for i in range(5)]
        st = _wait(emu, lambda s: s["tasks_by_status"]["succeeded"] == 5)
        lim = st["limits"]
        assert lim["peak_running_by_model"][LITE_T2V] == 2       # the host's limit held
        assert lim["peak_active_by_model"][LITE_T2V] == 5        # the rest waited queued
        assert lim["peak_running"] == 2 and lim["peak_active"] == 5
        assert lim["running"] == {} and lim["queued"] == {}
        # every task ran at least its latency: 5 x 0.3 s of running
        assert lim["running_task_seconds_by_model"][LITE_T2V] >= 5 * 0.3 - 1e-6
        assert len(set(ids)) == 5


def test_rpm_refuses_with_429_per_model():
    with Emulator(fast_cfg(latency=0.1, rpm=2)) as emu, client(emu) as c:
        create(c, t2v_body(LITE_T2V))
        create(c, t2v_body(LITE_T2V))
        r = c.post(TASKS, json=t2v_body(LITE_T2V))
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "RateLimitExceeded.EndpointRPMExceeded"
        create(c, t2v_body(PRO_10))          # another model has its own rate
        st = emu.stats()
        assert st["tasks_created"] == 3
        assert st["limits"]["refused"] == {"RateLimitExceeded.EndpointRPMExceeded": 1}


def test_queued_cap_refuses_past_the_cap():
    with Emulator(fast_cfg(latency=2.0, concurrency=1, queued_cap=1)) as emu, client(emu) as c:
        create(c, t2v_body(LITE_T2V, text="a"))
        _wait(emu, lambda s: s["limits"]["running"].get(LITE_T2V) == 1)
        create(c, t2v_body(LITE_T2V, text="b"))      # queued: 1 (the cap)
        r = c.post(TASKS, json=t2v_body(LITE_T2V, text="c"))
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "QuotaExceeded"
        assert emu.stats()["tasks_created"] == 2
