"""timeline.otio (and, when the adapters are installed, timeline.fcpxml / timeline.edl).

One video track (plus a matching audio track when the clips carry sound) with one clip per shot,
each referencing the file the assembly read, with exactly the frames the assembly kept
(``source_range``, rational time at the output rate) and a dissolve at every crossfaded cut.
A crossfade of N frames is placed centred on the cut (``in_offset`` = N//2 before it from the
incoming clip's head, ``out_offset`` = the rest after it from the outgoing clip's tail), so the
clips' durations add up to the final video's length exactly, as in the rendered file.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import opentimelineio as otio

from .timeline import Timeline

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange

# OTIO adapter name -> (plugin package on PyPI, file name)
EXTRA_FORMATS = {"fcpx_xml": ("otio-fcpx-xml-adapter", "timeline.fcpxml"),
                 "cmx_3600": ("otio-cmx3600-adapter", "timeline.edl")}


def _has_audio(path: Path) -> bool:
    from ..media.probe import probe

    try:
        return probe(path).audio is not None
    except Exception:  # noqa: BLE001
        return False


def _cuts(timeline: Timeline) -> list[int]:
    """Output frame where each entry's clip begins on the track (crossfades centred)."""
    cuts = []
    for i, e in enumerate(timeline.entries):
        cuts.append(0 if i == 0 else e.start + e.overlap // 2)
    return cuts


def build_otio(timeline: Timeline, *, name: str = "chainer", run_dir: str | os.PathLike | None = None,
               audio: bool | None = None, metadata: dict | None = None) -> otio.schema.Timeline:
    rate = float(timeline.fps)
    entries = timeline.entries
    cuts = _cuts(timeline) + [timeline.frames]
    tl = otio.schema.Timeline(name=name, global_start_time=RT(0, rate))
    tl.metadata["chainer"] = dict(metadata or {}, fps=rate, frames=timeline.frames,
                                  output=str(timeline.output) if timeline.output else None)
    if audio is None:
        audio = bool(entries) and _has_audio(entries[0].path)
    kinds = [otio.schema.TrackKind.Video] + ([otio.schema.TrackKind.Audio] if audio else [])
    for kind in kinds:
        track = otio.schema.Track(name="V1" if kind == otio.schema.TrackKind.Video else "A1",
                                  kind=kind)
        for i, e in enumerate(entries):
            if i and e.overlap > 0:
                before = e.overlap // 2
                track.append(otio.schema.Transition(
                    name=f"{entries[i - 1].shot_id} > {e.shot_id}",
                    transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                    in_offset=RT(before, rate), out_offset=RT(e.overlap - before, rate),
                    metadata={"chainer": {"transition": e.transition_in}}))
            path = e.path.resolve() if e.path.exists() else e.path
            ref = otio.schema.ExternalReference(
                target_url=path.as_uri() if path.is_absolute() else str(path),
                available_range=TR(RT(0, rate), RT(e.frames_in, rate)))
            rel = None
            if run_dir is not None:
                try:
                    rel = os.path.relpath(path, Path(run_dir).resolve())
                except ValueError:
                    rel = None
            ref.metadata["chainer"] = {"relative_path": rel}
            start_in_file = e.head + (cuts[i] - e.start)
            length = cuts[i + 1] - cuts[i]
            clip = otio.schema.Clip(name=e.shot_id, media_reference=ref,
                                    source_range=TR(RT(start_in_file, rate), RT(length, rate)))
            shot = e.shot or {}
            clip.metadata["chainer"] = {
                "shot_id": e.shot_id, "title": e.title, "sequence": e.sequence,
                "chained": e.chained, "transition_in": e.transition_in,
                "task_id": shot.get("task_id"), "model": shot.get("model"),
                "seed": shot.get("seed"), "prompt": shot.get("prompt"),
                "head_trim_frames": e.head, "kept_frames": e.kept,
                "original_clip": str(e.clip) if e.clip else None}
            if e.transition_in.startswith("fade") and e.overlap == 0:
                clip.metadata["chainer"]["fade_in"] = e.transition_in
            if kind == otio.schema.TrackKind.Video:   # a chapter marker where the shot begins
                clip.markers.append(otio.schema.Marker(
                    name=e.title, marked_range=TR(clip.source_range.start_time, RT(0, rate)),
                    color=otio.schema.MarkerColor.GREEN))
            track.append(clip)
        tl.tracks.append(track)
    return tl


def write_otio(timeline: Timeline, out_dir: str | os.PathLike, *, name: str = "chainer",
               run_dir: str | os.PathLike | None = None, extra_formats: bool = True,
               metadata: dict | None = None) -> tuple[dict[str, Path], dict[str, str]]:
    """Write timeline.otio (+ .fcpxml/.edl when their OTIO adapters are installed).

    Returns ({format: path}, {format: reason it was skipped})."""
    out_dir = Path(out_dir)
    tl = build_otio(timeline, name=name, run_dir=run_dir, metadata=metadata)
    written: dict[str, Path] = {}
    skipped: dict[str, str] = {}
    path = out_dir / "timeline.otio"
    otio.adapters.write_to_file(tl, str(path))
    written["otio"] = path
    if not extra_formats:
        return written, skipped
    available = set(otio.adapters.available_adapter_names())
    for adapter, (package, filename) in EXTRA_FORMATS.items():
        if adapter not in available:
            skipped[adapter] = f"pip install {package} to also write {filename}"
            continue
        target = out_dir / filename
        try:
            if adapter == "cmx_3600":
                _write_edl(tl, target)
            else:
                otio.adapters.write_to_file(tl, str(target), adapter_name=adapter)
            written[adapter] = target
        except Exception as exc:  # noqa: BLE001 - an optional format never fails the review
            skipped[adapter] = f"{type(exc).__name__}: {exc}"
            if target.exists():
                target.unlink()
    return written, skipped


def _write_edl(tl: otio.schema.Timeline, target: Path) -> None:
    """CMX 3600 holds one video track and 8-character reel names: write the video track only."""
    edl = otio.schema.Timeline(name=tl.name, global_start_time=tl.global_start_time)
    edl.tracks.append(tl.video_tracks()[0].clone())
    reels: dict[str, str] = {}
    for n, item in enumerate(c for c in edl.tracks[0] if isinstance(c, otio.schema.Clip)):
        item.markers.clear()
        url = item.media_reference.target_url
        if url not in reels:   # one reel per source file: the shot id, 8 characters, unique
            base = re.sub(r"[^A-Za-z0-9]", "", item.name).upper() or "SHOT"
            reel = base[:8]
            if reel in reels.values():
                reel = f"{base[:5]}{n + 1:03d}"
            reels[url] = reel
        item.metadata["cmx_3600"] = {"reel": reels[url]}
    otio.adapters.write_to_file(edl, str(target), adapter_name="cmx_3600",
                                reelname_len=8, style="avid")
