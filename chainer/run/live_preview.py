"""The live preview during a render: ``preview.mp4`` in the run dir, refreshed after each clip
lands, on one worker thread of its own (a refresh never blocks a download or the chain).

:class:`~chainer.media.preview.Preview` does the joining (fast copy path, atomic replace); this
only schedules it: the clips that land while a refresh is queued or running are folded into the
next one, the path is said once (after the first refresh that worked), a failure once. It never
touches the final film.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Sequence


class LivePreview:
    def __init__(self, run_dir: Path, order: Sequence[str], *,
                 message: Callable[[str], None] = lambda s: None):
        from ..media.preview import Preview

        self.message = message
        self.preview = Preview(run_dir, list(order), on_error=self._error)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="preview")
        self._lock = threading.Lock()
        self._queued = False          # a refresh is waiting to start: it takes the new clips
        self._said = False
        self._failed = False

    @property
    def path(self) -> Path:
        return self.preview.path

    def landed(self, shot_id: str, clip: Path) -> None:
        """A verified clip: record it now, refresh on the preview thread (returns at once)."""
        self.preview.add(shot_id, clip)
        with self._lock:
            if self._queued:
                return
            self._queued = True
        try:
            self._pool.submit(self._refresh)
        except RuntimeError:          # closed: the render is over
            pass

    def _refresh(self) -> None:
        with self._lock:
            self._queued = False
        path = self.preview.refresh()
        if path is not None and not self._said:
            self._said = True
            self.message(f"preview: {path}")

    def _error(self, exc: Exception) -> None:
        if not self._failed:
            self._failed = True
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            self.message(f"preview could not be refreshed ({first}); the render goes on")

    def close(self, *, cancel: bool = False) -> None:
        """Wait for the refresh under way (and the queued one, unless ``cancel``)."""
        self._pool.shutdown(wait=True, cancel_futures=cancel)
        self.preview.close()
