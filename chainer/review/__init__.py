"""chainer.review: what a producer looks at after a render, and what their editor opens.

``write_review(run_dir, summary)`` writes into the run directory:

- ``contact-sheet.png`` (+ ``contact-sheet-2.png`` ...): every seam, last frame of shot N beside
  the first frame of shot N+1, scored (PSNR/SSIM vs in-shot motion), and per-shot thumbnails;
- ``report.html`` (self-contained) and ``report.json``: per shot prompt, model, params, task,
  seed, queue/run/download times, tokens and cost estimated vs actual, seam score, colour drift;
  totals; charts of colour drift and of the render time line with its critical path;
- ``chapters.txt``: YouTube description chapters ("0:00 Title");
- ``prompts.md`` (+ ``thumbs/``): the prompt sheet, per shot thumbnail, prompt, model, parameters,
  seed and cost (:mod:`chainer.review.prompts`); report.html also shows the final audio's
  loudness over time beside the shots (:mod:`chainer.review.loudness`);
- ``timeline.otio``, ``timeline.fcpxml`` and ``timeline.edl``: the edit as assembled, for an
  editor (media referenced by absolute file URLs/paths computed at review time).

Everything about the edit comes from the run's ``timeline.json`` (:mod:`chainer.timeline`,
written once by the assembly); ``summary.json`` gives the per-shot facts (prompts, tasks, times,
costs). Every path they store is relative to the run directory, so a moved or copied run
directory reviews the same.

Colour drift lives in :mod:`chainer.review.drift` (``measure_drift``, ``match_clip``,
``apply_drift_guard``, ``correct_frame_png``).
"""
from __future__ import annotations

import json
import os
import tempfile
from fractions import Fraction
from pathlib import Path

from ..timeline import TIMELINE_FILE, Timeline
from .drift import (DRIFT_GUARDS, apply_drift_guard, correct_frame_png, image_stats, match_clip,
                    measure_drift)

__all__ = ["write_review", "apply_drift_guard", "measure_drift", "match_clip", "correct_frame_png",
           "image_stats", "DRIFT_GUARDS", "GRADED_DIR"]

GRADED_DIR = "graded"   # where the orchestrator puts drift-matched clips: run_dir/graded/


def _atomic_write(path: Path, data: str | bytes) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    if isinstance(data, bytes):
        tmp.write_bytes(data)
    else:
        tmp.write_text(data, encoding="utf-8")
    os.replace(tmp, path)
    return path


def _resolve(run_dir: Path, p) -> Path | None:
    if not p:
        return None
    p = Path(p)
    return p if p.is_absolute() else run_dir / p


def _sequence_groups(shots: list[dict]) -> list[tuple[object, list[dict]]]:
    """Shots grouped by sequence (storyboard order); without a ``sequence`` field, a shot that is
    not chained to the previous one starts a new group."""
    groups: dict[object, list[dict]] = {}
    derived = -1
    for s in shots:
        seq = s.get("sequence")
        if seq is None:
            if not s.get("chained_from") or derived < 0:
                derived += 1
            seq = f"auto-{derived}"
        groups.setdefault(seq, []).append(s)
    return list(groups.items())


def _drift_inputs(run_dir: Path, summary: dict, timeline: Timeline, drift_guard: str,
                  notes: list[str]):
    """Which clips the drift is measured on, without decoding anything: ``before`` (the
    downloaded clips) and, for ``match``, ``after`` (the clips the assembly used, per the
    timeline: graded copies where it has them), each {sequence: [(shot_id, clip path), ...]}."""
    if drift_guard == "off":
        return None, None
    groups = _sequence_groups(summary.get("shots") or [])
    entries = {e.shot_id: e for e in timeline.entries}
    before_in: dict[object, list] = {}
    after_in: dict[object, list] = {}
    for seq, shots in groups:
        for s in shots:
            sid = str(s.get("id"))
            e = entries.get(sid)
            rel = (e.original or e.clip) if e is not None else s.get("clip")
            clip = _resolve(run_dir, rel)
            if clip is None or not clip.exists():
                notes.append(f"shot {sid}: clip {rel!r} not found; no drift measured")
                continue
            before_in.setdefault(seq, []).append((sid, clip))
            used = _resolve(run_dir, e.clip) if e is not None else None
            after_in.setdefault(seq, []).append((sid, used if used is not None and used.exists()
                                                 else clip))
    if drift_guard != "match":
        return before_in, None
    if not any(e.original for e in timeline.entries):
        notes.append("drift_guard match: the assembly used no drift-matched clips; 'after' is "
                     "the downloaded clips")
    return before_in, after_in


def _drift(before_in, after_in, cache: dict, notes: list[str]):
    """Drift before (and after) from the stats the review pass collected (``cache``:
    {os.fspath(clip): (first, last, n)}); clips that did not decode are left out, with a note."""
    if before_in is None:
        return None, None

    def known(groups):
        out = {}
        for seq, items in groups.items():
            for sid, clip in items:
                if os.fspath(clip) in cache:
                    out.setdefault(seq, []).append((sid, clip))
                elif groups is before_in:
                    notes.append(f"shot {sid}: {clip} has no decodable video; no drift measured")
        return out

    before_ok = known(before_in)
    before = measure_drift(before_ok, cache=cache)
    if after_in is None:
        return before, None
    refs = {seq: cache[os.fspath(items[0][1])][0] for seq, items in before_ok.items()}
    after = measure_drift({seq: v for seq, v in known(after_in).items() if seq in refs},
                          references=refs, cache=cache)
    return before, after


def _relative_clips(drift: dict | None, run_dir: Path) -> dict | None:
    """Drift results naming their clips relative to the run dir (the report may be moved)."""
    if drift is None:
        return None
    from dataclasses import replace

    base = os.path.abspath(run_dir)
    return {k: replace(d, clip=Path(os.path.relpath(os.path.abspath(d.clip), base)).as_posix())
            for k, d in drift.items()}


def _workers(workers: int | None) -> int:
    """Clips decoded side by side (one single-threaded ffmpeg each): one per core, at most 4."""
    return max(1, int(workers)) if workers else max(1, min(4, os.cpu_count() or 1))


def _in_order(jobs: list, fn, workers: int):
    """``fn(job)`` for every job, results yielded in job order; at most ``workers + 1`` results
    exist at once (decoding runs ahead of the consumer by that much, no further)."""
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield fn(job)
        return
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="chainer-review") as pool:
        pending: deque = deque()
        it = iter(jobs)
        for job in it:
            pending.append(pool.submit(fn, job))
            if len(pending) > workers:
                break
        while pending:
            fut = pending.popleft()
            try:
                yield fut.result()
            except BaseException:
                for f in pending:
                    f.cancel()
                raise
            for job in it:
                pending.append(pool.submit(fn, job))
                break


def _frames_and_stats(clip, names: dict[str, int], with_stats: bool):
    """An entry's frames by name from a :class:`~chainer.review.frames.ClipFrames` and, when
    asked, the Lab stats of the clip's first and last frame (those two frames are not kept)."""
    from .drift import frame_stats

    frames = {k: clip.frames[i] for k, i in names.items() if i in clip.frames}
    stats = None
    if with_stats and clip.get(0) is not None and clip.get(-1) is not None:
        stats = (frame_stats(clip.get(0)), frame_stats(clip.get(-1)), clip.count)
    return frames, stats


def write_review(run_dir: str | os.PathLike, summary: dict, *, drift_guard: str = "report",
                 seams_per_page: int = 12, export_formats: bool = True,
                 workers: int | None = None, loudness_target: float | None = -16.0,
                 progress=None) -> dict[str, Path]:
    """Write the review outputs of a run into ``run_dir``; returns {name: path} of what was written.

    ``summary`` is the summary.json dict (see docs/architecture.md); optional fields may be missing.
    ``drift_guard``: "off" (no drift measured), "report" (measure the downloaded clips) or "match"
    (also measure the drift-matched clips the assembly used, shown as before → after).

    Memory does not grow with the number of shots: each clip is decoded once (``workers`` at a
    time, default one per core), only the frames the review reads leave ffmpeg (at most
    ``frames.ANALYSIS_WIDTH`` px wide), seams are scored as soon as both sides are in, drift
    keeps two Lab statistics per clip, and the contact sheet keeps thumbnails only until their
    page is written.

    ``loudness_target``: the dashed line of the loudness chart (the storyboard's
    ``output.loudness``). ``progress(done, total)``: clips decoded so far."""
    from .chapters import chapter_lines, write_chapters, youtube_caveats
    from .contact_sheet import ContactSheet, Seam, measure_seam, wanted_frames
    from .otio_export import write_otio
    from .report import build_report, charts_for, render_html
    from .drift import _check_guard
    from .frames import plan_clip

    _check_guard(drift_guard)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    written: dict[str, Path] = {}
    timeline = Timeline.load(run_dir)
    if timeline is None:
        notes.append(f"no {TIMELINE_FILE}: the run was not assembled; seams, chapters and editor "
                     "timelines need an assembled run")
        timeline = Timeline(fps=Fraction(24), frames=0, width=0, height=0, output=None,
                            audio=False)
    paths = {e.shot_id: timeline.path(run_dir, e.clip) for e in timeline.entries}
    for e in timeline.entries:
        if not paths[e.shot_id].exists():
            notes.append(f"shot {e.shot_id}: {e.clip} not found in {run_dir}")

    before_in, after_in = _drift_inputs(run_dir, summary, timeline, drift_guard, notes)
    # clips whose first/last-frame stats the drift needs, by resolved path -> cache keys
    stats_keys: dict[Path, set[str]] = {}
    for groups in (before_in or {}, after_in or {}):
        for items in groups.values():
            for _, clip in items:
                stats_keys.setdefault(clip.resolve(), set()).add(os.fspath(clip))
    # one decode pass per clip, in timeline order: seam frames + thumbnails (+ drift stats);
    # then the clips only the drift reads (the downloaded originals of drift-matched shots)
    jobs = []
    for e in timeline.entries:
        path = paths[e.shot_id]
        readable = path.exists() and e.kept > 0
        rp = path.resolve() if readable else None
        jobs.append((e, path, wanted_frames(e) if readable else {}, rp in stats_keys))
    covered = {p.resolve() for e, p, names, _ in jobs if names}
    jobs += [(None, p, {}, True) for p in stats_keys if p not in covered]
    title = summary.get("title") or ""
    sheet = ContactSheet(timeline, run_dir, title=title, seams_per_page=seams_per_page)
    seams: list[Seam] = []
    cache: dict = {}
    prev = None            # (entry, its last / second-last frames) for the next seam
    with tempfile.TemporaryDirectory(prefix="chainer-review-") as tmp:
        def decode(k: int):
            # worker thread: plan + one ffmpeg run writing the selected frames to a raw file;
            # nothing large is allocated here (the main thread reads the file)
            e, path, names, with_stats = jobs[k]
            if not names and not with_stats:
                return k, None, None
            req = plan_clip(path, list(names.values()) + ([0, -1] if with_stats else []))
            raw = Path(tmp) / f"{k}.rgb"
            return k, req, raw if req.decode_to(raw) else None

        if progress is not None:
            progress(0, len(jobs))
        for k, req, raw in _in_order(range(len(jobs)), decode, _workers(workers)):
            if progress is not None:
                progress(k + 1, len(jobs))
            e, path, names, with_stats = jobs[k]
            frames, stats = {}, None
            if req is not None:
                try:
                    frames, stats = _frames_and_stats(req.load(raw), names, with_stats)
                except Exception:  # noqa: BLE001 - an unreadable file shows as "missing"
                    frames, stats = {}, None
                if raw is not None:
                    raw.unlink(missing_ok=True)
            if stats is not None:
                for key in stats_keys.get(Path(path).resolve(), ()):
                    cache[key] = stats
            if e is None:
                continue
            sheet.add_entry(e.shot_id, frames)
            if prev is not None:
                seam = measure_seam(len(seams), prev[0], e, prev[1], frames, timeline.fps)
                seams.append(seam)
                sheet.add_seam(seam)
            prev = (e, {k2: frames[k2] for k2 in ("last", "last_prev") if k2 in frames})
            del frames
    for i, p in enumerate(sheet.close()):
        written["contact_sheet" if i == 0 else f"contact_sheet_{i + 1}"] = p
    before, after = _drift(before_in, after_in, cache, notes)
    before, after = _relative_clips(before, run_dir), _relative_clips(after, run_dir)

    written["chapters"] = write_chapters(timeline, run_dir / "chapters.txt")
    chapters = chapter_lines(timeline)
    notes.extend(youtube_caveats(timeline))

    meta = {"title": title, "storyboard": summary.get("storyboard"), "drift_guard": drift_guard}
    exported, skipped = {}, {}
    if timeline.entries:
        exported, skipped = write_otio(timeline, run_dir, name=title or "chainer",
                                       extra_formats=export_formats, metadata=meta,
                                       shots={str(s.get("id")): s
                                              for s in summary.get("shots") or []})
    written.update(exported)
    for adapter, why in skipped.items():
        notes.append(f"{adapter} export skipped: {why}")

    written.update(_prompt_sheet(run_dir, summary, timeline, notes))
    loudness_png = _loudness_chart(run_dir, timeline, loudness_target, notes)

    files = {k: os.path.relpath(p, run_dir) for k, p in written.items()}
    files["report_json"] = "report.json"
    files["report_html"] = "report.html"
    report = build_report(summary, timeline, seams, drift_guard=drift_guard, drift_before=before,
                          drift_after=after, files=files, notes=notes, chapters=chapters)
    written["report_json"] = _atomic_write(run_dir / "report.json",
                                           json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    charts = charts_for(report)
    if loudness_png is not None:
        charts["loudness"] = loudness_png
    written["report_html"] = _atomic_write(run_dir / "report.html", render_html(report, charts))
    return written


def _prompt_sheet(run_dir: Path, summary: dict, timeline: Timeline,
                  notes: list[str]) -> dict[str, Path]:
    """``prompts.md`` (thumbnails from the timeline's clips); a failure is a note, not fatal."""
    from .prompts import write_prompt_sheet

    try:
        return {"prompts": write_prompt_sheet(run_dir, summary,
                                              timeline if timeline.entries else None)}
    except Exception as exc:  # noqa: BLE001 - the other outputs are still worth having
        notes.append(f"prompt sheet not written: {type(exc).__name__}: {exc}")
        return {}


def _loudness_chart(run_dir: Path, timeline: Timeline, target: float | None,
                    notes: list[str]) -> bytes | None:
    """The final film's loudness over time beside the shots (PNG), or None (no audio / no film)."""
    from ..media import ffmpeg as ff
    from ..media.probe import ProbeError, probe
    from .loudness import loudness_chart

    film = timeline.path(run_dir, timeline.output) if timeline.output else None
    if film is None or not film.exists():
        return None
    try:
        if probe(film).audio is None:        # no shot audio and no music bed: nothing to chart
            return None
        curve = ff.loudness_curve(film)
    except (ff.FFmpegError, ProbeError) as exc:
        notes.append(f"loudness over time not measured: {str(exc).splitlines()[0] if str(exc) else exc}")
        return None
    return loudness_chart(curve, timeline, target=target) if curve else None
