"""``chainer stitch``: assemble clips into one seamless video (thin wrapper over media.stitch).

``chainer stitch CLIP... -o OUT`` joins files (one chain unless ``--cut-before`` marks cuts, each
with its own transition if given); ``chainer stitch RUN_DIR -o OUT`` rebuilds a render's film
from the run's ``timeline.json``: the same clips, order, chained seams and transitions."""
from __future__ import annotations

import contextlib
import json
from pathlib import Path

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


def _cuts(values: tuple[str, ...], n: int) -> dict[int, str | None]:
    """``--cut-before N`` / ``N=TRANSITION`` -> {0-based index: transition text or None}."""
    from ..transitions import parse_transition

    out: dict[int, str | None] = {}
    for v in values:
        num, _, tr = v.partition("=")
        try:
            k = int(num)
        except ValueError:
            raise InputError(f"--cut-before: {v!r} is not N or N=TRANSITION (e.g. 3 or "
                             "3=crossfade:0.5)") from None
        if not 2 <= k <= n:
            raise InputError(f"--cut-before: clip {k} is out of range 2..{n} (clips are "
                             "numbered from 1; the first clip starts the film)")
        if tr:
            parse_transition(tr, where=f"--cut-before {k}")
        out[k - 1] = tr or None
    return out


def _from_run_dir(run_dir: Path):
    """Segments (clips relative to the run dir, order, chained seams, transitions) from the
    run's timeline.json."""
    from ..media.stitch import Segment
    from ..timeline import TIMELINE_FILE, Timeline, TimelineError

    try:
        tl = Timeline.load(run_dir)
    except TimelineError as exc:
        raise InputError(str(exc)) from None
    if tl is None:
        raise InputError(f"{run_dir / TIMELINE_FILE}: not found (was {run_dir} assembled? "
                         "`chainer render` writes it when the film is assembled)")
    if not tl.entries:
        raise InputError(f"{run_dir / TIMELINE_FILE}: entries: empty (nothing to stitch)")
    return [Segment(path=tl.path(run_dir, e.clip), shot_id=e.shot_id, chained=e.chained,
                    title=e.title, transition=None if e.chained else e.transition_in)
            for e in tl.entries]


@click.command("stitch")
@click.argument("clips", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False),
              help="Output MP4 (written atomically).")
@click.option("--seam", type=click.Choice(["auto", "dedupe", "keep"]), default="auto", show_default=True,
              help="At chained seams: auto drops the duplicated frame when the previous clip's last "
                   "frame and this clip's first frame match by decoded pixels (and says so when "
                   "they do not); dedupe always drops one; keep drops nothing.")
@click.option("--transition", default="cut", show_default=True,
              help="How clips are joined at CUTS without their own transition: cut, "
                   "crossfade:SEC or fade:SEC (through black). Chained seams are always seamless.")
@click.option("--cut-before", "cut_before", multiple=True, metavar="N[=TRANSITION]",
              help="Clip N (numbered from 1) starts a new scene: a cut, not a chained seam, "
                   "entered with TRANSITION when given (else --transition). Repeatable. Without "
                   "it every clip continues the previous one. Not with a RUN_DIR.")
@click.option("--loudness", default="-16", show_default=True,
              help="Integrated loudness target in LUFS (true peak <= -1.5 dBTP), or 'off'.")
@click.option("--chapters/--no-chapters", default=True, show_default=True,
              help="One MP4 chapter per clip.")
@click.option("--target", default=None, metavar="WxH[@FPS]",
              help="Output format; default: the first clip's.")
@click.option("--json", "as_json", is_flag=True, help="Print the full result as JSON.")
def command(clips, output, seam, transition, cut_before, loudness, chapters, target, as_json):
    """Stitch CLIP... (or the film of RUN_DIR) into OUTPUT: seamless at chained seams, audio on,
    near stream-copy speed.

    Clips are treated as one chain (each clip's first frame continues the previous clip's last
    frame) unless --cut-before marks scene cuts; --transition applies at cuts without their own.
    With --seam keep every frame is kept. Given a single RUN_DIR (a `chainer render` run
    directory), the clips, their order, chained seams and transitions come from its
    timeline.json.

    \b
    Examples:
      chainer stitch clips/*.mp4 -o film.mp4
      chainer stitch a.mp4 b.mp4 c.mp4 --cut-before 3=crossfade:0.5 -o film.mp4
      chainer stitch renders/demo -o demo-again.mp4
    """
    from ..media.stitch import Segment, stitch

    if len(clips) == 1 and Path(clips[0]).is_dir():
        if cut_before:
            raise InputError("--cut-before: not with a RUN_DIR (its timeline.json says where "
                             "the cuts are)")
        segments = _from_run_dir(Path(clips[0]))
    else:
        for c in clips:
            if Path(c).is_dir():
                raise InputError(f"{c}: a directory; give clips, or one run directory alone")
        cuts = _cuts(cut_before, len(clips))
        segments = [Segment(path=c, shot_id=Path(c).stem, chained=i > 0 and i not in cuts,
                            title=Path(c).stem, transition=cuts.get(i))
                    for i, c in enumerate(clips)]
    from ..run.lock import RunLock, run_dir_of

    owner = run_dir_of(Path(output))            # writing into a run dir: own it meanwhile
    lock = RunLock(owner, "stitch") if owner is not None else contextlib.nullcontext()
    with lock:
        res = stitch(segments, output, seam=seam, transition=transition,
                     loudness=_loudness(loudness), chapters=chapters, target=target)
    d = res.to_dict()
    if as_json:
        if res.timeline is not None:
            d["timeline"] = res.timeline.relative_to(Path(output).parent).to_dict()
        click.echo(json.dumps(d, indent=2))
        return
    paths = ", ".join(f"{n} {k}" for k, n in d["paths"].items())
    dropped = sum(s.head_trim + s.tail_trim for s in res.segments)
    click.echo(f"{res.output}: {res.frames} frames, {res.duration:.3f} s video, "
               f"{res.audio_duration:.3f} s audio, {res.width}x{res.height}@{res.fps:g}")
    click.echo(f"  segments: {len(res.segments)} ({paths}); duplicate frames dropped: {dropped}; "
               f"took {res.timings['total']:.2f} s")
    for note in res.notes:
        click.echo(f"  note: {note}")
