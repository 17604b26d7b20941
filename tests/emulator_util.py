"""Helpers for the emulator tests: HTTP client, polling with a deadline, images, PSNR, key sets."""
from __future__ import annotations

import base64
import io
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import numpy as np
from PIL import Image

TASKS = "/contents/generations/tasks"
LITE_T2V = "doubao-seedance-1-0-lite-t2v-250428"
LITE_I2V = "doubao-seedance-1-0-lite-i2v-250428"
PRO_10 = "doubao-seedance-1-0-pro-250528"
PRO_15 = "doubao-seedance-1-5-pro-251215"
V20 = "doubao-seedance-2-0-260128"
V20_FAST = "doubao-seedance-2-0-fast-260128"
V20_MINI = "doubao-seedance-2-0-mini-260615"
V25 = "doubao-seedance-2-5-260628"
TASK_ID_RE = re.compile(r"^cgt-\d{14}-[a-z0-9]{5}$")

# ark-api.md s5: key sets per status.
# every model echoes service_tier, execution_expires_after, priority, output_format (2026, TS-BP)
BASE_KEYS = {"id", "model", "status", "created_at", "updated_at", "service_tier",
             "execution_expires_after", "priority", "output_format"}
V2_ECHO = {"generate_audio", "draft"}
SUCCESS_KEYS = {"content", "usage", "seed", "resolution", "ratio", "framespersecond"}
ERROR_KEYS = {"code", "message", "param", "type"}


def fast_cfg(**kw):
    """An EmulatorConfig for API tests: x264 ultrafast (clip realism is tested elsewhere)."""
    from chainer.emulator import EmulatorConfig

    kw.setdefault("x264_preset", "ultrafast")
    kw.setdefault("callback_retry_delay", 0.05)
    return EmulatorConfig(**kw)


def client(emu, token: str = "test") -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=emu.base_url, headers=headers, timeout=30.0, trust_env=False)


def t2v_body(model: str = LITE_T2V, text: str = "a quiet lake at dawn", **params) -> dict:
    body = {"model": model, "content": [{"type": "text", "text": text}]}
    if model.startswith("doubao-seedance-1-0"):
        body.setdefault("resolution", "480p")
        body.setdefault("duration", 2)
    body.update(params)
    return body


def create(c: httpx.Client, body: dict) -> str:
    r = c.post(TASKS, json=body)
    assert r.status_code == 200, r.text
    assert set(r.json()) <= {"id", "safety_identifier"}
    return r.json()["id"]


def wait_status(c: httpx.Client, task_id: str, statuses=("succeeded", "failed", "expired"),
                timeout: float = 30.0) -> dict:
    """Poll GET until the task reaches one of ``statuses`` (deadline, short interval)."""
    if isinstance(statuses, str):
        statuses = (statuses,)
    deadline = time.monotonic() + timeout
    while True:
        r = c.get(f"{TASKS}/{task_id}")
        assert r.status_code == 200, r.text
        body = r.json()
        if body["status"] in statuses:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"task {task_id} still {body['status']} after {timeout}s")
        time.sleep(0.05)


def wait_until(pred, timeout: float = 15.0, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(interval)


def image(width: int, height: int, seed: int = 0) -> Image.Image:
    """A structured, non-trivial test image (gradients + shapes + mild noise)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r = 128 + 100 * np.sin(x / 37.0 + seed)
    g = 128 + 100 * np.cos(y / 23.0 + seed * 0.5)
    b = 128 + 90 * np.sin((x + y) / 51.0)
    arr = np.stack([r, g, b], -1) + rng.normal(0, 2, (height, width, 1))   # luma grain
    img = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    from PIL import ImageDraw

    d = ImageDraw.Draw(img)
    d.rectangle((width // 5, height // 4, width // 2, height // 2), fill=(250, 30, 30))
    d.ellipse((width // 2, height // 2, width * 4 // 5, height * 9 // 10), fill=(20, 30, 240))
    from PIL import ImageFilter

    return img.filter(ImageFilter.GaussianBlur(0.8))    # camera-like softness (4:2:0 friendly)


def data_url(img: Image.Image, fmt: str = "png") -> str:
    buf = io.BytesIO()
    img.save(buf, format=fmt.upper())
    return f"data:image/{fmt};base64," + base64.b64encode(buf.getvalue()).decode()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


class CallbackReceiver:
    """A loopback HTTP server recording POSTed JSON bodies; ``status_for(body)`` picks the reply."""

    def __init__(self, status_for=lambda body: 200):
        self.bodies: list[dict] = []
        self.lock = threading.Lock()
        recv = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(n))
                with recv.lock:
                    recv.bodies.append(body)
                code = status_for(body)
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def statuses(self, task_id: str) -> list[str]:
        with self.lock:
            return [b["status"] for b in self.bodies if b.get("id") == task_id]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
