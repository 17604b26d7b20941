"""A render's last steps, once every clip is verified: drift guard, assembly, review.

The orchestrator calls three functions:

- :func:`assemble_run` joins the run's clips into the output film (after the drift guard, which
  may substitute graded copies) and writes ``timeline.json`` (the one edit, paths relative to the
  run dir); an unchanged assembly is not redone. Any failure comes back as
  :class:`AssemblyFailed` (journalled, one line, the clips untouched);
- :func:`write_run_review` writes the review outputs from ``summary.json`` + ``timeline.json``
  (never fatal: the film already exists);
- :func:`assemble` (the stitch call itself) is usable on its own.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from ..errors import ChainerError
from ..timeline import TIMELINE_FILE, Timeline, TimelineError
from .download import sha256_file

class AssemblyFailed(ChainerError):
    """The drift guard or the stitch raised; the message is the one line the user sees."""

    def __init__(self, message: str, step: str):
        super().__init__(message)
        self.step = step


@dataclass
class Assembled:
    output: Path                 # the film (under the run dir)
    stitch: dict                 # assembly facts for summary.json (no edit: see ``timeline``)
    timeline: Timeline           # paths relative to the run dir


def output_path(plan, run_dir: Path) -> Path:
    sb = plan.storyboard
    return Path(run_dir) / (sb.output.file or f"{sb.source.stem}.mp4")


def stitch_facts(result, output_name: str) -> dict:
    """What summary.json keeps of a StitchResult: the numbers, and a pointer to the edit."""
    data = result.to_dict()
    data.pop("segments", None)
    data["output"] = output_name
    data["timeline"] = TIMELINE_FILE
    return data


def assemble(plan, clips, out: Path, *, progress: Callable[[int, int], None] | None = None,
             **options):
    """Join ``clips`` ([(PlannedShot, path)], storyboard order) into ``out`` with
    :func:`chainer.media.stitch.stitch` (chained seams de-duplicated, transitions at cuts,
    loudness and chapters per the storyboard's ``output``); returns the ``StitchResult``. The
    output appears under its name only when complete. ``progress(done, total)``: the stitcher's
    segments decided so far."""
    from ..media.stitch import Segment, stitch
    from .finishing import finish_film, music_plan, shot_texts, subtitles_mode

    sb = plan.storyboard
    segments = []
    for k, (s, path) in enumerate(clips):
        extends = s.chained_from is not None and getattr(s, "chain", "last_frame") == "extend" and k > 0
        # an extension holds only new content; trim frames a provider returned repeating the
        # previous clip's end (a held or duplicated frame at the seam)
        trim = _held_head(clips[k - 1][1], path) if extends else 0
        segments.append(Segment(path, s.id, s.chained_from is not None and not extends,
                                title=s.name, transition=s.transition, extends=extends,
                                head_trim=trim))
    bed, modes = music_plan(sb)
    soft = subtitles_mode(sb) == "soft"
    opts = {"transition": sb.transition, "loudness": sb.output.loudness,
            "chapters": sb.output.chapters,
            "captions": shot_texts(sb) if soft else None,
            "subtitle_language": getattr(sb.output, "language", None),
            "music": bed, "music_modes": modes, **options}
    if progress is not None:
        opts["progress"] = progress
    tmp = out.with_name(f".{out.stem}.partial{out.suffix}")
    result = stitch(segments, tmp, **opts)
    if result.timeline is not None:
        # NAME.srt / NAME.vtt beside the film; burn-in re-encodes the picture (soft: the MP4
        # writer already added the subtitle track)
        finish_film(sb, result.timeline, tmp, soft_track_written=soft)
        for ext in (".srt", ".vtt"):
            if tmp.with_suffix(ext).exists():
                os.replace(tmp.with_suffix(ext), out.with_suffix(ext))
    os.replace(tmp, out)
    if result.timeline is not None:
        result.timeline = replace(result.timeline, output=str(out))
    return result


def _held_head(prev: Path, clip: Path) -> int:
    from ..review.takes import held_head

    return held_head(prev, clip)


def drift_guard(plan, run_dir: Path, clips, message: Callable[[str], None]):
    """Measure colour drift per sequence; with ``drift_guard: match`` return graded copies
    (``graded/<shot>.mp4``) in place of the downloaded clips, which stay untouched."""
    mode = plan.storyboard.drift_guard
    if mode == "off":
        return clips
    from ..review import GRADED_DIR, apply_drift_guard

    if mode == "match":
        message("drift guard: matching colour to each sequence's first shot")
    def graded(done: int, total: int, shot_id: str, action: str) -> None:
        if action != "grading":
            message(f"drift guard: {shot_id} {action} ({done}/{total})")

    # a shot with a requested last frame (last_image) keeps it: its correction blends to zero there
    guard = apply_drift_guard([(s.id, s.sequence, path) for s, path in clips],
                              Path(run_dir) / GRADED_DIR, mode=mode, base_dir=run_dir,
                              bookends={s.id for s, _ in clips if s.last_image},
                              progress=graded if mode == "match" else None)
    return [(s, Path(guard[s.id].clip) if s.id in guard else path) for s, path in clips]


def assemble_run(plan, run_dir: Path, journal, downloaded: dict[str, tuple[Path, str | None]], *,
                 message: Callable[[str], None], options: dict | None = None,
                 step: Callable[[str, float, float, str], None] | None = None) -> Assembled:
    """Drift guard + stitch + ``timeline.json`` for a run whose clips are all verified.

    ``downloaded``: {shot id: (its downloaded clip, the clip's sha256)} (the sha decides whether a
    previous assembly is still the right one). ``step(name, done, total, unit)``: progress of the
    long local steps ("colour matching", "assembly"; see
    :meth:`chainer.run.progress.Progress.step`). Raises :class:`AssemblyFailed`."""
    def stepper(name: str, unit: str):
        return None if step is None else (lambda done, total: step(name, done, total, unit))

    run_dir = Path(run_dir)
    options = dict(options or {})
    stage = "assembly"
    try:
        sb = plan.storyboard
        out = output_path(plan, run_dir)
        clips = [(s, Path(downloaded[s.id][0])) for s in plan.shots]
        fingerprint = json.dumps({"clips": [[s.id, downloaded[s.id][1], s.chained_from is not None,
                                             getattr(s, "chain", None),
                                             s.name, s.transition] for s, _ in clips],
                                  "output": sb.output.model_dump(), "transition": sb.transition,
                                  "drift_guard": sb.drift_guard, "timeline": 1,
                                  "finishing": [[s.id, s.caption, s.dialogue, s.music]
                                                for s in sb.shots],
                                  "options": options}, sort_keys=True, default=str)
        prev = journal.get_meta("assembly")
        if prev and prev.get("fingerprint") == fingerprint and out.exists() \
                and sha256_file(out) == prev.get("sha"):
            try:
                timeline = Timeline.load(run_dir)
            except TimelineError:
                timeline = None
            if timeline is not None:
                message(f"output {out} is up to date")
                return Assembled(out, prev.get("stitch") or {}, timeline)
        stage = "drift guard (colour measure before assembly)"
        matching = stepper("colour matching", "shots") if sb.drift_guard == "match" else None
        if matching is not None:      # (per shot once the drift guard reports its grading)
            matching(0, len(clips))
        used = drift_guard(plan, run_dir, clips, message)
        if matching is not None:
            matching(len(clips), len(clips))
        stage = "assembly"
        message(f"assembling {len(used)} clips -> {out}")
        result = assemble(plan, used, out, progress=stepper("assembly", "clips"), **options)
        originals = {s.id: str(c) for s, c in clips}
        tl = result.timeline
        tl = replace(tl, entries=tuple(
            replace(e, original=originals[e.shot_id])
            if os.path.abspath(e.clip) != os.path.abspath(originals[e.shot_id]) else e
            for e in tl.entries))
        timeline = tl.relative_to(run_dir)
        timeline.write(run_dir)
        facts = stitch_facts(result, out.name)
        journal.set_meta("assembly", {"fingerprint": fingerprint, "sha": sha256_file(out),
                                      "stitch": facts})
        return Assembled(out, facts, timeline)
    except Exception as exc:  # noqa: BLE001 - becomes one line; the clips are safe
        raise _failed(plan, run_dir, journal, exc, stage) from exc


def _failed(plan, run_dir: Path, journal, exc: Exception, step: str) -> AssemblyFailed:
    """Journal a failed assembly, remove its partial file, and word it for the user. A re-run
    reuses every clip and retries the assembly only."""
    out = output_path(plan, run_dir)
    out.with_name(f".{out.stem}.partial{out.suffix}").unlink(missing_ok=True)
    first = (str(exc).strip().splitlines() or [""])[0]
    if isinstance(exc, ChainerError):
        what = first or type(exc).__name__
    else:
        what = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    journal.event(None, "assembly-failed", {"step": step, "error": what,
                                            "type": type(exc).__name__})
    msg = (f"{step} failed: {what}; all {len(plan.shots)} clips are downloaded and "
           f"verified in {Path(run_dir) / 'clips'}; re-running the same command retries the "
           "assembly only (nothing is resubmitted)")
    return AssemblyFailed(msg, step)


def write_run_review(plan, run_dir: Path, summary: dict, *, message: Callable[[str], None],
                     problem: Callable[[str], None],
                     step: Callable[[str, float, float, str], None] | None = None) -> None:
    """Write the review outputs (contact sheet, report, prompt sheet, chapters, editor
    timelines). The video is already complete; a failure here is reported, not fatal.
    ``step``: as for :func:`assemble_run` ("review", clips decoded)."""
    from ..review import write_review

    progress = None if step is None else (lambda done, total: step("review", done, total, "clips"))
    try:
        written = write_review(run_dir, summary, drift_guard=plan.storyboard.drift_guard,
                               loudness_target=plan.storyboard.output.loudness,
                               progress=progress)
    except Exception as exc:  # noqa: BLE001 - review must never cost the user the render
        problem(f"review outputs could not be written: {exc}")
        return
    message("review: " + ", ".join(sorted(Path(p).name for p in written.values())))
