"""``callback_url`` delivery (ark-api.md s8).

Every status change POSTs the task body (same JSON as GET) to the task's callback URL. For
``succeeded`` and ``failed`` an attempt that is not answered with a 2xx within ``timeout`` (5 s) is
retried 3 times. UNCONFIRMED details, chosen here: acknowledgement = any 2xx; retries are spaced by
``retry_delay`` seconds; queued/running/expired/cancelled deliveries are attempted once; deliveries
for one task are strictly in status order (a slow receiver delays that task's later callbacks,
never other tasks'). Only loopback URLs ever reach here (validated at create).
"""
from __future__ import annotations

import json
import threading
from collections import deque
from typing import Callable

import httpx

FINAL = ("succeeded", "failed")


class CallbackDispatcher:
    def __init__(self, *, timeout: float = 5.0, retries: int = 3, retry_delay: float = 1.0,
                 on_event: Callable[[str], None] = lambda name: None,
                 transport: httpx.BaseTransport | None = None):
        self.timeout = timeout
        self.retries = retries
        self.retry_delay = retry_delay
        self._on_event = on_event
        self._client = httpx.Client(timeout=timeout, trust_env=False, transport=transport)
        self._lock = threading.Lock()
        self._queues: dict[str, deque] = {}
        self._stop = threading.Event()
        self._threads: set[threading.Thread] = set()

    def send(self, task_id: str, url: str, body: dict) -> None:
        """Queue one delivery; returns at once."""
        if self._stop.is_set():
            return
        payload = json.dumps(body, ensure_ascii=False).encode()
        with self._lock:
            q = self._queues.get(task_id)
            if q is not None:
                q.append((url, payload, body.get("status")))
                return
            self._queues[task_id] = deque([(url, payload, body.get("status"))])
            t = threading.Thread(target=self._drain, args=(task_id,), daemon=True,
                                 name=f"callback-{task_id}")
            self._threads.add(t)
        t.start()

    def _drain(self, task_id: str) -> None:
        try:
            while not self._stop.is_set():
                with self._lock:
                    q = self._queues[task_id]
                    if not q:
                        del self._queues[task_id]
                        return
                    url, payload, status = q.popleft()
                attempts = 1 + (self.retries if status in FINAL else 0)
                for attempt in range(attempts):
                    if attempt and self._stop.wait(self.retry_delay):
                        return
                    self._on_event("callbacks_sent")
                    try:
                        resp = self._client.post(url, content=payload,
                                                 headers={"Content-Type": "application/json"})
                        if 200 <= resp.status_code < 300:
                            self._on_event("callbacks_acked")
                            break
                    except httpx.HTTPError:
                        pass
                else:
                    self._on_event("callbacks_failed")
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())
                if self._stop.is_set():
                    self._queues.pop(task_id, None)

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            threads = list(self._threads)
        for t in threads:
            t.join(timeout=self.timeout + 1)
        self._client.close()
