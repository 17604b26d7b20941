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
from emulator_util import (LITE_T2V, PRO_10, PRO_15, V20, V20_FAST, V20_MINI, V25, data_url,
                           fast_cfg, image, wait_until)

PROFAST = "doubao-seedance-1-0-pro-fast-251015"


def _wav() -> str:
    import base64
    import io
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\0" * 16000 * 3)
    return "data:audio/wav;base64," + base64.b64encode(buf.getvalue()).decode()


WAV = _wav()


def sdk(emu, retries: int = 0, key: str = "test") -> Ark:
    return Ark(base_url=emu.base_url, api_key=key, max_retries=retries,
               http_client=httpx.Client(trust_env=False, timeout=30))


@pytest.fixture(scope="module")
def emu():
    with Emulator(fast_cfg(latency=0.1)) as e:
        yield e


@pytest.fixture(scope="module")
def queued():
    """Tasks stay queued: for acceptance checks of heavy requests (4k, 30 s) that need no clip."""
    with Emulator(fast_cfg(latency=0.1, queue_delay=1000)) as e:
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


# ---- issue 12: every corrected rule, through the official SDK ---------------------------------

def _bad(call, code: str = "InvalidParameter", param: str | None = None):
    with pytest.raises(ArkBadRequestError) as exc:
        call()
    assert exc.value.code == code, exc.value.body
    if param is not None:
        assert exc.value.param == param, exc.value.body
    return exc.value


def test_sdk_2_5_ratio_must_be_adaptive_for_frames(emu):
    tasks = sdk(emu).content_generation.tasks
    frame = data_url(image(640, 360))
    content = [{"type": "text", "text": "the boat drifts on"},
               {"type": "image_url", "image_url": {"url": frame}, "role": "first_frame"}]
    err = _bad(lambda: tasks.create(model=V25, content=content, ratio="16:9", duration=4,
                                    resolution="480p"),
               "InvalidParameter.TaskTypeConstraint", "ratio")
    assert "adaptive" in err.message
    last = {"type": "image_url", "image_url": {"url": frame}, "role": "last_frame"}
    _bad(lambda: tasks.create(model=V25, content=content + [last], ratio="4:3", duration=4),
         "InvalidParameter.TaskTypeConstraint", "ratio")
    done = wait_task(sdk(emu), tasks.create(model=V25, content=content, ratio="adaptive", duration=4,
                                            resolution="480p", output_format="mov").id)
    assert done.status == "succeeded" and done.ratio == "16:9" and done.output_format == "mov"
    w, h = models.resolve_model(V25).pixels("480p", "16:9")
    assert (w, h) == (854, 480)                       # 2.5's own 480p table
    assert done.usage.completion_tokens == models.usage_tokens(w, h, 4)
    # text-to-video may use any ratio; the default duration is -1 (the emulator picks 5 s)
    t = wait_task(sdk(emu), tasks.create(model=V25, content=[{"type": "text", "text": "x"}],
                                         ratio="16:9", resolution="480p").id)
    assert t.status == "succeeded" and t.duration == 5


def test_sdk_2_5_fields(queued):
    tasks = sdk(queued).content_generation.tasks
    text = [{"type": "text", "text": "a lantern"}]
    for field, value in (("seed", 3), ("camera_fixed", False), ("draft", True),
                         ("service_tier", "default")):
        _bad(lambda: tasks.create(model=V25, content=text, **{field: value}), param=field)
    _bad(lambda: tasks.create(model=V25, content=text, omni_reference_task_type="reference"),
         "InvalidParameter.TaskTypeConstraint", "omni_reference_task_type")
    assert tasks.create(model=V25, content=text, duration=30, resolution="720p",
                        omni_reference_task_type="auto").id.startswith("cgt-")
    audio = {"type": "audio_url", "audio_url": {"url": WAV}, "role": "reference_audio"}
    assert tasks.create(model=V25, content=text + [audio]).id          # audio-only references
    _bad(lambda: tasks.create(model=V20, content=text + [audio]), param="content")


def test_sdk_field_rules_per_model(emu, queued):
    tasks = sdk(queued).content_generation.tasks
    text = [{"type": "text", "text": "a lantern"}]
    _bad(lambda: tasks.create(model=V20, content=text, service_tier="default"), param="service_tier")
    _bad(lambda: tasks.create(model=V20_FAST, content=text, service_tier="flex"), param="service_tier")
    _bad(lambda: tasks.create(model=PRO_15, content=text, priority=0), param="priority")
    _bad(lambda: tasks.create(model=PRO_10, content=text, ratio="adaptive"), param="ratio")
    _bad(lambda: tasks.create(model=PROFAST, content=text, ratio="adaptive"), param="ratio")
    _bad(lambda: tasks.create(model=PRO_15, content=text, draft=True, resolution="720p"),
         param="resolution")
    _bad(lambda: tasks.create(model=PRO_10, content=text, draft=False), param="draft")
    _bad(lambda: tasks.create(model=PRO_10, content=text, seed=2 ** 32), param="seed")
    _bad(lambda: tasks.create(model=V20_FAST, content=text, resolution="1080p"), param="resolution")
    _bad(lambda: tasks.create(model=V20_MINI, content=text, duration=16), param="duration")
    # accepted like Ark
    ok = [tasks.create(model=V20, content=text, seed=2 ** 32 - 1, priority=9, duration=4),
          tasks.create(model=PRO_10, content=text, priority=5, resolution="480P", duration=2),
          tasks.create(model=PROFAST, content=text, resolution="1080p", duration=2),
          tasks.create(model=V20, content=text, resolution="4K", duration=4),
          tasks.create(model=V20_MINI, content=text, resolution="720p", duration=4)]
    assert all(t.id.startswith("cgt-") for t in ok)
    t = tasks.get(task_id=ok[1].id)                    # 1.0 GET bodies carry the 2026 fields
    assert (t.service_tier, t.execution_expires_after, t.priority, t.output_format) == \
        ("default", 172800, 5, "mp4")
    client = sdk(emu)
    done = wait_task(client, client.content_generation.tasks.create(
        model=PRO_10, content=text, resolution="480P", duration=2).id)
    assert done.resolution == "480p"


def test_sdk_list_hides_flex_and_flex_ids(queued):
    tasks = sdk(queued).content_generation.tasks
    flex = tasks.create(model=PRO_10, content=[{"type": "text", "text": "slow"}], duration=2,
                        resolution="480p", service_tier="flex")
    assert flex.id.startswith("cgt-batch-")
    assert flex.id not in {i.id for i in tasks.list(page_size=500).items}
    assert flex.id in {i.id for i in tasks.list(page_size=500, service_tier="flex").items}
    assert tasks.get(task_id=flex.id).service_tier == "flex"


def test_sdk_draft_usage_factor(emu):
    client = sdk(emu)
    tasks = client.content_generation.tasks
    for audio, factor in ((True, 0.6), (False, 0.7)):
        t = wait_task(client, tasks.create(model=PRO_15, content=[{"type": "text", "text": "d"}],
                                           draft=True, duration=4, ratio="16:9",
                                           generate_audio=audio).id)
        w, h = models.resolve_model(PRO_15).pixels("480p", "16:9")
        assert t.usage.completion_tokens == int((w * h * 97 // 1024) * factor) == \
            models.usage_tokens(w, h, 4, spec=models.resolve_model(PRO_15), draft=True, audio=audio)


def test_sdk_account_limits_as_faults():
    with Emulator(fast_cfg(latency=5, queue_delay=5, faults={"queue_cap": {"limit": 2}})) as e:
        tasks = sdk(e).content_generation.tasks
        text = [{"type": "text", "text": "q"}]
        for _ in range(2):
            tasks.create(model=PRO_10, content=text, duration=2, resolution="480p")
        with pytest.raises(ArkRateLimitError) as exc:
            tasks.create(model=PRO_10, content=text, duration=2, resolution="480p")
        assert exc.value.code == "QuotaExceeded"
        assert e.stats()["tasks_created"] == 2
    with Emulator(fast_cfg(latency=0.1, faults={"rpm_limit": 2})) as e:
        tasks = sdk(e).content_generation.tasks
        text = [{"type": "text", "text": "r"}]
        tasks.create(model=PRO_10, content=text, duration=2, resolution="480p")
        tasks.create(model=PRO_10, content=text, duration=2, resolution="480p")
        with pytest.raises(ArkRateLimitError) as exc:
            tasks.create(model=PRO_10, content=text, duration=2, resolution="480p")
        assert exc.value.code == "RateLimitExceeded.EndpointRPMExceeded"
        # per model: another model still has room
        assert tasks.create(model=V20, content=text, duration=4).id
        assert e.stats()["tasks_created"] == 3


def test_video_not_ready_right_after_success():
    with Emulator(fast_cfg(latency=0.1, faults={"video_not_ready": {"schedule": [1], "seconds": 60}})) as e:
        client = sdk(e)
        t = wait_task(client, client.content_generation.tasks.create(
            model=PRO_10, content=[{"type": "text", "text": "v"}], duration=2, resolution="480p").id)
        first = httpx.get(t.content.video_url, trust_env=False)
        assert first.status_code == 400 and b"video_not_ready" in first.content
        again = httpx.get(t.content.video_url, trust_env=False)
        assert again.status_code == 200 and again.headers["content-type"] == "video/mp4"
