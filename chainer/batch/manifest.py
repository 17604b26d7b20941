"""``OUT_DIR/batch.json``: what a batch is (its films, estimate, limits) and how each film ended.

Written by the process running the batch (atomically, one writer: the coordinator, never a
worker). It is a record, not the truth about money or shots: each film's own run dir (journal,
summary) is, and ``chainer status OUT_DIR`` reads both.
"""
from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

MANIFEST = "batch.json"
FORMAT = 1


def manifest_path(out_dir: str | Path) -> Path:
    return Path(out_dir) / MANIFEST


def is_batch_dir(path: str | Path) -> bool:
    return manifest_path(path).is_file()


def read_manifest(out_dir: str | Path) -> dict[str, Any]:
    with open(manifest_path(out_dir), encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("films"), list):
        raise ValueError("not a chainer batch manifest")
    return data


class Manifest:
    """The coordinator's handle: thread-safe updates, each one written atomically."""

    def __init__(self, out_dir: Path, data: dict[str, Any]):
        self.path = manifest_path(out_dir)
        self.data = data
        self._lock = threading.Lock()
        self._write()

    @classmethod
    def start(cls, out_dir: Path, films, *, invocation: str, provider: str, estimate: float | None,
              budget: float | None, currency: str, limits: dict, films_at_once: int,
              cluster: str | None) -> "Manifest":
        data = {"format": FORMAT, "invocation": invocation, "started_at": time.time(),
                "finished_at": None, "provider": provider, "estimate": estimate,
                "budget": budget, "currency": currency, "limits": limits,
                "films_at_once": films_at_once, "cluster": cluster,
                "films": [{**f.to_dict(), "state": "waiting", "started_at": None,
                           "finished_at": None, "error": None, "output": None}
                          for f in films]}
        return cls(out_dir, data)

    def film(self, name: str, **changes) -> None:
        with self._lock:
            for f in self.data["films"]:
                if f["name"] == name:
                    f.update(changes)
            self._write()

    def finish(self) -> None:
        with self._lock:
            self.data["finished_at"] = time.time()
            self._write()

    def _write(self) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.data, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)
