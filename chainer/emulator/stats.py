"""Thread-safe counters behind ``GET /_emulator/stats``."""
from __future__ import annotations

import threading
from collections import Counter


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._c: Counter[str] = Counter()
        self._by_model: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()
        self._rejected_by_code: Counter[str] = Counter()
        self._sections: dict = {}     # name -> callable returning a dict (e.g. "limits")

    def add_section(self, name: str, snapshot) -> None:
        self._sections[name] = snapshot

    def inc(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._c[key] += n

    def created(self, model: str) -> None:
        with self._lock:
            self._c["tasks_created"] += 1
            self._by_model[model] += 1

    def rejected(self, code: str) -> None:
        with self._lock:
            self._c["creates_rejected"] += 1
            self._rejected_by_code[code] += 1

    def fault(self, name: str) -> None:
        with self._lock:
            self._faults[name] += 1

    def snapshot(self, by_status: dict[str, int], active: int) -> dict:
        """The JSON served at /_emulator/stats (documented in chainer/emulator/__init__.py)."""
        sections = {name: fn() for name, fn in self._sections.items()}
        with self._lock:
            c = self._c
            return {**sections,
                "tasks_created": c["tasks_created"],
                "tasks_by_model": dict(self._by_model),
                "tasks_by_status": by_status,
                "tasks_active": active,
                "creates_rejected": c["creates_rejected"],
                "creates_rejected_by_code": dict(self._rejected_by_code),
                "requests": c["requests"],
                "creates": c["creates"],
                "gets": c["gets"],
                "lists": c["lists"],
                "deletes": c["deletes"],
                "downloads": c["downloads"],
                "bytes_served": c["bytes_served"],
                "renders": c["renders"],
                "render_seconds": round(c["render_ms"] / 1000.0, 3),
                "callbacks_sent": c["callbacks_sent"],
                "callbacks_acked": c["callbacks_acked"],
                "callbacks_failed": c["callbacks_failed"],
                "unauthorized": c["unauthorized"],
                "client_disconnects": c["client_disconnects"],
                "faults_injected": dict(self._faults),
            }
