"""What the planner sends is what the (Ark-conformant) emulator accepts, for every model in the
table: neutral names map to Ark ids, chained 2.5 shots go out adaptive, and the emulator's usage is
the plan's token estimate."""
from __future__ import annotations

import pytest

from chainer import models as M
from chainer.emulator import Emulator
from chainer.plan import build_plan
from emulator_util import TASKS, client, fast_cfg, wait_status
from storyboard_util import write


@pytest.fixture(scope="module")
def emu():
    with Emulator(fast_cfg(latency=0, x264_preset="ultrafast")) as e:
        yield e


def test_every_model_t2v_request_is_accepted(tmp_path):
    with Emulator(fast_cfg(latency=0.1, queue_delay=1000)) as e, client(e) as c:   # never rendered
        for name in M.MODELS:
            spec = M.MODELS[name]
            res = spec.resolutions[-1]
            path = write(tmp_path, f"""
                model: {name}
                shots:
                  - prompt: a lighthouse at night
                    resolution: {res}
                    duration: {spec.max_duration}
                """, f"{name}.yaml")
            body = build_plan(path).shots[0].request_body()
            assert body["model"] == M.host_model_id(name, "ark", "t2v")
            r = c.post(TASKS, json=body)
            assert r.status_code == 200, (name, r.text)


def test_chained_2_5_shot_is_accepted_and_billed_as_planned(emu, tmp_path):
    path = write(tmp_path, """
        model: seedance-2.5
        defaults: {resolution: 480p, duration: 4, generate_audio: false}
        shots:
          - prompt: a red kite over the dunes
            ratio: "16:9"
          - prompt: the kite dives towards the sea
        """)
    plan = build_plan(path)
    a, b = plan.shots
    with client(emu) as c:
        r = c.post(TASKS, json=a.request_body())
        assert r.status_code == 200, r.text
        first = wait_status(c, r.json()["id"], timeout=120)
        assert first["status"] == "succeeded" and first["model"] == "doubao-seedance-2-5-260628"
        assert first["usage"]["completion_tokens"] == a.tokens
        body = b.request_body(first_frame_url=first["content"]["last_frame_url"])
        assert body["ratio"] == "adaptive"
        r = c.post(TASKS, json=body)
        assert r.status_code == 200, r.text
        second = wait_status(c, r.json()["id"], timeout=120)
    assert second["status"] == "succeeded" and second["ratio"] == "16:9"
    assert second["usage"]["completion_tokens"] == b.tokens == M.usage_tokens(854, 480, 4)
    # the same shot with a fixed ratio is what Ark refuses, so the storyboard refuses it first
    body["ratio"] = "16:9"
    with client(emu) as c:
        err = c.post(TASKS, json=body).json()["error"]
    assert err["code"] == "InvalidParameter.TaskTypeConstraint" and err["param"] == "ratio"
