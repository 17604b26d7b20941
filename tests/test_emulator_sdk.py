"""The official SDK (volcengine-ark-runtime) against the emulator: it cannot tell it from Ark."""
from __future__ import annotations

import httpx
import pytest
from volcenginesdkarkruntime import Ark
from volcenginesdkarkruntime._exceptions import (ArkAPIConnectionError, ArkAuthenticationError,
                                                 ArkBadRequestError, ArkInternalServerError,
                                                 ArkNotFoundError, ArkRateLimitError)

from chainer import models
from chainer.emulator import Emulator
from emulator_util import LITE_T2V, PRO_10, V20, fast_cfg, wait_until


def sdk(emu, retries: int = 0, key: str = "test") -> Ark:
    return Ark(base_url=emu.base_url, api_key=key, max_retries=retries,
               http_client=httpx.Client(trust_env=False, timeout=30))


@pytest.fixture(scope="module")
def emu():
    with Emulator(fast_cfg(latency=0.1)) as e:
        yield e


def wait_task(client: Ark, task_id: str, timeout: float = 30.0):
    return wait_until(lambda: (lambda t: t if t.status in ("succeeded", "failed", "expired") else None)(
        client.content_generation.tasks.get(task_id=task_id)), timeout=timeout, interval=0.05)


def test_sdk_create_get_list_delete(emu):
    client = sdk(emu)
    tasks = client.content_generation.tasks
    created = tasks.create(model=LITE_T2V, content=[{"type": "text", "text": "a lighthouse at night, pan right"}],
                           resolution="480p", duration=2, seed=7, return_last_frame=True)
    assert created.id.startswith("cgt-")
    t = tasks.get(task_id=created.id)
    assert t.status in ("queued", "running") and t.content is None and t.usage is None
    t = wait_task(client, created.id)
    assert t.status == "succeeded" and t.seed == 7
    assert t.content.video_url.startswith(emu.root_url) and t.content.video_url.split("?")[0].endswith(".mp4")
    assert t.content.last_frame_url.split("?")[0].endswith(".png")
    w, h = models.resolve_model(LITE_T2V).pixels("480p", "16:9")
    assert t.usage.completion_tokens == models.billed_tokens(w, h, 49) == t.usage.total_tokens
    assert (t.resolution, t.ratio, t.duration, t.framespersecond) == ("480p", "16:9", 2, 24)
    listed = tasks.list(page_num=1, page_size=10, status="succeeded", task_ids=[created.id])
    assert listed.total == 1 and listed.items[0].id == created.id
    assert tasks.list(model=PRO_10).total == 0
    tasks.delete(task_id=created.id)
    with pytest.raises(ArkNotFoundError):
        tasks.get(task_id=created.id)


def test_sdk_v2_body_fields_and_text_commands(emu):
    client = sdk(emu)
    created = client.content_generation.tasks.create(
        model=V20, content=[{"type": "text", "text": "waves on a beach --rs 480p --rt 9:16 --dur 4"}],
        generate_audio=False, safety_identifier="user-1")
    assert created.safety_identifier == "user-1"
    t = client.content_generation.tasks.get(task_id=created.id)
    assert (t.service_tier, t.execution_expires_after, t.generate_audio, t.draft) == ("default", 172800, False, False)
    t = wait_task(client, created.id)
    assert (t.status, t.ratio, t.duration, t.safety_identifier) == ("succeeded", "9:16", 4, "user-1")


def test_sdk_error_classes_code_and_param(emu):
    tasks = sdk(emu).content_generation.tasks
    with pytest.raises(ArkBadRequestError) as exc:
        tasks.create(model=V20, content=[{"type": "text", "text": "x"}], duration=3)
    assert exc.value.code == "InvalidParameter" and exc.value.param == "duration"
    assert exc.value.type == "BadRequest" and "Request id: " in exc.value.body["message"]
    assert exc.value.request_id and exc.value.response.headers["X-Client-Request-Id"] == exc.value.request_id
    with pytest.raises(ArkNotFoundError) as exc:
        tasks.create(model="doubao-seedance-0-0-nope", content=[{"type": "text", "text": "x"}])
    assert exc.value.code == "InvalidEndpointOrModel.NotFound"
    with Emulator(fast_cfg(api_key="right")) as keyed:
        with pytest.raises(ArkAuthenticationError) as exc:
            sdk(keyed, key="wrong").content_generation.tasks.list()
        assert exc.value.code == "AuthenticationError"
        assert sdk(keyed, key="right").content_generation.tasks.list().total == 0
    with pytest.raises(ArkNotFoundError):
        tasks.get(task_id="cgt-20250101000000-abcde")


def test_sdk_retries_429_and_5xx_like_against_ark():
    faults = {"create_429": {"schedule": [1]}, "server_error": {"schedule": [1], "endpoints": ["get"]}}
    with Emulator(fast_cfg(latency=0, faults=faults)) as e:
        created = sdk(e, retries=2).content_generation.tasks.create(
            model=LITE_T2V, content=[{"type": "text", "text": "retry me"}], resolution="480p", duration=2)
        assert sdk(e, retries=2).content_generation.tasks.get(task_id=created.id).id == created.id
        s = e.stats()
        assert s["creates"] == 2 and s["tasks_created"] == 1 and s["creates_rejected"] == 1
    with Emulator(fast_cfg(latency=0, faults=faults)) as e:
        with pytest.raises(ArkRateLimitError) as exc:
            sdk(e).content_generation.tasks.create(model=LITE_T2V, content=[{"type": "text", "text": "x"}])
        assert exc.value.code == "RateLimitExceeded.EndpointRPMExceeded"


def test_sdk_retry_after_dropped_create_duplicates_the_task():
    """ark-api.md s13: the SDK retries POST create; a connection dropped after the task was made
    yields a second paid task. The emulator reproduces it so clients can be tested against it."""
    with Emulator(fast_cfg(latency=0, faults={"drop_after_create": {"schedule": [1]}})) as e:
        created = sdk(e, retries=1).content_generation.tasks.create(
            model=LITE_T2V, content=[{"type": "text", "text": "dup"}], resolution="480p", duration=2)
        assert e.stats()["tasks_created"] == 2
        assert sdk(e).content_generation.tasks.list().total == 2
        assert created.id in [t.id for t in sdk(e).content_generation.tasks.list().items]
    with Emulator(fast_cfg(latency=0, faults={"drop_connection": {"schedule": [1]}})) as e:
        with pytest.raises(ArkAPIConnectionError):
            sdk(e).content_generation.tasks.list()
    with Emulator(fast_cfg(latency=0, faults={"server_error": {"probability": 1.0}})) as e:
        with pytest.raises(ArkInternalServerError):
            sdk(e).content_generation.tasks.list()
