"""chainer.ark against untrusted answers, unit level: overall deadlines (a server dripping bytes),
caps, strict task records, redaction before truncation, --base-url checks, exclusive temp files,
PNG sizes from the header."""
from __future__ import annotations

import socket
import struct
import threading
import time
import zlib

import httpx
import pytest

from chainer.ark import ArkClient, ArkTaskFormatError, ArkTimeoutError, DownloadError
from chainer.ark.client import DownloadTooLarge, UnsafeURLError, check_base_url
from chainer.ark.errors import http_error, redact
from chainer.errors import InputError
from hostile_util import KEY, leaks_in_text


class Drip:
    """A loopback server answering every connection with ``head`` then one byte of ``body``
    every ``gap`` seconds (a slowloris from the server side)."""

    def __init__(self, head: bytes, body: bytes = b"x" * 100000, gap: float = 0.05,
                 drip_head: bool = False):
        self.head, self.body, self.gap, self.drip_head = head, body, gap, drip_head
        self.stop = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn):
        try:
            conn.recv(65536)
            data = self.head + self.body
            if not self.drip_head:
                conn.sendall(self.head)
                data = self.body
            for i in range(len(data)):
                if self.stop.wait(self.gap):
                    break
                conn.sendall(data[i:i + 1])
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.stop.set()
        self.sock.close()


@pytest.mark.parametrize("drip_head", [False, True])
def test_a_dripping_api_answer_hits_the_overall_deadline(drip_head):
    srv = Drip(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n",
               drip_head=drip_head)
    try:
        c = ArkClient(f"http://127.0.0.1:{srv.port}/api/v3", KEY, timeout=5, request_deadline=0.5)
        t0 = time.monotonic()
        with pytest.raises(ArkTimeoutError) as exc:
            c.get("cgt-1")
        took = time.monotonic() - t0
        assert 0.4 < took < 3.0, took            # per-read timeout 5 s would never fire
        assert exc.value.sent and "within 0.5 s" in str(exc.value)
    finally:
        srv.close()


def test_a_dripping_download_hits_its_deadline_and_keeps_what_arrived(tmp_path):
    srv = Drip(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
    try:
        c = ArkClient("http://127.0.0.1:1/api/v3", KEY, download_timeout=5)
        t0 = time.monotonic()
        with pytest.raises(DownloadError) as exc:
            c.download(f"http://127.0.0.1:{srv.port}/f.mp4", tmp_path / "f.part", deadline=0.6)
        assert time.monotonic() - t0 < 3.0
        assert "not complete within 0.6 s" in str(exc.value)
        assert 0 < (tmp_path / "f.part").stat().st_size < 100000
    finally:
        srv.close()


def _mock(handler) -> ArkClient:
    return ArkClient("https://ark.test/api/v3", KEY, transport=httpx.MockTransport(handler))


def test_json_answers_are_capped():
    c = _mock(lambda req: httpx.Response(200, content=b'{"a":"' + b"x" * (5 << 20) + b'"}'))
    with pytest.raises(Exception) as exc:
        c.get("cgt-1")
    assert "byte cap" in str(exc.value)


def test_download_over_its_cap_is_refused_and_removed(tmp_path):
    c = _mock(lambda req: httpx.Response(200, content=b"\0" * 5000))
    with pytest.raises(DownloadTooLarge):
        c.download("https://files.test/v.mp4", tmp_path / "v.part", max_bytes=1000)
    assert not (tmp_path / "v.part").exists()


@pytest.mark.parametrize("location", ["http://files.test/v.mp4", "ftp://files.test/v.mp4",
                                      "file:///etc/passwd"])
def test_redirects_may_not_change_scheme(tmp_path, location):
    def handler(req):
        if req.url.path == "/a":
            return httpx.Response(302, headers={"Location": location})
        return httpx.Response(200, content=b"video")

    with pytest.raises(UnsafeURLError):
        _mock(handler).download("https://files.test/a", tmp_path / "v.part")
    assert not (tmp_path / "v.part").exists()


def test_same_scheme_redirect_is_followed(tmp_path):
    def handler(req):
        if req.url.path == "/a":
            return httpx.Response(302, headers={"Location": "https://cdn.test/b"})
        return httpx.Response(200, content=b"video")

    assert _mock(handler).download("https://files.test/a", tmp_path / "v.part") == 5


def test_a_planted_symlink_is_not_written_through(tmp_path):
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    run = tmp_path / "run"
    run.mkdir()
    (run / "v.part").symlink_to(victim)
    c = _mock(lambda req: httpx.Response(200, content=b"video bytes"))
    assert c.download("https://files.test/v.mp4", run / "v.part") == 11
    assert victim.read_bytes() == b"precious"
    assert not (run / "v.part").is_symlink() and (run / "v.part").read_bytes() == b"video bytes"


@pytest.mark.parametrize("task_id", ["../x", "a/b", "..", "cgt-1\n", "x" * 200, "", "a b"])
def test_invalid_task_ids_never_reach_a_url(task_id):
    seen = []
    c = _mock(lambda req: seen.append(req) or httpx.Response(200, json={}))
    with pytest.raises(ArkTaskFormatError):
        c.get(task_id)
    with pytest.raises(ArkTaskFormatError):
        c.delete(task_id)
    assert seen == []


def test_list_with_duplicate_ids_or_a_bad_total_is_refused():
    item = {"id": "cgt-1", "status": "queued", "model": "m"}
    c = _mock(lambda req: httpx.Response(200, json={"items": [item, item], "total": 2}))
    with pytest.raises(ArkTaskFormatError, match="listed twice"):
        c.list()
    c = _mock(lambda req: httpx.Response(200, json={"items": [item], "total": "many"}))
    with pytest.raises(ArkTaskFormatError, match="total"):
        c.list()


def test_a_get_answered_with_another_task_is_refused():
    c = _mock(lambda req: httpx.Response(200, json={"id": "cgt-2", "status": "queued"}))
    with pytest.raises(ArkTaskFormatError, match="answered with task 'cgt-2'"):
        c.get("cgt-1")


def test_redact_before_truncating_leaves_no_fragment():
    body = ("x" * 290 + KEY + " trailing").encode()          # a cut at 300 would keep a prefix
    err = http_error(500, body, method="GET", path="/t", request_id=None, secrets=[KEY])
    assert leaks_in_text(str(err)) == []
    for text in (KEY[:19], KEY[3:], "key=" + KEY[5:13], f"Bearer {KEY[:-2]}", KEY[8:16]):
        assert leaks_in_text(redact(f"provider said: {text}!", [KEY])) == [], text
    # ids and URLs are only stripped of >= 8 char runs: a task id is never mangled by chance
    assert redact("cgt-20261201-abcd", [KEY]) == "cgt-20261201-abcd"
    assert redact("a\x1b[2Jb\r\nc", []) == "a\\x1b[2Jb\\x0d\\x0ac"


@pytest.mark.parametrize("url, ok", [
    ("https://ark.cn-beijing.volces.com/api/v3", True),
    ("http://127.0.0.1:8000/api/v3", True),
    (f"https://user:{KEY}@ark.test/api/v3", False),
    (f"https://{KEY}@ark.test/api/v3", False),
    (f"https://ark.test/api/v3?key={KEY}", False),
    ("ftp://ark.test/api/v3", False),
    ("https:///api/v3", False),
])
def test_check_base_url(url, ok):
    if ok:
        assert check_base_url(url) == url
    else:
        with pytest.raises(InputError) as exc:
            check_base_url(url)
        assert leaks_in_text(str(exc.value)) == [] and str(exc.value).startswith("--base-url:")


def _png_header(w: int, h: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr
            + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF))


def test_png_size_is_checked_from_the_header_before_decoding(tmp_path, monkeypatch):
    from PIL import Image

    from chainer.run.download import verify_png

    def no_decode(*a, **k):
        raise AssertionError("decoded")

    monkeypatch.setattr(Image, "open", no_decode)
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header(100000, 100000) + b"\0" * 100)
    with pytest.raises(DownloadError, match="100000x100000"):
        verify_png(bomb)
    wrong = tmp_path / "wrong.png"
    wrong.write_bytes(_png_header(1920, 1080) + b"\0" * 100)
    with pytest.raises(DownloadError, match="header says 1920x1080, expected 864x480"):
        verify_png(wrong, size=(864, 480))
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"GIF89a" + b"\0" * 100)
    with pytest.raises(DownloadError, match="not a PNG"):
        verify_png(junk)
