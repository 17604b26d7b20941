"""``chainer stitch``: assemble clips into one seamless video (thin wrapper over media.stitch)."""
from __future__ import annotations

import contextlib
import json

import click

from ..errors import InputError


def _loudness(value: str) -> float | None:
    if value.strip().lower() in ("off", "none", "no"):
        return None
    try:
        v = float(value)
    except ValueError:
        raise InputError(f"--loudness: {value!r} is not a number of LUFS or 'off' (e.g. -16)") from None
    if not -70 <= v <= -5:
        raise InputError(f"--loudness: {v:g} LUFS is out of range -70..-5")
    return v


@click.command("stitch")
@click.argument("clips", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False),
              help="Output MP4 (written atomically).")
@click.option("--seam", type=click.Choice(["auto", "dedupe", "keep"]), default="auto", show_default=True,
              help="At chained seams: auto drops the duplicated frame when the previous clip's last "
                   "frame and this clip's first frame match by decoded pixels; dedupe always drops "
                   "one; keep drops nothing.")
@click.option("--transition", default="cut", show_default=True,
              help="How clips are joined at CUTS: cut, crossfade:SEC or fade:SEC (through black). "
                   "Chained seams are always seamless.")
@click.option("--cut-before", "cut_before", multiple=True, type=int, metavar="INDEX",
              help="Mark clip INDEX (0-based) as the start of a new scene (a cut, not a chained "
                   "seam). Repeatable. Without it every clip continues the previous one.")
@click.option("--loudness", default="-16", show_default=True,
              help="Integrated loudness target in LUFS (true peak <= -1.5 dBTP), or 'off'.")
@click.option("--chapters/--no-chapters", default=True, show_default=True,
              help="One MP4 chapter per clip.")
@click.option("--target", default=None, metavar="WxH[@FPS]",
              help="Output format; default: the first clip's.")
@click.option("--json", "as_json", is_flag=True, help="Print the full result as JSON.")
def command(clips, output, seam, transition, cut_before, loudness, chapters, target, as_json):
    """Stitch CLIP... into OUTPUT: seamless at chained seams, audio on, near stream-copy speed.

    Clips are treated as one chain (each clip's first frame continues the previous clip's last
    frame) unless --cut-before marks scene cuts; --transition applies at those cuts only.
    With --seam keep every frame is kept.

    \b
    Examples:
      chainer stitch clips/*.mp4 -o film.mp4
      chainer stitch a.mp4 b.mp4 c.mp4 --cut-before 2 --transition crossfade:0.5 -o film.mp4
    """
    from pathlib import Path

    from ..media.stitch import Segment, stitch

    cuts = set(cut_before)
    bad = [i for i in cuts if not 0 <= i < len(clips)]
    if bad:
        raise InputError(f"--cut-before: index {bad[0]} is out of range 0..{len(clips) - 1}")
    segments = [Segment(path=c, shot_id=Path(c).stem, chained=i > 0 and i not in cuts,
                        title=Path(c).stem) for i, c in enumerate(clips)]
    from ..run.lock import RunLock, run_dir_of

    owner = run_dir_of(Path(output))            # writing into a run dir: own it meanwhile
    lock = RunLock(owner, "stitch") if owner is not None else contextlib.nullcontext()
    with lock:
        res = stitch(segments, output, seam=seam, transition=transition,
                     loudness=_loudness(loudness), chapters=chapters, target=target)
    if as_json:
        click.echo(json.dumps(res.to_dict(), indent=2))
        return
    d = res.to_dict()
    paths = ", ".join(f"{n} {k}" for k, n in d["paths"].items())
    dropped = sum(s.head_trim + s.tail_trim for s in res.segments)
    click.echo(f"{res.output}: {res.frames} frames, {res.duration:.3f} s video, "
               f"{res.audio_duration:.3f} s audio, {res.width}x{res.height}@{res.fps:g}")
    click.echo(f"  segments: {len(res.segments)} ({paths}); duplicate frames dropped: {dropped}; "
               f"took {res.timings['total']:.2f} s")
    for note in res.notes:
        click.echo(f"  note: {note}")
