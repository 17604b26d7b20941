"""The emulator's HTTP face against hostile clients: body caps (chunked too), malformed framing,
deeply nested or non-finite JSON, bounded threads, per-connection timeouts. Raw sockets, so the
exact bytes on the wire are ours."""
from __future__ import annotations

import json
import socket

import pytest

from chainer.emulator import Emulator, EmulatorConfig
from chainer.emulator import server as srv

TASKS = "/api/v3/contents/generations/tasks"


def _request(emu, raw: bytes, timeout: float = 10.0) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", emu.port), timeout=timeout) as s:
        s.sendall(raw)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                head, _, body = data.partition(b"\r\n\r\n")
                length = [int(ln.split(b":")[1]) for ln in head.split(b"\r\n")
                          if ln.lower().startswith(b"content-length:")]
                if length and len(body) >= length[0]:
                    break
    status = int(data.split(b" ", 2)[1])
    return status, data.partition(b"\r\n\r\n")[2]


def _post(body: bytes, *, chunked: bool = False, extra: bytes = b"") -> bytes:
    head = (f"POST {TASKS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
            "Content-Type: application/json\r\nConnection: close\r\n").encode() + extra
    if chunked:
        return head + b"Transfer-Encoding: chunked\r\n\r\n" + body
    return head + f"Content-Length: {len(body)}\r\n\r\n".encode() + body


@pytest.fixture
def emu():
    with Emulator(EmulatorConfig(latency=0.1)) as e:
        yield e


def test_chunked_body_over_the_cap_is_refused(emu, monkeypatch):
    monkeypatch.setattr(srv.models, "REQUEST_MAX_BYTES", 4096)
    chunk = b"a" * 1000
    body = b"".join(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" for _ in range(10)) + b"0\r\n\r\n"
    status, data = _request(emu, _post(body, chunked=True))
    assert status == 400 and b"exceeds" in data
    status, data = _request(emu, _post(b"x" * 5000))
    assert status == 400 and b"exceeds" in data
    assert emu.stats()["tasks_created"] == 0


@pytest.mark.parametrize("body", [b"zz\r\nabc\r\n0\r\n\r\n", b"-5\r\nabc\r\n0\r\n\r\n",
                                  b"fffffffffffffffffffff\r\n"])
def test_malformed_chunk_framing_is_a_400(emu, body):
    status, data = _request(emu, _post(body, chunked=True))
    assert status == 400 and b"chunk" in data


def test_bad_content_length_is_a_400(emu):
    raw = (f"POST {TASKS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
           "Content-Length: -1\r\nConnection: close\r\n\r\n").encode()
    assert _request(emu, raw)[0] == 400


@pytest.mark.parametrize("body", [b"[" * 100000 + b"]" * 100000,
                                  b'{"model":' + b'{"a":' * 70 + b"1" + b"}" * 71,
                                  b'{"model":"m","seed":NaN}', b'{"model":"m","seed":Infinity}',
                                  b"\xff\xfe", b'{"model": '])
def test_malformed_or_deeply_nested_json_is_a_400(emu, body):
    status, data = _request(emu, _post(body))
    assert status == 400, data
    assert json.loads(data)["error"]["code"] == "InvalidParameter"
    assert emu.stats()["tasks_created"] == 0


def test_connections_are_bounded_and_idle_ones_time_out(monkeypatch):
    monkeypatch.setattr(srv, "MAX_CONNECTIONS", 2)
    monkeypatch.setattr(srv, "SLOT_WAIT", 0.2)
    monkeypatch.setattr(srv._Handler, "timeout", 1.0)
    with Emulator(EmulatorConfig(latency=0.1)) as emu:
        idle = [socket.create_connection(("127.0.0.1", emu.port), timeout=10) for _ in range(2)]
        try:
            # both slots held by clients that send nothing: the next one is turned away
            status, data = _request(emu, f"GET {srv.STATS} HTTP/1.1\r\nHost: x\r\n"
                                         "Connection: close\r\n\r\n".encode())
            assert status == 503 and b"too many connections" in data
            # the idle clients are disconnected by the server (recv returns EOF, no hang)
            for s in idle:
                assert s.recv(10) == b""
        finally:
            for s in idle:
                s.close()
        status, _ = _request(emu, f"GET {srv.STATS} HTTP/1.1\r\nHost: x\r\n"
                                  "Connection: close\r\n\r\n".encode())
        assert status == 200                     # the slots were given back
