"""timeline.fcpxml (Final Cut Pro X / Resolve / Premiere) and timeline.edl (CMX 3600), written
straight from the one :class:`~chainer.timeline.Timeline`.

Both are written here rather than through OTIO's adapter plugins: the FCPXML adapter keys
formats by frame rate only (clips of another size were put under the sequence's format), drops
transitions, decides ``hasAudio`` once for all clips and builds XPath queries from file names (a
run directory with an apostrophe in its name failed the export).

Media are referenced by absolute ``file://`` URLs (FCPXML) and absolute paths (EDL comments),
computed when the review is written, so they point at the run directory where it is now.
Per clip: its own format (size), its own audio flag, its exact kept frames; crossfades are
dissolves of the timeline's overlap length. Rational times are exact (frames · fps⁻¹).
"""
from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

from ..timeline import Entry, Timeline


def media_path(timeline: Timeline, run_dir: str | os.PathLike, e: Entry) -> Path:
    """The absolute path of an entry's clip (the run directory where it is now)."""
    return Path(os.path.abspath(timeline.path(run_dir, e.clip)))


def _t(frames: int, fps: Fraction) -> str:
    """FCPXML rational time of ``frames`` frames: "N/Ds" (exact), "0s" for zero."""
    if frames == 0:
        return "0s"
    v = Fraction(frames) * fps.denominator / fps.numerator
    return f"{v.numerator}s" if v.denominator == 1 else f"{v.numerator}/{v.denominator}s"


def cuts(timeline: Timeline) -> list[int]:
    """Output frame where each entry's clip starts on a single track (a crossfade's cut point is
    centred in its overlap), plus the end."""
    out = [0 if i == 0 else e.start + e.overlap // 2 for i, e in enumerate(timeline.entries)]
    return out + [timeline.frames]


def build_fcpxml(timeline: Timeline, run_dir: str | os.PathLike, *, name: str = "chainer") -> str:
    fps = timeline.fps
    frame_dur = _t(1, fps)
    root = ET.Element("fcpxml", version="1.8")
    res = ET.SubElement(root, "resources")
    formats: dict[tuple[int, int], str] = {}
    ids = iter(range(1, 10 ** 9))

    def fmt(w: int, h: int) -> str:
        if (w, h) not in formats:
            fid = f"r{next(ids)}"
            formats[(w, h)] = fid
            ET.SubElement(res, "format", id=fid, name=f"FFVideoFormat{w}x{h}",
                          frameDuration=frame_dur, width=str(w), height=str(h))
        return formats[(w, h)]

    seq_fmt = fmt(timeline.width, timeline.height)
    assets: dict[str, str] = {}
    for e in timeline.entries:
        if e.clip in assets:
            continue
        aid = f"r{next(ids)}"
        assets[e.clip] = aid
        attrs = {"id": aid, "name": e.shot_id, "src": media_path(timeline, run_dir, e).as_uri(),
                 "start": "0s", "duration": _t(e.frames_in, fps), "hasVideo": "1",
                 "format": fmt(e.width or timeline.width, e.height or timeline.height),
                 "hasAudio": "1" if e.audio else "0"}
        ET.SubElement(res, "asset", attrs)
    dissolve = None
    if any(i and e.overlap > 0 for i, e in enumerate(timeline.entries)):
        # UNCONFIRMED: the FxPlug uid Final Cut Pro writes for its built-in Cross Dissolve (as
        # seen in FCPXML exports); importers without it fall back to their default dissolve.
        dissolve = f"r{next(ids)}"
        ET.SubElement(res, "effect", id=dissolve, name="Cross Dissolve",
                      uid="FxPlug:4731E73A-8DAC-4113-9A30-AE85B1761265")
    library = ET.SubElement(root, "library")
    event = ET.SubElement(library, "event", name=name)
    project = ET.SubElement(event, "project", name=name)
    seq = ET.SubElement(project, "sequence", format=seq_fmt, duration=_t(timeline.frames, fps),
                        tcStart="0s", tcFormat="NDF", audioLayout="stereo", audioRate="48k")
    spine = ET.SubElement(seq, "spine")
    c = cuts(timeline)
    for i, e in enumerate(timeline.entries):
        if i and e.overlap > 0:
            tr = ET.SubElement(spine, "transition", name="Cross Dissolve",
                               offset=_t(e.start, fps), duration=_t(e.overlap, fps))
            ET.SubElement(tr, "filter-video", ref=dissolve, name="Cross Dissolve")
        start_in_file = e.head + (c[i] - e.start)
        clip = ET.SubElement(spine, "asset-clip", name=e.title, ref=assets[e.clip],
                             offset=_t(c[i], fps), start=_t(start_in_file, fps),
                             duration=_t(c[i + 1] - c[i], fps),
                             format=fmt(e.width or timeline.width, e.height or timeline.height),
                             tcFormat="NDF")
        ET.SubElement(clip, "marker", start=_t(start_in_file, fps), duration=frame_dur,
                      value=e.title)
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE fcpxml>\n' + body + "\n"


def _tc(frames: int, rate: int) -> str:
    s, f = divmod(max(0, frames), rate)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    return f"{h:02d}:{m:02d}:{s:02d}:{f:02d}"


def _reels(timeline: Timeline) -> dict[str, str]:
    """One 8-character reel name per source file: the shot id, upper case, unique."""
    reels: dict[str, str] = {}
    for n, e in enumerate(timeline.entries):
        if e.clip in reels:
            continue
        base = re.sub(r"[^A-Za-z0-9]", "", e.shot_id).upper() or "SHOT"
        reel = base[:8]
        if reel in reels.values():
            reel = f"{base[:5]}{n + 1:03d}"
        reels[e.clip] = reel
    return reels


def build_edl(timeline: Timeline, run_dir: str | os.PathLike, *, name: str = "chainer") -> str:
    """CMX 3600: one event per entry (video, plus ``AA`` when the clip has audio), a dissolve
    event (``D`` + frames) into every crossfaded entry. Timecode at the nominal integer rate."""
    rate = max(1, round(float(timeline.fps)))
    reels = _reels(timeline)
    entries = timeline.entries
    title = re.sub(r"[\r\n]+", " ", name).strip() or "chainer"
    lines = [f"TITLE: {title}", "FCM: NON-DROP FRAME", ""]
    for i, e in enumerate(entries):
        n = i + 1
        rec_in = e.start
        rec_out = entries[i + 1].start if i + 1 < len(entries) else timeline.frames
        src_in = e.head
        src_out = src_in + (rec_out - rec_in)
        ch = "AA/V" if e.audio and timeline.audio else "V"
        reel = reels[e.clip]
        if i and e.overlap > 0:
            a = entries[i - 1]
            a_out = a.head + (rec_in - a.start)
            a_ch = "AA/V" if a.audio and timeline.audio else "V"
            lines.append(f"{n:03d}  {reels[a.clip]:<8} {a_ch:<5} C        "
                         f"{_tc(a_out, rate)} {_tc(a_out, rate)} {_tc(rec_in, rate)} {_tc(rec_in, rate)}")
            lines.append(f"{n:03d}  {reel:<8} {ch:<5} D    {e.overlap:03d} "
                         f"{_tc(src_in, rate)} {_tc(src_out, rate)} {_tc(rec_in, rate)} {_tc(rec_out, rate)}")
            lines.append(f"* FROM CLIP NAME:  {a.title}")
            lines.append(f"* TO CLIP NAME:  {e.title}")
            lines.append(f"* SOURCE FILE: {media_path(timeline, run_dir, e)}")
        else:
            lines.append(f"{n:03d}  {reel:<8} {ch:<5} C        "
                         f"{_tc(src_in, rate)} {_tc(src_out, rate)} {_tc(rec_in, rate)} {_tc(rec_out, rate)}")
            lines.append(f"* FROM CLIP NAME:  {e.title}")
            lines.append(f"* SOURCE FILE: {media_path(timeline, run_dir, e)}")
        lines.append("")
    return "\n".join(lines)


def write_fcpxml(timeline: Timeline, run_dir: str | os.PathLike, path: str | os.PathLike, *,
                 name: str = "chainer") -> Path:
    path = Path(path)
    path.write_text(build_fcpxml(timeline, run_dir, name=name), encoding="utf-8")
    return path


def write_edl(timeline: Timeline, run_dir: str | os.PathLike, path: str | os.PathLike, *,
              name: str = "chainer") -> Path:
    path = Path(path)
    path.write_text(build_edl(timeline, run_dir, name=name), encoding="utf-8")
    return path
