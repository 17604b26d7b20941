"""The emulator over real HTTP (httpx): bodies per status (ark-api.md s5), errors (s9), text
commands, list filters and pagination, DELETE rules, expiry, callbacks, result URLs, faults, stats."""
from __future__ import annotations

import json

import httpx
import pytest

from chainer import models
from chainer.emulator import Emulator, FaultConfig, OffsetClock
from chainer.emulator.faults import FaultInjector
from chainer.errors import InputError
from emulator_util import (BASE_KEYS, ERROR_KEYS, LITE_I2V, LITE_T2V, PRO_10, PRO_15, SUCCESS_KEYS,
                           TASK_ID_RE, TASKS, V2_ECHO, V20, V20_FAST, V20_MINI, V25, CallbackReceiver, client,
                           create, data_url, fast_cfg, image, t2v_body, wait_status, wait_until)


@pytest.fixture(scope="module")
def emu():
    with Emulator(fast_cfg(latency=0.2, callback_retry_delay=0.05)) as e:
        yield e


@pytest.fixture(scope="module")
def c(emu):
    with client(emu) as cl:
        yield cl


@pytest.fixture(scope="module")
def queued_emu():
    """Tasks stay queued (queue_delay far in the future): for queued bodies, cancel, list."""
    with Emulator(fast_cfg(latency=0.1, queue_delay=1000)) as e:
        yield e


def assert_error(r: httpx.Response, status: int, code: str, param: str | None = None):
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert set(err) == ERROR_KEYS
    assert err["code"] == code, err
    assert err["message"].split("Request id: ")[-1].strip() and "Request id: " in err["message"]
    assert err["type"] == {400: "BadRequest", 401: "Unauthorized", 404: "NotFound",
                           429: "TooManyRequests"}.get(status, err["type"])
    if param is not None:
        assert err["param"] == param, err
    return err


# ---- auth and headers ----------------------------------------------------------------------------

def test_auth_required_and_request_id_echoed(emu, c):
    with client(emu, token="") as anon:
        r = anon.get(f"{TASKS}/cgt-20250101000000-aaaaa", headers={"X-Client-Request-Id": "abc123"})
    assert_error(r, 401, "AuthenticationError")
    assert r.headers["X-Client-Request-Id"] == "abc123"
    with client(emu, token="anything-goes") as other:
        assert other.get(TASKS).status_code == 200


def test_api_key_must_match_when_set():
    with Emulator(fast_cfg(api_key="sekrit", latency=0)) as e:
        with client(e, token="wrong") as bad, client(e, token="sekrit") as good:
            assert_error(bad.post(TASKS, json=t2v_body()), 401, "AuthenticationError")
            assert good.get(TASKS).status_code == 200
        assert e.stats()["creates_rejected"] == 1 and e.stats()["unauthorized"] == 1


# ---- lifecycle and bodies ----------------------------------------------------------------------

def test_v1_task_lifecycle_bodies(emu, c):
    tid = create(c, t2v_body(return_last_frame=True, seed=42))
    assert TASK_ID_RE.match(tid)
    first = c.get(f"{TASKS}/{tid}").json()
    assert first["status"] in ("queued", "running")
    assert set(first) == BASE_KEYS          # 1.0: no content/usage/error/seed while in progress
    done = wait_status(c, tid)
    assert done["status"] == "succeeded"
    assert set(done) == BASE_KEYS | SUCCESS_KEYS | {"duration"}
    assert set(done["content"]) == {"video_url", "last_frame_url"}
    w, h = models.resolve_model(LITE_T2V).pixels("480p", "16:9")
    tokens = models.billed_tokens(w, h, 49)
    assert done["usage"] == {"completion_tokens": tokens, "total_tokens": tokens}
    assert (done["seed"], done["resolution"], done["ratio"], done["duration"], done["framespersecond"]) == \
        (42, "480p", "16:9", 2, 24)
    assert done["updated_at"] >= done["created_at"]


def test_v2_bodies_echo_tier_and_audio(queued_emu):
    with client(queued_emu) as cq:
        tid = create(cq, t2v_body(V20, resolution="480p", duration=4, generate_audio=False))
        body = cq.get(f"{TASKS}/{tid}").json()
    assert body["status"] == "queued"
    assert set(body) == BASE_KEYS | V2_ECHO | {"priority"}
    assert body["service_tier"] == "default" and body["execution_expires_after"] == 172800
    assert body["generate_audio"] is False and body["draft"] is False


def test_sdk_style_nulls_are_not_given(emu, c):
    body = {"model": LITE_T2V, "content": [{"type": "text", "text": "a red kite --rs 480p --dur 2"}],
            **{k: None for k in ("safety_identifier", "callback_url", "return_last_frame", "service_tier",
                                 "execution_expires_after", "priority", "generate_audio", "draft",
                                 "camera_fixed", "watermark", "seed", "resolution", "ratio", "duration",
                                 "frames", "tools", "output_format", "omni_reference_task_type")}}
    done = wait_status(c, create(c, body))
    assert done["status"] == "succeeded" and set(done["content"]) == {"video_url"}
    assert isinstance(done["seed"], int) and done["seed"] >= 0        # random seed, returned


def test_text_commands_and_long_forms(emu, c):
    tid = create(c, {"model": PRO_10, "content": [{"type": "text", "text":
                     "a cat yawns --rs 480p --rt 1:1 --dur 3 --fps 24 --seed 11 --cf true --wm false"}]})
    done = wait_status(c, tid)
    assert (done["resolution"], done["ratio"], done["duration"], done["seed"]) == ("480p", "1:1", 3, 11)
    w, h = models.resolve_model(PRO_10).pixels("480p", "1:1")
    assert done["usage"]["completion_tokens"] == models.billed_tokens(w, h, 73)
    tid = create(c, {"model": PRO_10, "content": [{"type": "text", "text":
                     "a dog --resolution 480p --ratio 9:16 --frames 29 --seed 3 --camerafixed false --watermark true"}]})
    done = wait_status(c, tid)
    assert (done["ratio"], done["frames"], done["seed"]) == ("9:16", 29, 3)
    assert "duration" not in done
    assert_error(c.post(TASKS, json={"model": PRO_10, "content": [{"type": "text", "text": "x --dur five"}]}),
                 400, "InvalidParameter", "duration")
    assert_error(c.post(TASKS, json={**t2v_body(PRO_10, "x --dur 3"), "duration": 4}), 400,
                 "InvalidParameter", "duration")
    assert_error(c.post(TASKS, json=t2v_body(PRO_10, "x --fps 30")), 400, "InvalidParameter", "framespersecond")


PROFAST = "doubao-seedance-1-0-pro-fast-251015"

# ---- validation errors ---------------------------------------------------------------------------

TINY = None


@pytest.mark.parametrize("body, status, code, param", [
    ({"model": "doubao-seedance-9-9", "content": [{"type": "text", "text": "x"}]}, 404,
     "InvalidEndpointOrModel.NotFound", "model"),
    ({"content": [{"type": "text", "text": "x"}]}, 400, "MissingParameter", "model"),
    ({"model": LITE_T2V}, 400, "MissingParameter", "content"),
    (t2v_body(V20, duration=2), 400, "InvalidParameter", "duration"),
    (t2v_body(PRO_15, frames=29), 400, "InvalidParameter", "frames"),
    (t2v_body(PRO_10, frames=30), 400, "InvalidParameter", "frames"),
    (t2v_body(ratio="5:4"), 400, "InvalidParameter", "ratio"),
    (t2v_body(V20_FAST, resolution="1080p"), 400, "InvalidParameter", "resolution"),
    (t2v_body(V20, service_tier="flex"), 400, "InvalidParameter", "service_tier"),
    (t2v_body(execution_expires_after=100), 400, "InvalidParameter", "execution_expires_after"),
    (t2v_body(seed=2 ** 32), 400, "InvalidParameter", "seed"),          # [-1, 2^32-1]
    (t2v_body(V25, seed=5), 400, "InvalidParameter", "seed"),           # 2.5: no seed
    (t2v_body(V20, service_tier="default"), 400, "InvalidParameter", "service_tier"),   # 2.x
    (t2v_body(PRO_10, ratio="adaptive"), 400, "InvalidParameter", "ratio"),  # 1.0 pro t2v
    (t2v_body(PRO_15, priority=0), 400, "InvalidParameter", "priority"),     # 1.5 pro rejects it
    (t2v_body(V20, priority=10), 400, "InvalidParameter", "priority"),
    (t2v_body(V20, camera_fixed=False), 400, "InvalidParameter", "camera_fixed"),   # any value
    (t2v_body(V20, draft=False), 400, "InvalidParameter", "draft"),
    (t2v_body(V25, output_format="avi"), 400, "InvalidParameter", "output_format"),
    (t2v_body(V20, output_format="mp4"), 400, "InvalidParameter", "output_format"),
    (t2v_body(V25, omni_reference_task_type="edit"), 400, "InvalidParameter.TaskTypeConstraint",
     "omni_reference_task_type"),
    (t2v_body(V25, duration=31), 400, "InvalidParameter", "duration"),
    (t2v_body(V20_MINI, resolution="1080p"), 400, "InvalidParameter", "resolution"),
    (t2v_body(V20_FAST, resolution="4k"), 400, "InvalidParameter", "resolution"),
    (t2v_body(PRO_15, execution_expires_after=100), 400, "InvalidParameter", "execution_expires_after"),
    (t2v_body("seedance-2.0"), 404, "InvalidEndpointOrModel.NotFound", "model"),   # neutral name
    (t2v_body("dreamina-seedance-2-0-260128"), 404, "InvalidEndpointOrModel.NotFound", "model"),
    (t2v_body(generate_audio=True), 400, "InvalidParameter", "generate_audio"),
    (t2v_body(PRO_15, draft=True, resolution="720p"), 400, "InvalidParameter", "resolution"),
    (t2v_body(PRO_15, draft=True, return_last_frame=True), 400, "InvalidParameter", "return_last_frame"),
    (t2v_body(duration="5"), 400, "InvalidParameter", "duration"),
    (t2v_body(watermark=1), 400, "InvalidParameter", "watermark"),
    (t2v_body(callback_url="http://example.com/hook"), 400, "InvalidParameter", "callback_url"),
    (t2v_body(V20, camera_fixed=True), 400, "InvalidParameter", "camera_fixed"),
    (t2v_body(output_format="mov"), 400, "InvalidParameter", "output_format"),
    ({"model": LITE_I2V, "content": [{"type": "text", "text": "x"}]}, 400, "InvalidParameter", "content"),
    ({"model": LITE_T2V, "content": [{"type": "text"}]}, 400, "InvalidParameter", "content[0].text"),
    ({"model": LITE_T2V, "content": [{"type": "video", "text": "x"}]}, 400, "InvalidParameter", "content[0].type"),
    ({"model": LITE_T2V, "content": [{"type": "text", "text": " "}]}, 400, "MissingParameter", "content"),
])
def test_validation_errors(c, body, status, code, param):
    assert_error(c.post(TASKS, json=body), status, code, param)


@pytest.mark.parametrize("body", [
    t2v_body(V20, seed=5),                          # accepted (2.x may ignore it)
    t2v_body(V20, seed=2 ** 32 - 1),
    t2v_body(PRO_10, priority=3),                   # 1.0 accepts and ignores priority
    t2v_body(PRO_10, resolution="480P"),            # case-insensitive
    t2v_body(V20, resolution="4K", duration=4),
    t2v_body(PROFAST, resolution="1080p"),
    t2v_body(V20, execution_expires_after=100),     # no floor on the 2.0 family
    t2v_body(V25, output_format="mov", omni_reference_task_type="auto"),
    t2v_body(V25, duration=30, resolution="1080p"),
    t2v_body(V25, duration=-1),
    t2v_body(V20_MINI, resolution="720p", duration=15),
    t2v_body(LITE_T2V, ratio="adaptive"),           # only 1.0 pro / pro-fast refuse it in t2v
])
def test_accepted_like_ark(queued_emu, body):
    with client(queued_emu) as cq:            # stays queued: nothing heavy is rendered
        r = cq.post(TASKS, json=body)
    assert r.status_code == 200, r.text


def test_content_item_rules(c):
    big = data_url(image(640, 360))
    small = data_url(image(200, 200))
    wide = data_url(image(1300, 400))
    ff = {"type": "image_url", "image_url": {"url": big}, "role": "first_frame"}
    lf = {"type": "image_url", "image_url": {"url": big}, "role": "last_frame"}
    ref = {"type": "image_url", "image_url": {"url": big}, "role": "reference_image"}
    cases = [
        ([ff, ref], LITE_I2V, "content"),                                  # mode mixing
        ([{**ff, "role": None}, lf], LITE_I2V, "content"),                 # role mandatory with last
        ([ff, ff], LITE_I2V, "content"),
        ([{**ff, "image_url": {"url": small}}], LITE_I2V, "content[1].image_url.url"),     # < 300 px
        ([{**ff, "image_url": {"url": wide}}], LITE_I2V, "content[1].image_url.url"),      # aspect > 2.5
        ([{**ff, "image_url": {"url": "https://example.com/a.png"}}], LITE_I2V, "content[1].image_url.url"),
        ([{**ff, "image_url": {"url": "data:image/PNG;base64,AAAA"}}], LITE_I2V, "content[1].image_url.url"),
        ([{**ff, "image_url": {"url": "data:image/png;base64,@@@"}}], LITE_I2V, "content[1].image_url.url"),
        ([ff, lf], "doubao-seedance-1-0-pro-fast-251015", "content"),     # pro-fast: no first+last
        ([ref] * 5, LITE_I2V, "content"),                                   # lite: 1..4 references
        ([{**ff, "role": "hero"}], LITE_I2V, "content[1].role"),
        ([{"type": "audio_url", "audio_url": {"url": "data:audio/wav;base64,AAAA"}, "role": "reference_audio"}],
         V20, "content"),                                                   # audio alone
    ]
    for content, model, param in cases:
        body = {"model": model, "content": [{"type": "text", "text": "x"}] + content, "resolution": "480p"}
        assert_error(c.post(TASKS, json=body), 400, "InvalidParameter", param)
    # role omitted on a single image = first frame: accepted
    body = {"model": LITE_I2V, "content": [{"type": "image_url", "image_url": {"url": big}}],
            "resolution": "480p", "duration": 2}
    assert c.post(TASKS, json=body).status_code == 200


def test_bad_json_and_unknown_route(c):
    r = c.post(TASKS, content=b"{not json", headers={"Content-Type": "application/json"})
    assert_error(r, 400, "InvalidParameter")
    assert c.get("/contents/generations/nope").status_code == 404
    assert c.put(f"{TASKS}/x").status_code == 405


# ---- list ----------------------------------------------------------------------------------------

def test_list_filters_and_pagination(queued_emu):
    with client(queued_emu) as cq:
        a = [create(cq, t2v_body(LITE_T2V, f"shot {i}")) for i in range(3)]
        b = create(cq, t2v_body(PRO_10, "other", service_tier="flex"))
        r = cq.get(TASKS, params={"filter.model": LITE_T2V, "page_size": 2, "page_num": 1}).json()
        assert r["total"] >= 3 and len(r["items"]) == 2
        assert r["items"][0]["id"] == a[-1]                      # newest first
        r2 = cq.get(TASKS, params={"filter.model": LITE_T2V, "page_size": 2, "page_num": 2}).json()
        assert {i["id"] for i in r["items"] + r2["items"]} >= set(a)
        assert b.startswith("cgt-batch-") and not a[0].startswith("cgt-batch-")   # flex ids
        # an unfiltered list hides flex tasks (filter.service_tier defaults to default)
        r = cq.get(TASKS, params=[("filter.task_ids", a[0]), ("filter.task_ids", b)]).json()
        assert r["total"] == 1 and {i["id"] for i in r["items"]} == {a[0]}
        r = cq.get(TASKS, params={"filter.service_tier": "flex"}).json()
        assert [i["id"] for i in r["items"]] == [b]
        r = cq.get(TASKS, params={"filter.status": "queued", "filter.task_ids": a[1]}).json()
        assert r["total"] == 1 and set(r["items"][0]) == BASE_KEYS
        assert cq.get(TASKS, params={"filter.status": "succeeded", "filter.task_ids": a[1]}).json() == \
            {"total": 0, "items": []}
        for params, param in [({"page_size": 0}, "page_size"), ({"page_size": 501}, "page_size"),
                              ({"page_num": "x"}, "page_num"), ({"filter.status": "done"}, "filter.status")]:
            assert_error(cq.get(TASKS, params=params), 400, "InvalidParameter", param)


def test_list_seven_day_window():
    clock = OffsetClock()
    with Emulator(fast_cfg(latency=0, queue_delay=1000, clock=clock)) as e, client(e) as cl:
        old = create(cl, t2v_body(execution_expires_after=259200))
        clock.advance(7 * 86400 + 5)
        new = create(cl, t2v_body())
        ids = [i["id"] for i in cl.get(TASKS).json()["items"]]
        assert new in ids and old not in ids
        assert cl.get(f"{TASKS}/{old}").status_code == 404


# ---- DELETE --------------------------------------------------------------------------------------

def test_delete_rules(queued_emu, emu, c):
    with client(queued_emu) as cq:
        tid = create(cq, t2v_body())
        assert cq.delete(f"{TASKS}/{tid}").json() == {}
        body = cq.get(f"{TASKS}/{tid}").json()
        assert body["status"] == "cancelled" and set(body) == BASE_KEYS
        assert_error(cq.delete(f"{TASKS}/{tid}"), 400, "InvalidParameter.TaskStatus")  # cancelled: refused
        assert_error(cq.get(f"{TASKS}/cgt-20250101000000-zzzzz"), 404, "ResourceNotFound")
    done = wait_status(c, create(c, t2v_body()))
    assert c.delete(f"{TASKS}/{done['id']}").json() == {}
    assert c.get(f"{TASKS}/{done['id']}").status_code == 404
    assert c.delete(f"{TASKS}/{done['id']}").status_code == 404


def test_delete_running_refused_and_expiry():
    clock = OffsetClock()
    faults = {"task_stuck": {"schedule": [1]}}
    with Emulator(fast_cfg(latency=0, clock=clock, faults=faults, concurrency=1,
                                 queue_delay=0)) as e, client(e) as cl:
        stuck = create(cl, t2v_body(execution_expires_after=3600))
        wait_status(cl, stuck, "running")
        waiting = create(cl, t2v_body(execution_expires_after=7200))   # concurrency 1: queued behind it
        assert cl.get(f"{TASKS}/{waiting}").json()["status"] == "queued"
        assert_error(cl.delete(f"{TASKS}/{stuck}"), 400, "InvalidParameter.TaskStatus")
        clock.advance(3600)
        expired = wait_status(cl, stuck, "expired", timeout=5)
        assert set(expired) == BASE_KEYS | {"error"} and set(expired["error"]) == {"code", "message"}
        assert wait_status(cl, waiting, "succeeded", timeout=30)["status"] == "succeeded"
        assert cl.delete(f"{TASKS}/{stuck}").json() == {}          # expired: deletable
        assert e.stats()["faults_injected"] == {"task_stuck": 1}


def test_concurrency_limit_queues_per_model():
    with Emulator(fast_cfg(latency=0.6, concurrency=1)) as e, client(e) as cl:
        a = create(cl, t2v_body(LITE_T2V))
        wait_status(cl, a, "running")
        b = create(cl, t2v_body(LITE_T2V))
        other = create(cl, t2v_body(PRO_10))          # another model has its own slot
        assert cl.get(f"{TASKS}/{b}").json()["status"] == "queued"
        assert wait_status(cl, other, ("running", "succeeded"))["status"] in ("running", "succeeded")
        assert wait_status(cl, b, "succeeded")["status"] == "succeeded"


# ---- callbacks -----------------------------------------------------------------------------------

def test_callbacks_each_status_change(emu, c):
    with CallbackReceiver() as rx:
        tid = create(c, t2v_body(callback_url=rx.url))
        wait_status(c, tid)
        wait_until(lambda: "succeeded" in rx.statuses(tid))
        assert rx.statuses(tid) == ["queued", "running", "succeeded"]
        final = [b for b in rx.bodies if b["id"] == tid][-1]
        assert final == c.get(f"{TASKS}/{tid}").json()


def test_callback_retries_final_status_three_times():
    with Emulator(fast_cfg(latency=0, callback_retry_delay=0.02)) as e, client(e) as cl:
        with CallbackReceiver(status_for=lambda b: 500 if b["status"] == "succeeded" else 200) as rx:
            tid = create(cl, t2v_body(callback_url=rx.url))
            wait_status(cl, tid)
            wait_until(lambda: e.stats()["callbacks_failed"] == 1)
            assert rx.statuses(tid) == ["queued", "running"] + ["succeeded"] * 4   # 1 + 3 retries
            s = e.stats()
            assert s["callbacks_sent"] == 6 and s["callbacks_acked"] == 2


# ---- result files --------------------------------------------------------------------------------

def test_result_urls_range_and_ttl():
    clock = OffsetClock()
    with Emulator(fast_cfg(latency=0, clock=clock, url_ttl=30)) as e, client(e) as cl:
        done = wait_status(cl, create(cl, t2v_body(return_last_frame=True)))
        url = done["content"]["video_url"]
        assert url.split("?")[0].endswith(".mp4")
        full = httpx.get(url, trust_env=False)
        assert full.status_code == 200 and full.headers["content-type"] == "video/mp4"
        assert full.headers["accept-ranges"] == "bytes"
        part = httpx.get(url, headers={"Range": "bytes=100-"}, trust_env=False)
        assert part.status_code == 206 and part.content == full.content[100:]
        assert part.headers["content-range"] == f"bytes 100-{len(full.content) - 1}/{len(full.content)}"
        tail = httpx.get(url, headers={"Range": "bytes=-10"}, trust_env=False)
        assert tail.status_code == 206 and tail.content == full.content[-10:]
        assert httpx.get(url, headers={"Range": f"bytes={len(full.content)}-"}, trust_env=False).status_code == 416
        png = httpx.get(done["content"]["last_frame_url"], trust_env=False)
        assert png.headers["content-type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"
        served = e.stats()["bytes_served"]
        assert served == len(full.content) * 2 - 100 + 10 + len(png.content)
        clock.advance(31)
        gone = httpx.get(url, trust_env=False)
        assert gone.status_code == 403 and b"AccessDenied" in gone.content
        # an expired result URL is no longer usable as an input image either
        body = {"model": LITE_I2V, "content": [{"type": "image_url", "role": "first_frame",
                "image_url": {"url": done["content"]["last_frame_url"]}}], "resolution": "480p", "duration": 2}
        assert_error(cl.post(TASKS, json=body), 400, "InvalidParameter", "content[0].image_url.url")


# ---- faults --------------------------------------------------------------------------------------

def test_faults_429_5xx_drop_and_failed():
    faults = {"seed": 3, "create_429": {"schedule": [2]}, "server_error": {"schedule": [3], "endpoints": ["get"]},
              "drop_after_create": {"schedule": [2]}, "task_failed": {"schedule": [1]}}
    with Emulator(fast_cfg(latency=0, faults=faults)) as e, client(e) as cl:
        failed = create(cl, t2v_body())                                     # create 1: will fail
        assert_error(cl.post(TASKS, json=t2v_body()), 429, "RateLimitExceeded.EndpointRPMExceeded")
        with pytest.raises(httpx.RemoteProtocolError):                       # create 3 = 2nd task made: then dropped
            cl.post(TASKS, json=t2v_body(text="ambiguous"))
        assert e.stats()["tasks_created"] == 2
        ids = [i["id"] for i in cl.get(TASKS).json()["items"]]
        assert len(ids) == 2 and failed in ids                               # the dropped one exists
        body = wait_status(cl, failed)
        assert body["status"] == "failed" and set(body) == BASE_KEYS | {"error"}
        assert body["error"]["code"] == "OutputVideoSensitiveContentDetected.PolicyViolation"
        assert "Request id: " in body["error"]["message"]
        statuses = []
        for _ in range(3):
            statuses.append(cl.get(f"{TASKS}/{failed}").status_code)
        assert 500 in statuses
        s = e.stats()
        assert s["creates_rejected"] == 1 and s["creates_rejected_by_code"] == {"RateLimitExceeded.EndpointRPMExceeded": 1}
        assert s["faults_injected"]["drop_after_create"] == 1 and s["faults_injected"]["server_error"] == 1


def test_download_faults_truncate_and_expire():
    faults = {"truncated_download": {"schedule": [1], "fraction": 0.4}, "expired_url": {"schedule": [3]},
              "slow_download": {"schedule": [2], "bytes_per_second": 5_000_000}}
    with Emulator(fast_cfg(latency=0, faults=faults)) as e, client(e) as cl:
        url = wait_status(cl, create(cl, t2v_body()))["content"]["video_url"]
        got = bytearray()
        with pytest.raises(httpx.RemoteProtocolError):
            with httpx.stream("GET", url, trust_env=False) as r:
                size = int(r.headers["content-length"])
                for chunk in r.iter_bytes():
                    got += chunk
        assert 0 < len(got) < size
        resumed = httpx.get(url, headers={"Range": f"bytes={len(got)}-"}, trust_env=False)   # slow, complete
        assert resumed.status_code == 206 and len(got) + len(resumed.content) == size
        assert httpx.get(url, trust_env=False).status_code == 403
        assert httpx.get(url, trust_env=False).status_code == 200


def test_fault_config_sources_and_determinism(tmp_path):
    (tmp_path / "f.yaml").write_text("seed: 9\ncreate_429: {probability: 0.5}\n")
    (tmp_path / "f.json").write_text(json.dumps({"seed": 9, "create_429": {"probability": 0.5}}))
    runs = []
    for src in (tmp_path / "f.yaml", str(tmp_path / "f.json"), {"seed": 9, "create_429": 0.5},
                FaultConfig.from_dict({"seed": 9, "create_429": {"probability": 0.5}})):
        inj = FaultInjector(FaultConfig.load(src))
        runs.append([inj.fire("create_429") is not None for _ in range(40)])
    assert all(r == runs[0] for r in runs) and 5 < sum(runs[0]) < 35
    other = FaultInjector(FaultConfig.load({"seed": 10, "create_429": 0.5}))
    assert [other.fire("create_429") is not None for _ in range(40)] != runs[0]
    for bad in ({"nope": 1}, {"create_429": {"probability": 2}}, {"task_failed": {"schedule": [0]}}):
        with pytest.raises(InputError):
            FaultConfig.load(bad)
    (tmp_path / "bad.yaml").write_text("create_429: [unclosed\n")
    with pytest.raises(InputError, match="bad.yaml"):
        FaultConfig.load(tmp_path / "bad.yaml")


def test_stats_endpoint_matches_api(emu, c):
    r = httpx.get(emu.base_url.replace("/api/v3", "/_emulator/stats"), trust_env=False)
    assert r.status_code == 200
    s = r.json()
    assert s.keys() == emu.stats().keys()
    for key in ("tasks_created", "tasks_by_model", "tasks_by_status", "creates_rejected", "bytes_served",
                "callbacks_sent", "gets", "lists", "deletes", "downloads"):
        assert key in s
    assert s["tasks_created"] == sum(s["tasks_by_model"].values())


@pytest.mark.parametrize("text,where", [
    ("create_429: [unclosed\n", "not valid YAML"),
    ("- a\n- b\n", "must contain a mapping"),
    ("create_429: {schedule: 3}\n", "create_429.schedule: must be a list"),
    ("create_429: {max: lots}\n", "create_429.max: must be a whole number"),
    ("task_failed: {code: 7}\n", "task_failed.code: must be text"),
    ("server_error: {endpoints: [get, upload]}\n", "server_error.endpoints: unknown"),
    ("queue_cap: {}\n", "queue_cap.limit: must be a whole number >= 1"),
    ("rpm_limit: {limit: true}\n", "rpm_limit.limit: must be a whole number"),
    ("video_not_ready: {seconds: -1}\n", "video_not_ready.seconds: must be a number > 0"),
    ("slow_download: {probability: high}\n", "slow_download.probability: must be a number"),
    ("seed: x\n", "seed: must be an integer"),
    ("bogus_fault: 0.5\n", "bogus_fault: unknown fault"),
])
def test_malformed_faults_file_is_one_line_exit_2(tmp_path, text, where):
    from click.testing import CliRunner

    from chainer.cli.main import cli

    path = tmp_path / "faults.yaml"
    path.write_text(text)
    res = CliRunner().invoke(cli, ["emulator", "--faults", str(path)], catch_exceptions=False)
    assert res.exit_code == 2, res.output
    assert res.stdout == ""                                    # nothing served, no URL printed
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and where in lines[0], res.stderr
    assert "Traceback" not in res.stderr
