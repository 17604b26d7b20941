"""Timelines for the finishing tests, built with the product's Timeline type (chainer.timeline)."""
from __future__ import annotations

from fractions import Fraction

from chainer.timeline import Entry, Timeline


def timeline(fps, rows, *, frames=None, width=320, height=240):
    """rows: (shot_id, frames_in, head, tail, transition_in, overlap); starts are computed the way
    the assembly lays entries out (start = previous end - overlap)."""
    fps = Fraction(fps)
    entries, start = [], 0
    for k, (sid, frames_in, head, tail, tr, overlap) in enumerate(rows):
        kept = frames_in - head - tail
        start = start - overlap if k else 0
        kw = dict(shot_id=sid, title=sid, clip=f"clips/{sid}.mp4", frames_in=frames_in, head=head,
                  tail=tail, kept=kept, start=start, transition_in=tr, overlap=overlap, audio=True,
                  width=width, height=height)
        entries.append(Entry(**kw))
        start += kept
    total = frames if frames is not None else start
    kw = dict(fps=fps, frames=total, width=width, height=height, output="film.mp4", audio=True,
              entries=tuple(entries))
    return Timeline(**kw)


def timeline_from_stitch(res, fps, *, width, height):
    """The timeline of a StitchResult, entry by entry (head/tail trims, kept frames, starts in
    frames). Stands in for the timeline the assembly writes once the timeline branch is merged:
    the same numbers, read off the stitcher's own result."""
    fps = Fraction(fps)
    entries, prev_end = [], 0
    for s in res.segments:
        start = round(Fraction(s.start).limit_denominator(10**6) * fps)
        kw = dict(shot_id=s.shot_id, title=s.shot_id, clip=str(s.path), frames_in=s.frames_in,
                  head=s.head_trim, tail=s.tail_trim, kept=s.frames_kept, start=start,
                  transition_in=s.transition_in or "cut", overlap=max(0, prev_end - start),
                  audio=bool(s.audio), width=width, height=height)
        entries.append(Entry(**kw))
        prev_end = start + s.frames_kept
    kw = dict(fps=fps, frames=res.frames, width=width, height=height, output=str(res.output),
              audio=True, entries=tuple(entries))
    return Timeline(**kw)
