"""Sequences and scheduling: run every sequence (up to ``concurrency`` at once; shots within one
strictly in order), rewind a sequence whose clip URL expired, stop one sequence without stopping
the others, cancel queued tasks on Ctrl-C when asked, then hand over to the assembly.

The per-shot work is :class:`~chainer.run.shot.ShotMachine`; downloads are
:class:`~chainer.run.fetch.Fetcher`; what may be paid for is :class:`~chainer.run.gate.Gate`.
"""
from __future__ import annotations

import json
import os
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ChainerError
from . import journal as J
from .assess import PAID_ACTIONS, assess, clip_path, frame_ok, local_ok
from .context import Interrupted, RunContext, SequenceStop
from .download import sha256_file
from .fetch import Fetcher
from .shot import ShotMachine


@dataclass
class RenderResult:
    run_dir: Path
    output: Path | None
    summary: dict
    shots: list[dict]
    ok: bool = True
    problems: list[str] = field(default_factory=list)


class Runner:
    def __init__(self, ctx: RunContext, *, concurrency: int, cancel_on_interrupt: bool,
                 stitch_options: dict):
        self.ctx = ctx
        self.concurrency = concurrency
        self.cancel_on_interrupt = cancel_on_interrupt
        self.stitch_options = stitch_options
        self.fetcher = Fetcher(ctx)
        self.shots = ShotMachine(ctx, self.fetcher)
        self._step = "assembly"         # the part of the assembly running (for error messages)

    # names the assembly steps below use
    @property
    def plan(self):
        return self.ctx.plan

    @property
    def run_dir(self) -> Path:
        return self.ctx.run_dir

    @property
    def journal(self) -> J.Journal:
        return self.ctx.journal

    @property
    def current(self) -> dict:
        return self.ctx.current

    @property
    def progress(self):
        return self.ctx.progress

    def _problem(self, text: str) -> None:
        self.ctx.problem(text)

    # ---- top level -------------------------------------------------------------------------
    def run(self) -> RenderResult:
        ctx, plan, prov = self.ctx, self.ctx.plan, self.ctx.provider
        j = ctx.journal
        j.set_meta("storyboard", str(plan.storyboard.source.resolve()))
        j.set_meta("draft", bool(plan.draft))
        j.set_meta("provider", prov.name)
        j.set_meta("base_url", prov.base_url)
        j.set_meta("identity", prov.key_identity)        # the shot keys' provider part
        j.set_meta("provider_identity", prov.identity)   # where this run's tasks live
        j.event(None, "run", {"invocation": ctx.invocation, "provider": prov.name,
                              "base_url": prov.base_url, "identity": prov.identity})
        states = assess(plan, j, ctx.run_dir, prov.key_identity, identity=prov.identity,
                        ephemeral=prov.ephemeral)
        self._preflight(states)
        rows = [{"id": s.id, "sequence": s.sequence, "expected": prov.expected_seconds(s)}
                for s in plan.shots]
        ctx.progress.begin(rows)
        interrupted = False
        failure: ChainerError | None = None
        try:
            try:
                self._run_sequences()
            except KeyboardInterrupt:
                interrupted = True
                ctx.stop.set()
                ctx.progress.message("interrupted: stopping (the journal is consistent; "
                                     "re-run the same command to resume)")
                if self.cancel_on_interrupt:
                    self._cancel_queued()
            output, stitch_result = None, None
            done = all(local_ok(ctx.current.get(s.id), ctx.run_dir, ctx.needs_frame(s))
                       for s in plan.shots)
            if done and not interrupted:
                try:
                    output, stitch_result = self._assemble()
                except Exception as exc:  # noqa: BLE001 - becomes one line; the clips are safe
                    failure = self._assembly_failed(exc)
            from .summary import build_summary, write_summary

            summary = build_summary(plan, j, ctx.run_dir, ctx.current, prov.name,
                                    base_url=prov.base_url, stitch=stitch_result,
                                    output=output, problems=ctx.problems)
            summary["drift_guard"] = plan.storyboard.drift_guard
            write_summary(ctx.run_dir, summary)
            if output is not None:
                self._review(summary)
        finally:
            ctx.progress.end()
        if interrupted:
            raise KeyboardInterrupt
        if failure is not None:
            raise failure
        return RenderResult(ctx.run_dir, output, summary, summary["shots"],
                            ok=output is not None, problems=list(ctx.problems))

    def _preflight(self, states) -> None:
        """The estimate (every paid submission a re-run would make) through the gate."""
        plan = self.ctx.plan
        todo = [plan.shot(s.shot_id) for s in states if s.action in PAID_ACTIONS]
        reused = sum(1 for s in states if s.action == "reuse")
        pending = sum(1 for s in states if s.action in ("poll", "download", "resolve"))
        for s in states:
            if s.action == "elsewhere":
                self.ctx.progress.message(f"{s.shot_id}: {s.reason}")
        self.ctx.gate.preflight(todo, reused=reused, pending=pending)

    def _run_sequences(self) -> None:
        ctx = self.ctx
        self.fetcher.start()
        try:
            with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="seq") as pool:
                futures = {pool.submit(self._sequence, q): q for q in ctx.plan.sequences}
                pending = set(futures)
                try:
                    while pending:
                        done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                        for f in done:
                            exc = f.exception()
                            if exc is not None and not isinstance(exc, (SequenceStop, Interrupted)):
                                q = futures[f]
                                ctx.problem(f"sequence {q.index}: unexpected error: "
                                            f"{type(exc).__name__}: {exc}")
                except KeyboardInterrupt:
                    ctx.stop.set()
                    raise
        finally:
            self.fetcher.shutdown()
            for sid, att in list(ctx.current.items()):
                if att is not None:
                    ctx.current[sid] = ctx.journal.get(att.id)

    # ---- one sequence ----------------------------------------------------------------------
    def _sequence(self, seq) -> None:
        """Render the shots of ``seq`` in order. Before each shot, and at the end, finished
        downloads are checked: a clip whose URL expired sends the sequence back to that shot,
        a clip that cannot be downloaded stops the sequence."""
        ctx = self.ctx
        shots = seq.shots
        i = 0
        while True:
            while i < len(shots):
                shot = shots[i]
                if ctx.stop.is_set():
                    ctx.progress.shot(shot.id, "stopped", "interrupted")
                    return
                try:
                    back = self.fetcher.outcomes(seq, i, block=False)
                    if back is not None:
                        i = self._rewind(seq, back)
                        continue
                    prev = ctx.current.get(shots[i - 1].id) if i else None
                    ctx.current[shot.id] = self.shots.run(shot, prev)
                    i += 1
                except SequenceStop as exc:
                    self._stopped(seq, exc.shot_id or shot.id, exc)
                    return
                except Interrupted:
                    key = ctx.keys.get(shot.id)
                    ctx.current[shot.id] = ctx.journal.latest(shot.id, key) if key else None
                    ctx.progress.shot(shot.id, "stopped", "interrupted")
                    return
            try:
                back = self.fetcher.outcomes(seq, len(shots), block=True)
            except SequenceStop as exc:
                self._stopped(seq, exc.shot_id or shots[-1].id, exc)
                return
            except Interrupted:
                return
            if back is None:
                return
            i = self._rewind(seq, back)

    def _stopped(self, seq, shot_id: str, exc: Exception) -> None:
        """Record that ``seq`` stopped at ``shot_id``. Later shots keep their results only when
        ``shot_id``'s last frame (their input) is settled; otherwise they are pending again."""
        ctx = self.ctx
        ids = [s.id for s in seq.shots]
        k = ids.index(shot_id)
        key = ctx.keys.get(shot_id)
        att = ctx.journal.latest(shot_id, key) if key else None
        ctx.current[shot_id] = att
        settled = (att is not None and att.state == J.SUCCEEDED and not att.url_expired
                   and (not ctx.needs_frame(seq.shots[k]) or frame_ok(att, ctx.run_dir)))
        ctx.progress.shot(shot_id, "failed" if not ctx.stop.is_set() else "stopped", str(exc))
        if not ctx.stop.is_set():
            ctx.problem(f"sequence {seq.index} stopped at {shot_id}: {exc}")
        for later in seq.shots[k + 1:]:
            if not settled:
                ctx.current.pop(later.id, None)
            if ctx.current.get(later.id) is None:
                ctx.progress.shot(later.id, "stopped", f"not rendered (sequence stopped at {shot_id})")

    def _rewind(self, seq, k: int) -> int:
        """Go back to shot ``k`` of ``seq``: later shots will be looked up again by key."""
        for later in seq.shots[k + 1:]:
            self.ctx.current.pop(later.id, None)
        return k

    def _cancel_queued(self) -> None:
        ctx = self.ctx
        prov = ctx.provider
        for att in ctx.journal.attempts(states=(J.SUBMITTED, J.QUEUED)):
            if att.invocation != ctx.invocation or not att.task_id:
                continue
            try:
                task = prov.get(att.task_id)
                if task.state == "queued":
                    prov.cancel(att.task_id)
                    ctx.journal.update(att.id, state=J.CANCELLED, finished_at=time.time(),
                                       event="cancelled", detail={"by": "interrupt"})
                    ctx.progress.message(f"{att.shot_id}: cancelled queued task {att.task_id}")
                else:
                    self.shots._record_status(att, task, time.time())
            except Exception as exc:  # noqa: BLE001 - best effort, said
                ctx.progress.message(f"{att.shot_id}: could not cancel {att.task_id}: "
                                     f"{prov.classify(exc).message}")

    # ---- assembly: ONE call-out (the "timeline" branch moves these to run/assembly.py) ---------
    # At the merge, run() calls assembly.assemble_run(plan, run_dir, journal,
    # {s.id: (clip_path(run_dir, s.id), current[s.id].clip_sha)}, message=progress.message,
    # options=stitch_options) instead of _assemble/_assembly_failed, and
    # assembly.write_run_review(plan, run_dir, summary, message=..., problem=ctx.problem) instead
    # of _review; the four methods and assemble() below are then deleted.
    def _assemble(self):
        sb = self.plan.storyboard
        out = self.run_dir / (sb.output.file or f"{sb.source.stem}.mp4")
        clips = [(s, clip_path(self.run_dir, s.id)) for s in self.plan.shots]
        fingerprint = json.dumps({"clips": [[s.id, self.current[s.id].clip_sha, s.chained_from is not None,
                                             s.name, s.transition] for s, _ in clips],
                                  "output": sb.output.model_dump(), "transition": sb.transition,
                                  "drift_guard": sb.drift_guard,
                                  "options": self.stitch_options}, sort_keys=True, default=str)
        prev = self.journal.get_meta("assembly")
        if (prev and prev.get("fingerprint") == fingerprint and out.exists()
                and sha256_file(out) == prev.get("sha")):
            self.progress.message(f"output {out} is up to date")
            return out, prev.get("stitch")
        self._step = "drift guard (colour measure before assembly)"
        clips = self._drift_guard(clips)
        self._step = "assembly"
        self.progress.message(f"assembling {len(clips)} clips -> {out}")
        result = assemble(self.plan, clips, out, **self.stitch_options)
        self.journal.set_meta("assembly", {"fingerprint": fingerprint, "sha": sha256_file(out),
                                           "stitch": result})
        return out, result

    def _assembly_failed(self, exc: Exception) -> ChainerError:
        """An assembly (drift guard or stitch) that raised: journal it, leave the clips and any
        previous output untouched, and turn it into one line for the user. A re-run reuses every
        clip and retries the assembly only."""
        step = self._step
        sb = self.plan.storyboard
        out = self.run_dir / (sb.output.file or f"{sb.source.stem}.mp4")
        out.with_name(f".{out.stem}.partial{out.suffix}").unlink(missing_ok=True)
        first = (str(exc).strip().splitlines() or [""])[0]
        if isinstance(exc, ChainerError):
            what = first or type(exc).__name__
        else:
            what = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
        self.journal.event(None, "assembly-failed", {"step": step, "error": what,
                                                     "type": type(exc).__name__})
        msg = (f"{step} failed: {what}; all {len(self.plan.shots)} clips are downloaded and "
               f"verified in {self.run_dir / 'clips'}; re-running the same command retries the "
               "assembly only (nothing is resubmitted)")
        self._problem(msg)
        err = ChainerError(msg)
        err.__cause__ = exc
        return err

    def _drift_guard(self, clips):
        """Measure colour drift per sequence; with ``drift_guard: match`` assemble graded copies
        (``graded/<shot>.mp4``) instead of the downloaded clips, which stay untouched."""
        mode = self.plan.storyboard.drift_guard
        if mode == "off":
            return clips
        from ..review import GRADED_DIR, apply_drift_guard

        if mode == "match":
            self.progress.message("drift guard: matching colour to each sequence's first shot")
        guard = apply_drift_guard([(s.id, s.sequence, path) for s, path in clips],
                                  self.run_dir / GRADED_DIR, mode=mode)
        return [(s, Path(guard[s.id].clip) if s.id in guard else path) for s, path in clips]

    def _review(self, summary: dict) -> None:
        """Write the review outputs (contact sheet, report, chapters, editor timelines). The
        video is already complete; a failure here is reported, not fatal."""
        from ..review import write_review

        try:
            written = write_review(self.run_dir, summary,
                                   drift_guard=self.plan.storyboard.drift_guard)
        except Exception as exc:  # noqa: BLE001 - review must never cost the user the render
            self._problem(f"review outputs could not be written: {exc}")
            return
        self.progress.message("review: " + ", ".join(sorted(Path(p).name for p in written.values())))


def assemble(plan, clips, out: Path, **options) -> dict:
    """Join the clips into ``out`` with :func:`chainer.media.stitch.stitch` (chained seams
    de-duplicated, transitions at cuts, loudness and chapters per the storyboard's ``output``);
    returns ``StitchResult.to_dict()``. The output appears under its name only when complete."""
    from ..media.stitch import Segment, stitch

    sb = plan.storyboard
    segments = [Segment(path, s.id, s.chained_from is not None, title=s.name,
                        transition=s.transition) for s, path in clips]
    opts = {"transition": sb.transition, "loudness": sb.output.loudness,
            "chapters": sb.output.chapters, **options}
    tmp = out.with_name(f".{out.stem}.partial{out.suffix}")
    result = stitch(segments, tmp, **opts)
    os.replace(tmp, out)
    data = result.to_dict()
    data["output"] = out.name
    return data
