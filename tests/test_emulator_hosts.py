"""Each emulator wire-shape profile driven by that host's official Python client, on loopback.

- BytePlus: ``byteplus-python-sdk-v2``'s Ark runtime (``base_url`` is a constructor argument).
- fal: ``fal-client``. It hard-codes ``https://queue.fal.run`` (only the host is configurable, by
  environment, and the scheme is always https), so the test swaps its HTTP transport for one that
  maps ``queue.fal.run`` onto the emulator and refuses every non-loopback host.
- Replicate: ``replicate`` (``base_url`` is a constructor argument).
"""
from __future__ import annotations

import io

import av
import httpx
import pytest

from chainer.emulator import Emulator, OffsetClock
from emulator_util import data_url, fast_cfg, image, wait_until

PROMPT = "a paper boat drifting on a pond, slow pan"


def frame_count(data: bytes) -> int:
    with av.open(io.BytesIO(data)) as c:
        return sum(1 for _ in c.decode(video=0))


def fetch(url: str) -> httpx.Response:
    assert httpx.URL(url).host == "127.0.0.1"
    return httpx.get(url, timeout=30, trust_env=False)


# ---- BytePlus ModelArk ------------------------------------------------------------------------------

def test_byteplus_sdk_roundtrip_ids_and_limits():
    from byteplussdkarkruntime import Ark
    from byteplussdkarkruntime._exceptions import ArkBadRequestError, ArkNotFoundError

    with Emulator(fast_cfg(api="byteplus", latency=0.1)) as emu:
        assert emu.base_url.endswith("/api/v3")       # same path shape as ark.ap-southeast.bytepluses.com
        client = Ark(base_url=emu.base_url, api_key="dummy-bp", max_retries=0,
                     http_client=httpx.Client(trust_env=False, timeout=30))
        tasks = client.content_generation.tasks
        created = tasks.create(model="dreamina-seedance-2-0-260128", content=[{"type": "text", "text": PROMPT}],
                               resolution="480p", duration=4, generate_audio=False, return_last_frame=True)
        t = wait_until(lambda: (lambda t: t if t.status == "succeeded" else None)(tasks.get(task_id=created.id)),
                       timeout=60, interval=0.05)
        assert t.model == "dreamina-seedance-2-0-260128" and t.duration == 4
        assert frame_count(fetch(t.content.video_url).content) == 97
        assert fetch(t.content.last_frame_url).headers["content-type"] == "image/png"
        assert tasks.list(model="dreamina-seedance-2-0-260128").total == 1
        # Volcengine ids and the retired 1.0 lite are not served by BytePlus; nor is web_search.
        for model in ("doubao-seedance-2-0-260128", "doubao-seedance-1-0-lite-t2v-250428"):
            with pytest.raises(ArkNotFoundError) as exc:
                tasks.create(model=model, content=[{"type": "text", "text": PROMPT}])
            assert exc.value.code == "InvalidEndpointOrModel.NotFound"
        with pytest.raises(ArkBadRequestError) as exc:
            tasks.create(model="dreamina-seedance-2-0-260128", content=[{"type": "text", "text": PROMPT}],
                         extra_body={"tools": [{"type": "web_search"}]})   # the SDK has no tools=
        assert exc.value.param == "tools"
        with pytest.raises(ArkBadRequestError) as exc:   # validation messages name the BytePlus id
            tasks.create(model="dreamina-seedance-2-0-260128", content=[{"type": "text", "text": PROMPT}], duration=3)
        assert "dreamina-seedance-2-0-260128" in exc.value.message and "doubao" not in exc.value.message
        stats = emu.stats()
        assert stats["tasks_created"] == 1 and stats["tasks_by_model"] == {"dreamina-seedance-2-0-260128": 1}
        assert stats["creates_rejected"] == 4


def test_byteplus_queued_task_cap():
    from byteplussdkarkruntime import Ark
    from byteplussdkarkruntime._exceptions import ArkRateLimitError

    with Emulator(fast_cfg(api="byteplus", queue_delay=3600)) as emu:
        client = Ark(base_url=emu.base_url, api_key="dummy-bp", max_retries=0,
                     http_client=httpx.Client(trust_env=False, timeout=30))
        tasks = client.content_generation.tasks
        body = dict(model="seedance-1-0-pro-250528", content=[{"type": "text", "text": PROMPT}],
                    resolution="480p", duration=2)
        for _ in range(120):
            tasks.create(**body)
        with pytest.raises(ArkRateLimitError) as exc:
            tasks.create(**body)
        assert exc.value.code == "QuotaExceeded"
        assert emu.stats()["tasks_created"] == 120 and emu.stats()["tasks_by_status"]["queued"] == 120


# ---- fal.ai ---------------------------------------------------------------------------------------------

class LoopbackTransport(httpx.BaseTransport):
    """Maps fal's hard-coded ``https://queue.fal.run`` onto the emulator; refuses any other host."""

    def __init__(self, emu: Emulator):
        self.emu = emu
        self.inner = httpx.HTTPTransport()
        self.hosts: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        self.hosts.append(url.host)
        if url.host == "queue.fal.run":
            request.url = url.copy_with(scheme="http", host=self.emu.host, port=self.emu.port)
        elif url.host != "127.0.0.1":
            raise httpx.ConnectError(f"test refuses non-loopback host {url.host}", request=request)
        return self.inner.handle_request(request)


@pytest.fixture
def fal_client_for(monkeypatch):
    import fal_client
    import fal_client.client as fc

    made: list[LoopbackTransport] = []

    def build(emu: Emulator, key: str = "dummy-id:dummy-secret") -> "fal_client.SyncClient":
        monkeypatch.setattr(fc, "BackupDomainTransport", lambda: made.append(LoopbackTransport(emu)) or made[-1])
        return fal_client.SyncClient(key=key)

    yield build
    assert made and all(h in ("queue.fal.run", "127.0.0.1") for t in made for h in t.hosts)


def test_fal_client_submit_status_result(fal_client_for):
    import fal_client

    with Emulator(fast_cfg(api="fal", latency=0.1)) as emu:
        client = fal_client_for(emu)
        first = data_url(image(864, 496, seed=3))
        handle = client.submit("bytedance/seedance-2.0/image-to-video",
                               {"prompt": PROMPT, "image_url": first, "duration": "4", "resolution": "480p",
                                "aspect_ratio": "auto", "generate_audio": False, "seed": 42})
        status = handle.status()
        assert isinstance(status, (fal_client.Queued, fal_client.InProgress, fal_client.Completed))
        # The returned URLs live under the app id, not under the sub-path endpoint.
        assert "/bytedance/seedance-2.0/requests/" in handle.status_url and "image-to-video" not in handle.status_url
        result = handle.get()
        assert set(result) == {"video", "seed"} and result["seed"] == 42     # no last frame on fal
        assert set(result["video"]) == {"url", "content_type", "file_name", "file_size"}
        data = fetch(result["video"]["url"]).content
        assert len(data) == result["video"]["file_size"] and frame_count(data) == 97
        assert isinstance(handle.status(), fal_client.Completed)
        # fal_client's own request handle (owner/alias) reaches the same request.
        assert client.result("bytedance/seedance-2.0/image-to-video", handle.request_id) == result
        # A hand-built URL under the sub-path endpoint breaks, as on fal.
        r = httpx.get(f"{emu.root_url}/bytedance/seedance-2.0/image-to-video/requests/{handle.request_id}/status",
                      headers={"Authorization": "Key dummy-id:dummy-secret"}, trust_env=False)
        assert r.status_code == 404
        assert emu.stats()["tasks_created"] == 1
        assert emu.stats()["tasks_by_model"] == {"bytedance/seedance-2.0/image-to-video": 1}


def test_fal_client_rejections_and_cancel(fal_client_for):
    from fal_client.client import FalClientHTTPError

    with Emulator(fast_cfg(api="fal", queue_delay=3600, api_key="right-key")) as emu:
        client = fal_client_for(emu, key="right-key")
        with pytest.raises(FalClientHTTPError) as exc:      # duration must be a string on fal
            client.submit("bytedance/seedance-2.0/text-to-video", {"prompt": PROMPT, "duration": 4})
        assert exc.value.status_code == 422 and exc.value.message[0]["loc"] == ["body", "duration"]
        with pytest.raises(FalClientHTTPError) as exc:      # image-to-video needs image_url
            client.submit("bytedance/seedance-2.0/image-to-video", {"prompt": PROMPT, "duration": "4"})
        assert exc.value.status_code == 422 and exc.value.message[0]["loc"] == ["body", "image_url"]
        with pytest.raises(FalClientHTTPError) as exc:
            fal_client_for(emu, key="wrong-key").submit("bytedance/seedance-2.0/text-to-video",
                                                        {"prompt": PROMPT, "duration": "4"})
        assert exc.value.status_code == 401
        handle = client.submit("bytedance/seedance-2.0/text-to-video", {"prompt": PROMPT, "duration": "4",
                                                                        "resolution": "480p"})
        assert handle.status().position == 0
        handle.cancel()
        status = handle.status()
        assert status.error_type == "request_cancelled"
        with pytest.raises(FalClientHTTPError) as exc:     # a second cancel: ALREADY_COMPLETED
            handle.cancel()
        assert exc.value.status_code == 400
        stats = emu.stats()
        assert stats["tasks_created"] == 1 and stats["tasks_by_status"]["cancelled"] == 1
        assert stats["creates_rejected"] == 3 and stats["unauthorized"] == 1


# ---- Replicate -----------------------------------------------------------------------------------------------

def replicate_client(emu: Emulator, token: str = "r8_dummy"):
    import replicate

    return replicate.Client(api_token=token, base_url=emu.root_url, trust_env=False)


def test_replicate_client_prediction_roundtrip_and_one_hour_retention():
    clock = OffsetClock()
    with Emulator(fast_cfg(api="replicate", latency=0.1, clock=clock)) as emu:
        client = replicate_client(emu)
        client.poll_interval = 0.05
        first = data_url(image(864, 496, seed=5))
        pred = client.models.predictions.create(
            model="bytedance/seedance-2.0",
            input={"prompt": PROMPT, "image": first, "duration": 4, "resolution": "480p",
                   "aspect_ratio": "adaptive", "generate_audio": False, "seed": 9})
        assert pred.status == "starting" and pred.urls["get"].startswith(emu.root_url)
        pred.wait()
        assert pred.status == "succeeded" and isinstance(pred.output, str)   # one URL, no last frame
        assert frame_count(fetch(pred.output).content) == 97
        assert client.predictions.get(pred.id).output == pred.output
        assert pred.id in [p.id for p in client.predictions.list().results]
        clock.advance(3601)     # "removed after an hour"
        gone = client.predictions.get(pred.id)
        assert gone.output is None and gone.input == {} and gone.status == "succeeded"
        assert fetch(pred.output).status_code == 403
        assert emu.stats()["tasks_created"] == 1
        assert emu.stats()["tasks_by_model"] == {"bytedance/seedance-2.0": 1}


def test_replicate_client_rejections_and_cancel():
    from replicate.exceptions import ReplicateError

    with Emulator(fast_cfg(api="replicate", queue_delay=3600, api_key="r8_right")) as emu:
        client = replicate_client(emu, token="r8_right")
        with pytest.raises(ReplicateError) as exc:
            client.models.predictions.create(model="bytedance/seedance-2.0",
                                             input={"prompt": PROMPT, "duration": 3})
        assert exc.value.status == 422 and "input.duration" in exc.value.detail
        with pytest.raises(ReplicateError) as exc:
            client.models.predictions.create(model="bytedance/seedance-2.0",
                                             input={"prompt": PROMPT, "last_frame_image": data_url(image(640, 640))})
        assert exc.value.status == 422 and "input.last_frame_image" in exc.value.detail
        with pytest.raises(ReplicateError) as exc:
            client.models.predictions.create(model="bytedance/seedance-9", input={"prompt": PROMPT})
        assert exc.value.status == 404
        with pytest.raises(ReplicateError) as exc:
            replicate_client(emu, token="r8_wrong").predictions.list()
        assert exc.value.status == 401
        pred = client.models.predictions.create(model="bytedance/seedance-2.0",
                                                input={"prompt": PROMPT, "duration": 4, "resolution": "480p"})
        client.predictions.cancel(pred.id)
        assert client.predictions.get(pred.id).status == "canceled"
        stats = emu.stats()
        assert stats["tasks_created"] == 1 and stats["tasks_by_status"]["cancelled"] == 1


@pytest.mark.parametrize("api,probe", [("fal", "/bytedance/seedance-2.0/text-to-video"),
                                       ("replicate", "/v1/predictions"),
                                       ("byteplus", "/contents/generations/tasks")])
def test_cli_emulator_serves_the_chosen_wire_shape(api, probe):
    import subprocess

    from soak_util import chainer_cmd, cli_env

    proc = subprocess.Popen(chainer_cmd("emulator", "--api", api, "--port", "0"), env=cli_env(None),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = proc.stdout.readline().strip()
        assert base.startswith("http://127.0.0.1:")
        auth = {"fal": "Key k", "replicate": "Bearer k", "byteplus": "Bearer k"}[api]
        r = httpx.request("GET", base + probe, headers={"Authorization": auth}, trust_env=False, timeout=30)
        # fal: a submit endpoint answers GET with 405; Replicate lists; BytePlus (Ark routes) lists
        assert r.status_code == {"fal": 405, "replicate": 200, "byteplus": 200}[api], r.text
        stats = httpx.get(base.split("/api/v3")[0] + "/_emulator/stats", trust_env=False, timeout=30).json()
        assert stats["tasks_created"] == 0 and stats["requests"] >= 1
    finally:
        proc.terminate()
        proc.wait(timeout=30)
