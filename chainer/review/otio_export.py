"""timeline.otio, timeline.fcpxml and timeline.edl: the edit as assembled, for an editor.

All three are written from the one :class:`~chainer.timeline.Timeline`. The OTIO file has one
video track and, when the film has sound, one audio track (clips without sound are gaps there),
one clip per shot referencing the file the assembly read by an absolute ``file://`` URL, with
exactly the frames the assembly kept (``source_range``, rational time at the output rate), and a
dissolve at every crossfaded cut. A crossfade of N frames is placed centred on the cut
(``in_offset`` = N//2 before it from the incoming clip's head, ``out_offset`` = the rest after it
from the outgoing clip's tail), so the clips' durations add up to the final video's length
exactly. FCPXML and EDL: :mod:`chainer.review.editors`.
"""
from __future__ import annotations

import os
from pathlib import Path

import opentimelineio as otio

from ..timeline import Timeline
from .editors import cuts, media_path, write_edl, write_fcpxml

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange


def build_otio(timeline: Timeline, run_dir: str | os.PathLike, *, name: str = "chainer",
               metadata: dict | None = None, shots: dict[str, dict] | None = None
               ) -> otio.schema.Timeline:
    """``shots``: {shot id: summary.json shot} for per-clip metadata (task, model, seed, prompt)."""
    rate = float(timeline.fps)
    entries = timeline.entries
    c = cuts(timeline)
    tl = otio.schema.Timeline(name=name, global_start_time=RT(0, rate))
    tl.metadata["chainer"] = dict(metadata or {}, fps=f"{timeline.fps.numerator}/"
                                  f"{timeline.fps.denominator}", frames=timeline.frames,
                                  output=timeline.output)
    kinds = [otio.schema.TrackKind.Video] + ([otio.schema.TrackKind.Audio] if timeline.audio else [])
    for kind in kinds:
        audio_track = kind == otio.schema.TrackKind.Audio
        track = otio.schema.Track(name="A1" if audio_track else "V1", kind=kind)
        for i, e in enumerate(entries):
            length = c[i + 1] - c[i]
            if audio_track and not e.audio:
                track.append(otio.schema.Gap(source_range=TR(RT(0, rate), RT(length, rate))))
                continue
            if i and e.overlap > 0 and (not audio_track or entries[i - 1].audio):
                before = e.overlap // 2
                track.append(otio.schema.Transition(
                    name=f"{entries[i - 1].shot_id} > {e.shot_id}",
                    transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                    in_offset=RT(before, rate), out_offset=RT(e.overlap - before, rate),
                    metadata={"chainer": {"transition": e.transition_in}}))
            ref = otio.schema.ExternalReference(
                target_url=media_path(timeline, run_dir, e).as_uri(),
                available_range=TR(RT(0, rate), RT(e.frames_in, rate)))
            ref.metadata["chainer"] = {"relative_path": e.clip}
            start_in_file = e.head + (c[i] - e.start)
            clip = otio.schema.Clip(name=e.shot_id, media_reference=ref,
                                    source_range=TR(RT(start_in_file, rate), RT(length, rate)))
            shot = (shots or {}).get(e.shot_id) or {}
            clip.metadata["chainer"] = {
                "shot_id": e.shot_id, "title": e.title, "chained": e.chained,
                "transition_in": e.transition_in, "task_id": shot.get("task_id"),
                "model": shot.get("model"), "seed": shot.get("seed"), "prompt": shot.get("prompt"),
                "head_trim_frames": e.head, "tail_trim_frames": e.tail, "kept_frames": e.kept,
                "audio": e.audio, "size": [e.width, e.height], "original_clip": e.original}
            if not audio_track:   # a chapter marker where the shot begins
                clip.markers.append(otio.schema.Marker(
                    name=e.title, marked_range=TR(clip.source_range.start_time, RT(0, rate)),
                    color=otio.schema.MarkerColor.GREEN))
            track.append(clip)
        tl.tracks.append(track)
    return tl


def write_otio(timeline: Timeline, run_dir: str | os.PathLike, *, name: str = "chainer",
               extra_formats: bool = True, metadata: dict | None = None,
               shots: dict[str, dict] | None = None) -> tuple[dict[str, Path], dict[str, str]]:
    """Write timeline.otio (+ timeline.fcpxml and timeline.edl) into ``run_dir``.

    Returns ({format: path}, {format: reason it was skipped})."""
    run_dir = Path(run_dir)
    tl = build_otio(timeline, run_dir, name=name, metadata=metadata, shots=shots)
    written: dict[str, Path] = {}
    skipped: dict[str, str] = {}
    path = run_dir / "timeline.otio"
    otio.adapters.write_to_file(tl, str(path))
    written["otio"] = path
    if not extra_formats:
        return written, skipped
    for key, filename, writer in (("fcpxml", "timeline.fcpxml", write_fcpxml),
                                  ("edl", "timeline.edl", write_edl)):
        target = run_dir / filename
        try:
            written[key] = writer(timeline, run_dir, target, name=name)
        except Exception as exc:  # noqa: BLE001 - an optional format never fails the review
            skipped[key] = f"{type(exc).__name__}: {exc}"
            target.unlink(missing_ok=True)
    return written, skipped
