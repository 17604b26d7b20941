"""ArkClient against httpx.MockTransport: request shapes, error mapping, redaction, downloads."""
from __future__ import annotations

import json
import random

import httpx
import pytest

from chainer.ark import (ArkAuthenticationError, ArkBadRequestError, ArkClient, ArkConnectionError,
                         ArkRateLimitError, ArkServerError, ArkTimeoutError, ArkURLExpiredError,
                         DownloadError, redact)
from chainer.ark.retry import RetryPolicy, call_with_retry, create_retryable

KEY = "sk-test-SECRET-0123456789abcdef"


def make(handler):
    return ArkClient("http://ark.test/api/v3", KEY, transport=httpx.MockTransport(handler))


def err_body(code, message, param="", type_="BadRequest"):
    return {"error": {"code": code, "message": message, "param": param, "type": type_}}


def test_create_get_list_delete_shapes():
    seen = []

    def handler(req: httpx.Request):
        seen.append(req)
        if req.method == "POST":
            return httpx.Response(200, json={"id": "cgt-1", "safety_identifier": "m1"})
        if req.method == "DELETE":
            return httpx.Response(200, json={})
        if req.url.path.endswith("/tasks"):
            return httpx.Response(200, json={"total": 1, "items": [
                {"id": "cgt-1", "status": "queued", "model": "m", "created_at": 5,
                 "safety_identifier": "m1"}]})
        return httpx.Response(200, json={
            "id": "cgt-1", "model": "m", "status": "succeeded",
            "content": {"video_url": "https://f/v.mp4", "last_frame_url": "https://f/l.png"},
            "usage": {"completion_tokens": 103818, "total_tokens": 103818}, "seed": 7,
            "created_at": 1, "updated_at": 2, "resolution": "720p", "ratio": "16:9", "duration": 5})

    c = make(handler)
    assert c.create({"model": "m", "content": []}) == "cgt-1"
    t = c.get("cgt-1")
    assert (t.status, t.video_url, t.last_frame_url, t.seed, t.completion_tokens) == (
        "succeeded", "https://f/v.mp4", "https://f/l.png", 7, 103818)
    total, items = c.list(model="m", status="queued", task_ids=["a", "b"], page_size=50)
    assert total == 1 and items[0].safety_identifier == "m1"
    c.delete("cgt-1")
    post, get, lst, delete = seen
    assert post.url.path == "/api/v3/contents/generations/tasks"
    assert json.loads(post.content) == {"model": "m", "content": []}
    assert post.headers["Authorization"] == f"Bearer {KEY}"
    assert post.headers["Content-Type"] == "application/json"
    assert get.url.path == "/api/v3/contents/generations/tasks/cgt-1"
    q = lst.url.params
    assert q.get_list("filter.task_ids") == ["a", "b"]
    assert q["filter.model"] == "m" and q["filter.status"] == "queued" and q["page_size"] == "50"
    assert delete.method == "DELETE"


@pytest.mark.parametrize("status,cls", [(400, ArkBadRequestError), (401, ArkAuthenticationError),
                                        (429, ArkRateLimitError), (500, ArkServerError),
                                        (503, ArkServerError)])
def test_http_errors_map_status_code_message_param(status, cls):
    body = err_body("InvalidParameter.duration", f"bad duration, key {KEY} Request id: 0217",
                    "duration")
    c = make(lambda req: httpx.Response(status, json=body))
    with pytest.raises(cls) as ei:
        c.create({"model": "m"})
    e = ei.value
    assert e.status == status and e.code == "InvalidParameter.duration" and e.param == "duration"
    assert "bad duration" in str(e) and KEY not in str(e) and KEY not in e.provider_message
    assert e.retryable == (status in (429,) or status >= 500)


def test_non_json_error_body_and_bearer_redaction():
    c = make(lambda req: httpx.Response(502, text=f"<html>bad gateway Authorization: Bearer {KEY}"))
    with pytest.raises(ArkServerError) as ei:
        c.get("x")
    assert KEY not in str(ei.value) and "bad gateway" in str(ei.value)
    assert redact("Authorization: Bearer abc.def-123") == "Authorization: ***"
    assert "zzz" not in redact("header bearer zzz")
    assert "ArkClient(base_url='http://ark.test/api/v3')" == repr(c)


def test_connection_errors_say_whether_the_request_was_sent():
    def refuse(req):
        raise httpx.ConnectError("refused", request=req)

    def drop(req):
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=req)

    def slow(req):
        raise httpx.ReadTimeout("timed out", request=req)

    with pytest.raises(ArkConnectionError) as ei:
        make(refuse).create({})
    assert ei.value.sent is False and create_retryable(ei.value)
    with pytest.raises(ArkConnectionError) as ei:
        make(drop).create({})
    assert ei.value.sent is True and not create_retryable(ei.value)
    with pytest.raises(ArkTimeoutError) as ei:
        make(slow).create({})
    assert ei.value.sent is True and not create_retryable(ei.value)


def test_no_automatic_retry_of_create():
    calls = []

    def handler(req):
        calls.append(req)
        return httpx.Response(500, json=err_body("InternalServiceError", "boom", type_="Internal"))

    with pytest.raises(ArkServerError):
        make(handler).create({"model": "m"})
    assert len(calls) == 1


def test_call_with_retry_backs_off_then_succeeds_and_is_bounded():
    n = {"calls": 0}
    waits = []

    def handler(req):
        n["calls"] += 1
        if n["calls"] < 3:
            return httpx.Response(429, json=err_body("RateLimitExceeded", "slow down"))
        return httpx.Response(200, json={"id": "t", "status": "running"})

    c = make(handler)
    pol = RetryPolicy(initial=1.0, factor=2.0, cap=3.0, attempts=5, jitter=0.25)
    task = call_with_retry(lambda: c.get("t"), pol, rng=random.Random(1),
                           wait=lambda s: waits.append(s) or False)
    assert task.status == "running" and n["calls"] == 3
    assert 0.75 <= waits[0] <= 1.0 and 1.5 <= waits[1] <= 2.0
    n["calls"] = -100
    with pytest.raises(ArkRateLimitError):
        call_with_retry(lambda: c.get("t"), pol, rng=random.Random(1), wait=lambda s: False)
    assert n["calls"] == -95  # exactly `attempts` calls


def test_download_resumes_with_range_after_truncation(tmp_path):
    data = bytes(range(256)) * 400
    ranges = []

    def handler(req):
        rng = req.headers.get("Range")
        ranges.append(rng)
        assert "Authorization" not in req.headers  # never send the key to the file host
        if rng is None:
            # advertise the full length but cut the body short: h11 reports the truncation
            return httpx.Response(200, headers={"Content-Length": str(len(data))},
                                  stream=_Truncated(data[:30000]))
        start = int(rng.split("=")[1].rstrip("-"))
        return httpx.Response(206, content=data[start:], headers={
            "Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"})

    dest = tmp_path / "v.mp4.part"
    size = make(handler).download("https://files.test/v.mp4?X-Tos-Signature=abc", dest)
    assert size == len(data) and dest.read_bytes() == data
    assert ranges == [None, "bytes=30000-"]


def test_download_restarts_when_server_ignores_range_and_reports_expiry(tmp_path):
    data = b"x" * 5000
    dest = tmp_path / "f.part"
    dest.write_bytes(b"garbage!")
    c = make(lambda req: httpx.Response(200, content=data))
    assert c.download("https://files.test/f", dest) == 5000 and dest.read_bytes() == data
    with pytest.raises(ArkURLExpiredError) as ei:
        make(lambda req: httpx.Response(403, text="expired")).download(
            "https://files.test/f?X-Tos-Signature=SIG", tmp_path / "g.part")
    assert "SIG" not in str(ei.value)
    with pytest.raises(DownloadError):
        make(lambda req: httpx.Response(500)).download("https://files.test/f", tmp_path / "h.part")


class _Truncated(httpx.SyncByteStream):
    def __init__(self, data):
        self.data = data

    def __iter__(self):
        yield self.data
        raise httpx.RemoteProtocolError("peer closed connection without sending complete body")
