"""The one timeline: the edit as assembled, in integer frames at an exact rational rate.

The assembly (``media.stitch``) produces it once; it is written into the run directory as
``timeline.json`` and everything downstream (MP4 chapters, ``chapters.txt``, the contact sheet,
the report, the OTIO/FCPXML/EDL exports, ``chainer stitch RUN_DIR``) reads it. Nothing re-derives
the edit from anything else.

Paths in a written timeline are POSIX paths relative to the directory the timeline lives in (the
run directory), so a run directory can be moved or copied and still reviews the same. Pure data:
no ffmpeg, no filesystem access except :meth:`Timeline.write` / :meth:`Timeline.load`.

Frame arithmetic per entry (all integers):

- ``frames_in`` frames in ``clip``; ``head`` dropped from its start, ``tail`` from its end; the
  source frames used are ``head .. frames_in - tail - 1`` (:attr:`Entry.first_kept`,
  :attr:`Entry.last_kept`);
- ``kept`` frames in the output (equal to ``frames_in - head - tail`` unless the assembly
  converted the frame rate), starting at output frame ``start``;
- ``overlap``: output frames shared with the previous entry (a crossfade), so
  ``start == previous.start + previous.kept - overlap``.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from pathlib import Path, PurePosixPath

from .errors import InputError
from .transitions import parse_transition

TIMELINE_FILE = "timeline.json"
VERSION = 1


class TimelineError(InputError, ValueError):
    """A timeline.json that is not one chainer wrote (bad JSON, a missing or mistyped field):
    one line naming the file and the field (exit 2 at the CLI)."""


@dataclass(frozen=True)
class Entry:
    shot_id: str
    title: str
    clip: str                  # the file the assembly read, relative to the run dir (POSIX)
    frames_in: int             # frames in ``clip``
    head: int                  # frames trimmed from the head of ``clip``
    tail: int                  # frames trimmed from the tail of ``clip``
    kept: int                  # frames of this entry in the output
    start: int                 # first output frame
    transition_in: str = "cut"   # how it is entered: "cut" | "crossfade:SEC" | "fade:SEC"
    overlap: int = 0           # output frames shared with the previous entry (crossfade)
    audio: bool = False        # ``clip`` carries an audio stream
    width: int = 0
    height: int = 0
    chained: bool = False      # its first frame continues the previous entry's last frame
    seam: dict | None = None   # the assembly's seam test: {"duplicate", "psnr", "motion_psnr"}
    original: str | None = None  # the downloaded clip when ``clip`` is a derived copy (graded)

    @property
    def end(self) -> int:
        """One past the last output frame."""
        return self.start + self.kept

    @property
    def first_kept(self) -> int:
        """Index in ``clip`` of the first frame used."""
        return self.head

    @property
    def last_kept(self) -> int:
        """Index in ``clip`` of the last frame used."""
        return max(self.head, self.frames_in - self.tail - 1)

    @property
    def seam_kind(self) -> str:
        """How the cut into this entry looks: chained | cut | crossfade | fade."""
        kind = self.transition_in.split(":", 1)[0]
        if kind in ("crossfade", "fade"):
            return kind
        return "chained" if self.chained else "cut"


@dataclass(frozen=True)
class Timeline:
    fps: Fraction
    frames: int                # output video frames
    width: int
    height: int
    output: str | None         # the assembled file, relative to the run dir
    audio: bool                # the output has an audio track (any entry has audio)
    entries: tuple[Entry, ...] = field(default_factory=tuple)

    # ---- derived -------------------------------------------------------------------------
    @property
    def duration(self) -> Fraction:
        return Fraction(self.frames) / self.fps

    def seconds(self, frame: int) -> Fraction:
        return Fraction(frame) / self.fps

    def seams(self) -> list[tuple[Entry, Entry]]:
        return list(zip(self.entries, self.entries[1:]))

    def chapters(self) -> list[tuple[Fraction, Fraction, str]]:
        """(start s, end s, title) per entry: the first at 0, each next where its entry begins."""
        out = []
        for i, e in enumerate(self.entries):
            a = Fraction(0) if i == 0 else self.seconds(e.start)
            b = self.seconds(self.entries[i + 1].start) if i + 1 < len(self.entries) else self.duration
            out.append((a, b, e.title))
        return out

    def path(self, base_dir: str | os.PathLike, rel: str | None) -> Path | None:
        """A stored path made usable: ``base_dir / rel`` (absolute paths are kept)."""
        if rel is None:
            return None
        p = Path(rel)
        return p if p.is_absolute() else Path(base_dir) / p

    def relative_to(self, base_dir: str | os.PathLike) -> "Timeline":
        """This timeline with every path relative to ``base_dir`` (paths are taken as relative to
        the current directory, or absolute)."""
        def rel(p: str | None) -> str | None:
            if p is None:
                return None
            return PurePosixPath(Path(os.path.relpath(os.path.abspath(p),
                                                      os.path.abspath(base_dir)))).as_posix()
        return replace(self, output=rel(self.output),
                       entries=tuple(replace(e, clip=rel(e.clip), original=rel(e.original))
                                     for e in self.entries))

    # ---- JSON ----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"version": VERSION, "fps": f"{self.fps.numerator}/{self.fps.denominator}",
                "frames": self.frames, "width": self.width, "height": self.height,
                "output": self.output, "audio": self.audio,
                "entries": [asdict(e) for e in self.entries]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data) -> "Timeline":
        if not isinstance(data, dict):
            raise TimelineError("not a JSON object")
        try:
            fps = Fraction(str(data["fps"]))
            entries = []
            for i, raw in enumerate(data.get("entries") or []):
                if not isinstance(raw, dict):
                    raise TimelineError(f"entries[{i}]: not an object")
                known = {k: raw[k] for k in Entry.__dataclass_fields__ if k in raw}
                e = Entry(**known)
                for k in ("frames_in", "head", "tail", "kept", "start", "overlap", "width", "height"):
                    if not isinstance(getattr(e, k), int) or isinstance(getattr(e, k), bool) \
                            or getattr(e, k) < 0:
                        raise TimelineError(f"entries[{i}].{k}: {getattr(e, k)!r} is not a "
                                            "non-negative whole number of frames")
                for k in ("shot_id", "title", "clip"):
                    if not isinstance(getattr(e, k), str) or not getattr(e, k):
                        raise TimelineError(f"entries[{i}].{k}: {getattr(e, k)!r} is not a "
                                            "non-empty string")
                parse_transition(e.transition_in, where=f"entries[{i}].transition_in")
                entries.append(e)
            tl = cls(fps=fps, frames=int(data["frames"]), width=int(data.get("width", 0)),
                     height=int(data.get("height", 0)), output=data.get("output"),
                     audio=bool(data.get("audio", False)), entries=tuple(entries))
        except InputError as exc:        # TimelineError, or a transition outside the grammar
            raise TimelineError(str(exc)) if not isinstance(exc, TimelineError) else exc from None
        except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
            raise TimelineError(f"{type(exc).__name__}: {exc}") from None
        if tl.fps <= 0:
            raise TimelineError(f"fps: {data['fps']!r} must be positive")
        return tl

    @classmethod
    def from_json(cls, text: str) -> "Timeline":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise TimelineError(f"not JSON ({exc})") from None
        return cls.from_dict(data)

    def write(self, run_dir: str | os.PathLike) -> Path:
        """Write ``run_dir/timeline.json`` atomically."""
        path = Path(run_dir) / TIMELINE_FILE
        tmp = path.with_name(f".{TIMELINE_FILE}.tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, run_dir: str | os.PathLike) -> "Timeline | None":
        """``run_dir/timeline.json``, or None when the run was never assembled. Raises
        :class:`TimelineError` (naming the file) for a file chainer did not write."""
        path = Path(run_dir) / TIMELINE_FILE
        if not path.exists():
            return None
        try:
            return cls.from_json(path.read_text(encoding="utf-8"))
        except (OSError, TimelineError) as exc:
            raise TimelineError(f"{path}: {exc}") from None
