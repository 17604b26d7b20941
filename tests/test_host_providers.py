"""The BytePlus / fal / Replicate adapters, offline against their emulator profiles.

Driven the way the run drives a provider (build_request -> submit once -> get until terminal ->
download; the next chained shot starts from the last frame: the host's PNG on BytePlus, the frame
taken from the downloaded clip on fal and Replicate), with a dummy key the emulator requires.
"""
from __future__ import annotations

import base64
import dataclasses
import io
import time

import numpy as np
import pytest
from PIL import Image

from chainer.emulator import Emulator, OffsetClock
from chainer.errors import InputError
from chainer.media.ffmpeg import decode_frames
from chainer.media.last_frame import extract_last_frame
from chainer.plan import build_plan
from chainer.providers import PollPolicy, open_provider
from emulator_util import fast_cfg, psnr, wait_until
from storyboard_util import write

KEY = "dummy-KEY-5f3c9a1e77d04b2a"
V2 = "doubao-seedance-2-0-260128"

STORYBOARD = f"""
title: Harbour
model: {V2}
defaults:
  resolution: 480p
  duration: 4
  generate_audio: false
output:
  file: harbour.mp4
shots:
  - id: a
    prompt: A small red boat leaves a quiet harbour at dawn, slow pan right
  - id: b
    prompt: The boat passes a lighthouse, gulls circling overhead
  - id: c
    prompt: The boat reaches open sea under a bright sky
"""


def plan_for(tmp_path, text: str = STORYBOARD):
    return build_plan(write(tmp_path, text))


def settle(p, task_id: str, timeout: float = 90.0):
    return wait_until(lambda: (lambda t: t if t.terminal else None)(p.get(task_id)), timeout=timeout,
                      interval=0.05)


def png_data_uri(path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def render_chain(p, plan, out_dir):
    """Render every shot through the adapter; returns [(task status, clip path)]."""
    frame = None
    done = []
    for shot in plan.shots:
        req = p.build_request(shot, frame if shot.chained_from else None)
        task_id = p.submit(req)
        st = settle(p, task_id)
        assert st.state == "succeeded", (st.state, st.error_code, st.error_message)
        clip = out_dir / f"{shot.id}.mp4"
        size = p.download(st.video_url, clip, max_bytes=50_000_000, deadline=60)
        assert size == clip.stat().st_size > 0
        if p.returns_last_frame:
            if not shot.return_last_frame:       # the sequence's last shot asks for none
                assert st.last_frame_url is None
                continue
            png = out_dir / f"{shot.id}.last.png"
            p.download(st.last_frame_url, png, max_bytes=30_000_000, deadline=60)
            frame = png_data_uri(png)
        else:
            frame = extract_last_frame(clip, out_dir / f"{shot.id}.last.png", limits=p.image_limits).data_uri()
        done.append((st, clip))
    return done


def assert_chain(done, width=864, height=496):
    prev_last = None
    for _, clip in done:
        frames = list(decode_frames(clip, width, height))
        assert len(frames) == 97                                   # 24 * 4 + 1
        if prev_last is not None:
            assert psnr(frames[0], prev_last) > 30                 # seam continuous
        prev_last = frames[-1]


def assert_key_nowhere(tmp_path, *texts):
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert KEY.encode() not in f.read_bytes(), f
    for t in texts:
        assert KEY not in t


@pytest.mark.parametrize("provider,api", [("byteplus", "byteplus"), ("fal", "fal"), ("replicate", "replicate")])
def test_three_chained_shots_through_the_adapter(tmp_path, provider, api):
    plan = plan_for(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    with Emulator(fast_cfg(api=api, latency=0.1, api_key=KEY)) as emu:
        with open_provider(provider, base_url=emu.base_url, api_key=KEY, poll=PollPolicy.fast()) as p:
            assert p.name == provider and p.currency == "USD" and p.billed
            assert p.returns_last_frame is (provider == "byteplus")
            assert p.key_identity == f"{provider}@loopback"      # any port: rule 6
            done = render_chain(p, plan, out)
            assert_chain(done)
            models = {st.model for st, _ in done}
            stats = emu.stats()
            assert stats["tasks_created"] == 3 and stats["creates_rejected"] == 0
            assert set(stats["tasks_by_model"]) == {
                "byteplus": {"dreamina-seedance-2-0-260128"},
                "fal": {"bytedance/seedance-2.0/text-to-video", "bytedance/seedance-2.0/image-to-video"},
                "replicate": {"bytedance/seedance-2.0"}}[provider]
            if provider != "fal":
                assert models == set(stats["tasks_by_model"])
            price = p.price(plan.shots[0])
            assert price is None if provider == "replicate" else (price.currency == "USD" and price.per_mtok > 0)
            est = p.estimate(plan.shots[0])
            assert est is None if provider == "replicate" else est == pytest.approx(
                plan.shots[0].est_tokens / 1e6 * price.per_mtok)
            # lookup and cancel through the adapter
            assert p.lookup(done[0][0].id).kind == "present"
            assert p.lookup(done[0][0].id).task.state == "succeeded"
            texts = [repr(p), p.identity]
        # a wrong key: refused, classified "auth", and the message shows no key
        with open_provider(provider, base_url=emu.base_url, api_key=KEY + "x") as bad:
            with pytest.raises(Exception) as exc:
                bad.submit(bad.build_request(plan.shots[0]))
            assert bad.classify(exc.value).kind == "auth"
            texts.append(str(exc.value))
        assert emu.stats()["tasks_created"] == 3
    assert_key_nowhere(tmp_path, *texts)


@pytest.mark.parametrize("provider", ["byteplus", "fal", "replicate"])
def test_cancel_a_queued_task(tmp_path, provider):
    plan = plan_for(tmp_path)
    with Emulator(fast_cfg(api=provider, queue_delay=3600, api_key=KEY)) as emu:
        with open_provider(provider, base_url=emu.base_url, api_key=KEY, poll=PollPolicy.fast()) as p:
            task_id = p.submit(p.build_request(plan.shots[0]))
            assert p.get(task_id).state == "queued"
            p.cancel(task_id)
            assert p.get(task_id).state == "cancelled"
            assert emu.stats()["tasks_by_status"]["cancelled"] == 1


def test_fal_ambiguous_create_is_unknown_and_never_resent(tmp_path):
    plan = plan_for(tmp_path)
    with Emulator(fast_cfg(api="fal", latency=0.1, api_key=KEY, faults={"drop_after_create": {"schedule": [1]}})) as emu:
        with open_provider("fal", base_url=emu.base_url, api_key=KEY) as p:
            req = p.build_request(plan.shots[0])
            since = time.time()
            with pytest.raises(Exception) as exc:
                p.submit(req)
            assert p.classify(exc.value).kind == "ambiguous"
            found = p.find(req, since=since)
            assert found.kind == "unknown" and "request id" in found.reason
            assert p.lookup("bytedance:seedance-2.0:00000000-0000-4000-8000-000000000000").kind == "unknown"
        assert emu.stats()["tasks_created"] == 1          # the dropped create did happen, once


def test_fal_resumed_process_rebuilds_the_returned_urls(tmp_path):
    plan = plan_for(tmp_path)
    with Emulator(fast_cfg(api="fal", latency=0.1, api_key=KEY)) as emu:
        with open_provider("fal", base_url=emu.base_url, api_key=KEY) as p:
            task_id = p.submit(p.build_request(plan.shots[0]))
        assert task_id.startswith("bytedance:seedance-2.0:")
        with open_provider("fal", base_url=emu.base_url, api_key=KEY) as fresh:     # a new process
            st = settle(fresh, task_id)
            assert st.state == "succeeded" and st.video_url.startswith(emu.root_url)


def test_fal_request_body_always_sends_duration_and_auto_ratio_for_chained_shots(tmp_path):
    plan = plan_for(tmp_path)
    with Emulator(fast_cfg(api="fal")) as emu, open_provider("fal", base_url=emu.base_url, api_key=KEY) as p:
        first = p.build_request(plan.shots[0])
        assert first.model == "bytedance/seedance-2.0/text-to-video"
        assert first.body["duration"] == "4" and first.body["resolution"] == "480p"
        assert first.body["aspect_ratio"] in ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9")
        img = io.BytesIO()
        Image.new("RGB", (864, 496), (10, 20, 30)).save(img, format="PNG")
        uri = "data:image/png;base64," + base64.b64encode(img.getvalue()).decode()
        second = p.build_request(plan.shots[1], uri)
        assert second.model == "bytedance/seedance-2.0/image-to-video"
        assert second.body["image_url"] == uri and second.body["aspect_ratio"] == "auto"
        assert second.first_frame == "data" and "generate_audio" in second.body


def test_replicate_ambiguous_create_found_by_input_and_window(tmp_path):
    plan = plan_for(tmp_path)
    faults = {"drop_after_create": {"schedule": [2]}}
    with Emulator(fast_cfg(api="replicate", latency=0.1, api_key=KEY, faults=faults)) as emu:
        with open_provider("replicate", base_url=emu.base_url, api_key=KEY) as p:
            other = p.submit(p.build_request(dataclasses.replace(plan.shots[0], prompt="another prompt")))
            req = p.build_request(plan.shots[0])
            since = time.time()
            with pytest.raises(Exception) as exc:
                p.submit(req)
            assert p.classify(exc.value).kind == "ambiguous"
            found = p.find(req, since=since, known_ids=[other])
            assert found.kind == "proven" and found.task.id != other
            assert found.task.model == "bytedance/seedance-2.0"
            # a second identical create makes the evidence ambiguous: unknown, never a guess
            twin = p.submit(req)
            again = p.find(req, since=since, known_ids=[other])
            assert again.kind == "unknown" and twin in again.reason
        assert emu.stats()["tasks_created"] == 3


def test_replicate_output_gone_after_an_hour(tmp_path):
    plan = plan_for(tmp_path)
    clock = OffsetClock()
    with Emulator(fast_cfg(api="replicate", latency=0.1, api_key=KEY, clock=clock)) as emu:
        with open_provider("replicate", base_url=emu.base_url, api_key=KEY) as p:
            st = settle(p, p.submit(p.build_request(plan.shots[0])))
            url = st.video_url
            clock.advance(3601)
            gone = p.get(st.id)
            assert gone.state == "succeeded" and gone.video_url is None and gone.error_code == "data_removed"
            with pytest.raises(Exception) as exc:
                p.download(url, tmp_path / "late.mp4", max_bytes=50_000_000, deadline=30)
            assert p.classify(exc.value).kind == "result_gone"


def test_models_a_host_does_not_offer_are_input_errors(tmp_path):
    lite = f"""
title: Lite
model: doubao-seedance-1-0-lite-t2v-250428
defaults:
  resolution: 480p
  duration: 5
output:
  file: lite.mp4
shots:
  - id: a
    prompt: A small red boat leaves a quiet harbour at dawn
"""
    plan = plan_for(tmp_path, lite)
    with open_provider("byteplus", base_url="http://127.0.0.1:9/api/v3", api_key=KEY) as p:
        with pytest.raises(InputError, match="BytePlus"):
            p.build_request(plan.shots[0])
    four_k = STORYBOARD.replace("resolution: 480p", "resolution: 4k")
    plan = plan_for(tmp_path, four_k)
    with open_provider("fal", base_url="http://127.0.0.1:9", api_key=KEY) as p:
        with pytest.raises(InputError, match="fal"):
            p.build_request(plan.shots[0])


def test_no_key_opens_the_host_shaped_in_process_emulator(monkeypatch):
    for var in ("ARK_API_KEY", "FAL_KEY", "REPLICATE_API_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    for name in ("byteplus", "fal", "replicate"):
        with open_provider(name) as p:
            assert p.ephemeral and not p.billed and p.emulator is not None and p.emulator.config.api == name
            assert p.key_identity == f"{name}-emulator"
        assert p.emulator is None


@pytest.mark.parametrize("provider", ["byteplus", "fal", "replicate"])
def test_injected_faults_arrive_in_the_host_shape_and_classify(tmp_path, provider):
    plan = plan_for(tmp_path)
    faults = {"create_429": {"schedule": [1]}, "server_error": {"schedule": [1], "endpoints": ["get"]}}
    with Emulator(fast_cfg(api=provider, queue_delay=3600, api_key=KEY, faults=faults)) as emu:
        with open_provider(provider, base_url=emu.base_url, api_key=KEY) as p:
            req = p.build_request(plan.shots[0])
            with pytest.raises(Exception) as exc:
                p.submit(req)
            failure = p.classify(exc.value)
            assert failure.kind == "rate_limited" and failure.no_task and failure.status == 429
            assert emu.stats()["tasks_created"] == 0
            task_id = p.submit(req)                       # the caller's decision, not the adapter's
            with pytest.raises(Exception) as exc:
                p.get(task_id)
            failure = p.classify(exc.value)
            assert failure.kind == "ambiguous" and failure.retryable and failure.status == 500
            assert p.get(task_id).state == "queued"
            assert emu.stats()["tasks_created"] == 1
            assert emu.stats()["faults_injected"] == {"create_429": 1, "server_error": 1}


def test_host_error_messages_are_redacted_before_they_are_bounded():
    from chainer.providers.hosthttp import HostHTTPError

    long_text = "x" * 280 + KEY + " Key " + "k" * 40     # the key straddles the 300-char bound
    exc = HostHTTPError(400, code="bad", param=None, message=long_text, method="POST", what="/x",
                        secrets=(KEY,))
    assert KEY not in str(exc) and KEY[:8] not in str(exc) and "k" * 20 not in exc.provider_message


def test_byteplus_ambiguous_create_found_by_its_marker(tmp_path):
    plan = plan_for(tmp_path)
    faults = {"drop_after_create": {"schedule": [1]}}
    with Emulator(fast_cfg(api="byteplus", queue_delay=3600, api_key=KEY, faults=faults)) as emu:
        with open_provider("byteplus", base_url=emu.base_url, api_key=KEY) as p:
            req = p.build_request(plan.shots[0], marker="chainer-m-0001")
            assert req.marker_sent and req.body["safety_identifier"] == "chainer-m-0001"
            since = time.time()
            with pytest.raises(Exception) as exc:
                p.submit(req)
            assert p.classify(exc.value).kind == "ambiguous"
            found = p.find(req, since=since)
            assert found.kind == "proven" and found.task.model == "dreamina-seedance-2-0-260128"
            assert found.task.marker == "chainer-m-0001" and found.task.state == "queued"
        assert emu.stats()["tasks_created"] == 1
