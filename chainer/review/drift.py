"""Colour drift across chained shots: measure it, and (``drift_guard: match``) correct it.

Chaining last frames accumulates small colour and contrast shifts: every shot starts from the
previous shot's last frame and drifts a little further. Per shot we measure the mean and spread of
L*, a*, b* on its first and last frame against the *reference*: the first frame of the first shot
of its sequence. One number per frame, ``drift = sqrt(ΔE(means)² + Δ(spreads)²)`` (Lab units),
sums it up; the report shows the last frame's (the one that was sent on).

``match`` grades each shot toward the reference with a per-channel affine transfer in Lab
(Reinhard): one transfer computed from the shot's first frame, one from its last, both baked into
33³ ``.cube`` LUTs and applied by ffmpeg (``lut3d``), mixing linearly from the first to the last
frame. Because shot N+1's first frame *is* shot N's last frame, the transfer at the end of N and at
the start of N+1 are the same map: the grade is continuous across the seam, no step at the cut.
Shots already within ``threshold`` of the reference are left untouched (no generation loss).
Note what this cannot know: an intended change of look inside a sequence (sunrise → noon) is
drift to it; use ``report`` (the default) for such sequences, or split them into sequences.

A requested last frame (a shot's ``last_image``, a *bookend*) is kept: the shot's correction
blends to zero at its last frame (end transfer = identity), and so does the next shot's at its
first frame, which is that same picture, so the seam stays continuous and the bookend untouched.

Grading is incremental: each graded clip has a record (``graded/<shot>.grade.json``) keyed by the
source clip's content hash, the reference, the transfers and the grade settings; a clip whose key
and output are unchanged is reused, not re-encoded. Frame statistics are cached by content hash in
``graded/stats.json``. So an edit that resubmits 3 shots of 11 regrades only the shots whose
inputs changed (and those whose reference changed).
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Collection, Iterable, Mapping, Sequence

import numpy as np

from ..errors import InputError
from .colour import LabStats, Transfer, delta_e, drift_score, spread_ratio, write_cube
from .frames import read_image

DRIFT_GUARDS = ("off", "report", "match")
STATS_WIDTH = 256          # frames are measured box-scaled to this width: stable and fast
GRADE_VERSION = 1          # bump when the grade (LUT size, encoder settings) changes: regrades all
STATS_CACHE = "stats.json"
# progress(done, total, shot_id, action): action "grading" before an encode, "graded" after it,
# "cached" when an earlier grade is reused
GradeProgress = Callable[[int, int, str, str], None]


@dataclass
class FrameDrift:
    stats: LabStats
    drift: float           # sqrt(ΔE(means)² + Δ(spreads)²) against the reference
    delta_e: float         # ΔE76 of the mean colours
    spread_ratio: float    # L* spread / reference L* spread

    @classmethod
    def against(cls, stats: LabStats, ref: LabStats) -> "FrameDrift":
        return cls(stats, drift_score(stats, ref), delta_e(stats, ref), spread_ratio(stats, ref))

    def to_dict(self) -> dict:
        d = self.stats.to_dict()
        d.update(drift=round(self.drift, 3), delta_e=round(self.delta_e, 3),
                 spread_ratio=round(self.spread_ratio, 4))
        return d


@dataclass
class ShotDrift:
    shot_id: str
    sequence: object
    reference: str                # shot id whose first frame is the reference
    first: FrameDrift
    last: FrameDrift
    frames: int
    clip: str

    @property
    def drift(self) -> float:
        """The shot's drift number: its last frame's (what was sent on to the next shot)."""
        return self.last.drift

    def to_dict(self) -> dict:
        return {"shot_id": self.shot_id, "sequence": self.sequence, "reference": self.reference,
                "drift": round(self.drift, 3), "first": self.first.to_dict(),
                "last": self.last.to_dict(), "frames": self.frames, "clip": self.clip}


def _check_guard(mode: str) -> str:
    if mode not in DRIFT_GUARDS:
        raise InputError(f"drift_guard: {mode!r} is not one of {', '.join(DRIFT_GUARDS)}")
    return mode


def frame_stats(img: np.ndarray) -> LabStats:
    """Lab stats of one frame, box-scaled to ``STATS_WIDTH`` first (stable and fast)."""
    from .frames import fit_size

    h, w = img.shape[:2]
    if w > STATS_WIDTH:
        from PIL import Image

        tw, th = fit_size(w, h, STATS_WIDTH)
        img = np.asarray(Image.fromarray(img).resize((tw, th), Image.BOX))
    return LabStats.of(img)


def clip_stats(clip: str | os.PathLike) -> tuple[LabStats, LabStats, int]:
    """Lab stats of a clip's first and last frame, and its frame count (one decode pass that
    lets only those two frames out of ffmpeg)."""
    from .frames import read_clip

    got = read_clip(clip, [0, -1])
    first, last = got.get(0), got.get(-1)
    if first is None or last is None:
        raise ValueError(f"{clip}: no decodable video frames")
    return frame_stats(first), frame_stats(last), got.count


def image_stats(path: str | os.PathLike) -> LabStats:
    """Lab stats of a still (e.g. a last-frame PNG)."""
    return frame_stats(read_image(path))


def measure_drift(clips_by_sequence: Mapping[object, Sequence[tuple[str, str | os.PathLike]]], *,
                  references: Mapping[object, LabStats] | None = None,
                  cache: dict | None = None) -> dict[str, ShotDrift]:
    """Per-shot drift. ``clips_by_sequence``: {sequence: [(shot_id, clip), ...] in order}.

    The reference of a sequence is its first shot's first frame unless ``references`` gives one.
    ``cache`` (optional, {clip path: (first, last, n)}) avoids decoding a clip twice.
    """
    out: dict[str, ShotDrift] = {}
    for seq, items in clips_by_sequence.items():
        items = list(items)
        if not items:
            continue
        ref = references.get(seq) if references else None
        ref_id = str(items[0][0])
        for shot_id, clip in items:
            key = os.fspath(clip)
            if cache is not None and key in cache:
                first, last, n = cache[key]
            else:
                first, last, n = clip_stats(clip)
                if cache is not None:
                    cache[key] = (first, last, n)
            if ref is None:
                ref = first
            out[str(shot_id)] = ShotDrift(str(shot_id), seq, ref_id, FrameDrift.against(first, ref),
                                          FrameDrift.against(last, ref), n, key)
    return out


# ---- match --------------------------------------------------------------------------------------

@dataclass
class MatchPlan:
    start: Transfer
    end: Transfer

    def is_identity(self, tol_scale: float = 1e-3, tol_offset: float = 0.05) -> bool:
        return all(abs(v - 1.0) <= tol_scale for t in (self.start, self.end) for v in t.scale) and \
            all(abs(v) <= tol_offset for t in (self.start, self.end) for v in t.offset)

    def single(self, tol_scale: float = 0.01, tol_offset: float = 0.5) -> Transfer | None:
        """One transfer good for the whole shot when start and end (nearly) agree."""
        ds = max(abs(a - b) for a, b in zip(self.start.scale, self.end.scale))
        do = max(abs(a - b) for a, b in zip(self.start.offset, self.end.offset))
        if ds <= tol_scale and do <= tol_offset:
            return Transfer(tuple((a + b) / 2 for a, b in zip(self.start.scale, self.end.scale)),
                            tuple((a + b) / 2 for a, b in zip(self.start.offset, self.end.offset)))
        return None


def plan_match(first: LabStats, last: LabStats, reference: LabStats, *,
               strength: float = 1.0, keep_first: bool = False, keep_last: bool = False) -> MatchPlan:
    """The start/end transfers of a shot. ``keep_last``: the shot ends on a requested last frame
    (identity at the end); ``keep_first``: it starts on one (the previous shot's bookend)."""
    ident = Transfer.identity()
    return MatchPlan(ident if keep_first else Transfer.reinhard(first, reference, strength=strength),
                     ident if keep_last else Transfer.reinhard(last, reference, strength=strength))


def _is_identity(t: Transfer) -> bool:
    return t == Transfer.identity()


def _grade(src: Path, dst: Path, plan: MatchPlan, n_frames: int, fps: float) -> list[Path]:
    from ..media.ffmpeg import grade_lut3d

    dst.parent.mkdir(parents=True, exist_ok=True)
    single = plan.single() if n_frames > 1 else plan.start
    kept = _is_identity(plan.start) or _is_identity(plan.end)     # a bookend end stays untouched
    if single is not None and not kept:
        lut = dst.with_suffix(".cube")
        write_cube(lut, single, title=f"chainer drift match {src.stem}")
        grade_lut3d(src, dst, [lut])
        return [lut]
    luts: list[Path | None] = []
    for t, which, label in ((plan.start, "start", "first frame"), (plan.end, "end", "last frame")):
        if _is_identity(t):
            luts.append(None)
            continue
        p = dst.with_suffix(f".{which}.cube")
        write_cube(p, t, title=f"chainer drift match {src.stem} ({label})")
        luts.append(p)
    # a kept end is re-encoded finer: the requested frame then loses well under 1 dB to the
    # extra generation (crf 16 costs ~1.1 dB on a saturated 432x240 scene, crf 12 ~0.5 dB)
    grade_lut3d(src, dst, luts, ramp_seconds=(n_frames - 1) / fps, crf=12 if kept else 16)
    return [p for p in luts if p is not None]


def _fps_of(path) -> float:
    from ..media.probe import probe

    info = probe(path)
    return float(info.video.fps) if info.video and info.video.fps else 24.0


def match_clip(src: str | os.PathLike, dst: str | os.PathLike, reference_stats: LabStats, *,
               strength: float = 1.0) -> Path:
    """Grade ``src`` toward ``reference_stats`` into ``dst`` (x264 CRF 16, audio copied).

    The LUT(s) used are written next to ``dst`` (``.cube``; one, or ``.start``/``.end``)."""
    src, dst = Path(src), Path(dst)
    first, last, n = clip_stats(src)
    _grade(src, dst, plan_match(first, last, reference_stats, strength=strength), n, _fps_of(src))
    return dst


def correct_frame_png(src: str | os.PathLike, dst: str | os.PathLike, reference_stats: LabStats, *,
                      strength: float = 1.0) -> dict:
    """Grade a still (the last frame about to be sent on as the next first frame) toward the
    reference, exactly (in numpy, no LUT). Returns {"before": stats, "after": stats, "transfer"}.

    Use it together with ``match`` on the clips: the clip's end transfer is computed from the same
    frame, so the graded clip ends exactly where the next (already corrected) shot starts."""
    img = read_image(src)
    before = LabStats.of(img)
    t = Transfer.reinhard(before, reference_stats, strength=strength)
    out = t.apply_rgb(img)
    from PIL import Image

    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(out).save(dst)
    return {"before": before, "after": LabStats.of(out), "transfer": t}


@dataclass
class GuardResult:
    shot_id: str
    clip: Path                      # what the assembly should use
    original: Path
    corrected: bool
    before: ShotDrift
    after: ShotDrift | None = None
    luts: list[Path] = field(default_factory=list)
    transfer: dict | None = None
    cached: bool = False            # an earlier grade of the same inputs was reused
    bookend: bool = False           # the shot's last frame was requested: kept

    def to_dict(self, base_dir: str | os.PathLike | None = None) -> dict:
        """Paths relative to ``base_dir`` when given (what drift.json stores)."""
        def p(x) -> str:
            if base_dir is None:
                return str(x)
            return Path(os.path.relpath(os.path.abspath(x), os.path.abspath(base_dir))).as_posix()
        return {"shot_id": self.shot_id, "clip": p(self.clip), "original": p(self.original),
                "corrected": self.corrected, "cached": self.cached, "bookend": self.bookend,
                "before": dict(self.before.to_dict(), clip=p(self.before.clip)),
                "after": dict(self.after.to_dict(), clip=p(self.after.clip)) if self.after else None,
                "luts": [p(x) for x in self.luts], "transfer": self.transfer}


def file_hash(path: str | os.PathLike) -> str:
    from ..run.download import sha256_file     # the one file hash (run/ imports review/ lazily)

    return sha256_file(path)


def _stats_dict(s: LabStats) -> dict:
    return {"mean": list(s.mean), "std": list(s.std)}       # full precision: keys stay stable


class _StatsCache:
    """{content hash: (first, last, n)} persisted in ``workdir/stats.json``; also answers by path
    for :func:`measure_drift`."""

    def __init__(self, path: Path):
        self.path = path
        self.by_hash: dict[str, dict] = {}
        self.hashes: dict[str, str] = {}
        try:
            data = json.loads(path.read_text())
            if isinstance(data, dict) and data.get("version") == GRADE_VERSION:
                self.by_hash = {k: v for k, v in data.get("clips", {}).items() if isinstance(v, dict)}
        except (OSError, ValueError):
            pass

    def hash_of(self, clip: Path) -> str:
        key = os.fspath(clip)
        if key not in self.hashes:
            self.hashes[key] = file_hash(clip)
        return self.hashes[key]

    def fill(self, clips: Iterable[Path], memo: dict) -> None:
        for clip in clips:
            key = os.fspath(clip)
            if key in memo:
                continue
            h = self.hash_of(clip)
            rec = self.by_hash.get(h)
            if rec is not None:
                try:
                    memo[key] = (LabStats.from_dict(rec["first"]), LabStats.from_dict(rec["last"]), int(rec["n"]))
                    continue
                except (KeyError, TypeError, ValueError):
                    pass
            first, last, n = clip_stats(clip)
            memo[key] = (first, last, n)
            self.by_hash[h] = {"first": _stats_dict(first), "last": _stats_dict(last), "n": n}

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps({"version": GRADE_VERSION, "clips": self.by_hash}))
        os.replace(tmp, self.path)


def _grade_key(src_hash: str, reference: LabStats, plan: MatchPlan, n_frames: int, fps: float) -> str:
    """What a graded clip depends on: its source's bytes, the reference, the transfers, the grade."""
    rnd = lambda xs: [round(v, 4) for v in xs]  # noqa: E731
    doc = {"v": GRADE_VERSION, "src": src_hash, "ref": [rnd(reference.mean), rnd(reference.std)],
           "start": [rnd(plan.start.scale), rnd(plan.start.offset)],
           "end": [rnd(plan.end.scale), rnd(plan.end.offset)], "n": n_frames, "fps": round(fps, 4)}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _reuse(dst: Path, key: str) -> list[Path] | None:
    """The LUTs of an earlier grade of ``dst`` with the same ``key`` whose output is intact."""
    rec_path = dst.with_suffix(".grade.json")
    try:
        rec = json.loads(rec_path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict) or rec.get("key") != key or not dst.exists():
        return None
    luts = [dst.parent / str(n) for n in rec.get("luts", [])]
    if not all(p.exists() for p in luts) or file_hash(dst) != rec.get("output"):
        return None
    return luts


def _record(dst: Path, key: str, luts: list[Path]) -> None:
    rec_path = dst.with_suffix(".grade.json")
    tmp = rec_path.with_name(f".{rec_path.name}.tmp")
    tmp.write_text(json.dumps({"key": key, "output": file_hash(dst), "luts": [p.name for p in luts]}))
    os.replace(tmp, rec_path)


def apply_drift_guard(shots: Iterable[tuple[str, object, str | os.PathLike]],
                      workdir: str | os.PathLike, *, mode: str = "match", strength: float = 1.0,
                      threshold: float = 1.0, bookends: Collection[str] = (),
                      progress: GradeProgress | None = None,
                      base_dir: str | os.PathLike | None = None) -> dict[str, GuardResult]:
    """Run the drift guard over ``(shot_id, sequence, clip)`` triples (storyboard order).

    ``off``: nothing is measured, every clip stays. ``report``: measured, clips stay.
    ``match``: each shot whose first or last frame drifts more than ``threshold`` from its
    sequence's reference is graded into ``workdir/<shot_id>.mp4``; the others stay. A shot in
    ``bookends`` (it has a requested last frame) keeps its last frame: its correction blends to
    zero there, and the next shot's starts from zero. A grade whose inputs are unchanged since
    the last run is reused. ``progress(done, total, shot_id, action)`` reports the grading.
    Writes ``workdir/drift.json`` (paths in it relative to ``base_dir``, the run directory, when
    given; else to ``workdir``). Returns {shot_id: result}.
    """
    _check_guard(mode)
    triples = [(str(s), q, Path(c)) for s, q, c in shots]
    if mode == "off":
        return {}
    workdir = Path(workdir)
    bookends = {str(b) for b in bookends}
    by_seq: dict[object, list[tuple[str, Path]]] = {}
    for sid, seq, clip in triples:
        by_seq.setdefault(seq, []).append((sid, clip))
    after_bookend = {items[k + 1][0] for items in by_seq.values() for k in range(len(items) - 1)
                     if items[k][0] in bookends}
    stats = _StatsCache(workdir / STATS_CACHE)
    cache: dict = {}
    stats.fill((c for _, _, c in triples), cache)
    before = measure_drift(by_seq, cache=cache)
    refs = {seq: cache[os.fspath(items[0][1])][0] for seq, items in by_seq.items()}
    results: dict[str, GuardResult] = {}
    todo = []
    for sid, seq, clip in triples:
        b = before[sid]
        res = GuardResult(sid, clip, clip, False, b, bookend=sid in bookends)
        if mode == "match" and max(b.first.drift, b.last.drift) > threshold:
            plan = plan_match(b.first.stats, b.last.stats, refs[seq], strength=strength,
                              keep_first=sid in after_bookend, keep_last=sid in bookends)
            if not plan.is_identity():
                todo.append((res, clip, plan, refs[seq]))
        results[sid] = res
    for k, (res, clip, plan, ref) in enumerate(todo):
        dst = workdir / f"{res.shot_id}.mp4"
        fps = _fps_of(clip)
        key = _grade_key(stats.hash_of(clip), ref, plan, res.before.frames, fps)
        luts = _reuse(dst, key)
        if luts is None:
            if progress is not None:
                progress(k, len(todo), res.shot_id, "grading")
            luts = _grade(clip, dst, plan, res.before.frames, fps)
            _record(dst, key, luts)
            action = "graded"
        else:
            res.cached, action = True, "cached"
        res.luts, res.clip, res.corrected = luts, dst, True
        res.transfer = {"start": plan.start.to_dict(), "end": plan.end.to_dict()}
        if progress is not None:
            progress(k + 1, len(todo), res.shot_id, action)
    if mode == "match":
        graded = {seq: [(sid, results[sid].clip) for sid, _ in items] for seq, items in by_seq.items()}
        stats.fill((r.clip for r in results.values()), cache)
        after = measure_drift(graded, references=refs, cache=cache)
        for sid, res in results.items():
            res.after = after[sid]
    workdir.mkdir(parents=True, exist_ok=True)
    stats.save()
    (workdir / "drift.json").write_text(json.dumps(
        {"mode": mode, "strength": strength, "threshold": threshold,
         "references": {str(k): v.to_dict() for k, v in refs.items()},
         "shots": [r.to_dict(base_dir if base_dir is not None else workdir)
                   for r in results.values()]}, indent=2))
    return results


def load_guard_results(path: str | os.PathLike) -> dict | None:
    """The ``drift.json`` apply_drift_guard wrote, or None."""
    p = Path(path)
    if not p.exists():
        return None
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return None

