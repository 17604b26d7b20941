"""``preview.mp4``: the film so far, refreshed while a render runs, so it can be watched growing.

Every clip that has landed is joined in storyboard order with the stitcher's fast copy path
(``seam="keep"``: no duplicate-frame detection, no re-encode for clips that share encoder settings,
no loudness pass), so a refresh costs seconds. The new preview is written beside the old one and
renamed over it: whatever a player has open is always a complete, playable file. It never touches
the final film.

    pv = Preview(run_dir, order=[s.id for s in plan.shots])
    pv.landed("shot-03", run_dir / "clips/shot-03.mp4")   # after each verified clip download

``landed`` may be called from several download threads: refreshes run one at a time, and clips
that land during a refresh are folded into the next one.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable, Sequence

from ..errors import ChainerError

PREVIEW_FILE = "preview.mp4"


class Preview:
    def __init__(self, run_dir: str | os.PathLike, order: Sequence[str], *,
                 name: str = PREVIEW_FILE, on_error: Callable[[Exception], None] | None = None):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / name
        self.workdir = self.run_dir / ".preview-work"
        self.order = list(order)
        self.clips: dict[str, Path] = {}
        self.on_error = on_error
        self.refreshes = 0
        self._lock = threading.Lock()          # guards clips / dirty
        self._writing = threading.Lock()       # one refresh at a time
        self._dirty = False

    def landed(self, shot_id: str, clip: str | os.PathLike) -> Path | None:
        """Record a verified clip and bring the preview up to date (returns its path, or None when
        it could not be written: the previous preview, if any, is left in place)."""
        self.add(shot_id, clip)
        return self.refresh()

    def add(self, shot_id: str, clip: str | os.PathLike) -> None:
        """Record a verified clip without refreshing (the next :meth:`refresh` includes it)."""
        with self._lock:
            self.clips[shot_id] = Path(clip)
            self._dirty = True

    def refresh(self) -> Path | None:
        ok = True
        while True:
            if not self._writing.acquire(blocking=False):
                # a refresh is running: it picks this clip up (it re-checks before it stops)
                return self.path if self.path.exists() else None
            try:
                while True:
                    with self._lock:
                        if not self._dirty:
                            break
                        self._dirty = False
                        clips = [(sid, self.clips[sid]) for sid in self.order if sid in self.clips]
                    ok = self._write(clips)
            finally:
                self._writing.release()
            with self._lock:            # a clip that landed just as the writer let go
                if not self._dirty:
                    break
        return self.path if ok and self.path.exists() else None    # ok: the last write worked

    def close(self) -> None:
        """Remove the refreshes' scratch directory (the preview itself stays)."""
        import shutil

        with self._writing:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _write(self, clips: list[tuple[str, Path]]) -> bool:
        from .stitch import Segment, stitch

        if not clips:
            return False
        tmp = self.path.with_name(f".{self.path.stem}.tmp{self.path.suffix}")
        segs = [Segment(path=str(p), shot_id=sid, chained=False) for sid, p in clips]
        try:
            stitch(segs, tmp, seam="keep", loudness=None, chapters=False,
                   workdir=self.workdir, workers=1)
            os.replace(tmp, self.path)
        except (ChainerError, OSError) as exc:
            tmp.unlink(missing_ok=True)
            if self.on_error is not None:
                self.on_error(exc)
            return False
        self.refreshes += 1
        return True
