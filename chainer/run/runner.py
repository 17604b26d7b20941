"""Sequences and scheduling: run every sequence (up to ``concurrency`` at once; shots within one
strictly in order), rewind a sequence whose clip URL expired, stop one sequence without stopping
the others, cancel queued tasks on Ctrl-C when asked, then hand over to the assembly.

The per-shot work is :class:`~chainer.run.shot.ShotMachine`; downloads are
:class:`~chainer.run.fetch.Fetcher`; what may be paid for is :class:`~chainer.run.gate.Gate`.
"""
from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ChainerError
from . import assembly
from . import journal as J
from .assess import PAID_ACTIONS, assess, clip_path, frame_ok, local_ok
from .context import Interrupted, RunContext, SequenceStop
from .fetch import Fetcher
from .shot import ShotMachine
from .takes import TakeRunner, extra_takes


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
        self.takes = TakeRunner(ctx, self.shots, self.fetcher)

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
        rows = [{"id": s.id, "sequence": s.sequence, "expected": prov.expected_seconds(s),
                 "cost": prov.estimate(s), "concurrency": self.concurrency,
                 "currency": prov.currency} for s in plan.shots]
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
                except assembly.AssemblyFailed as exc:   # one line; the clips are safe
                    self._problem(str(exc))
                    failure = exc
            from .summary import build_summary, write_summary

            summary = build_summary(plan, j, ctx.run_dir, ctx.current, prov.name,
                                    base_url=prov.base_url, stitch=stitch_result,
                                    output=output, problems=ctx.problems)
            summary["drift_guard"] = plan.storyboard.drift_guard
            summary["billed"] = bool(prov.billed)      # False: an emulator (list prices, no bill)
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
        for sid, salt in self.ctx.reroll.items():      # a new take + its downstream chain
            from .takes import variants

            shot = plan.shot(sid)
            seq = plan.sequences[shot.sequence].shots
            todo = [t for t in todo if t.id != sid] + variants(shot, salt=salt)
            for later in seq[shot.position + 1:]:
                if later.chained_from is None:
                    break
                if later not in todo:
                    todo.append(later)
        todo += [v for s in list(todo) if getattr(s, "takes", 1) > 1 for v in extra_takes(s)]
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
                                ctx.problem(f"sequence {q.index + 1}: unexpected error: "
                                            f"{type(exc).__name__}: {exc}")
                except KeyboardInterrupt:
                    ctx.stop.set()
                    raise
        finally:
            self.fetcher.shutdown()
            if ctx.preview is not None:        # the last refresh finishes before the assembly
                ctx.preview.close(cancel=ctx.stop.is_set())
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
                    ctx.current[shot.id] = self.takes.run(shot, prev,
                                                          reroll=ctx.reroll.pop(shot.id, 0))
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
            ctx.problem(f"sequence {seq.index + 1} stopped at {shot_id}: {exc}")
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

    # ---- assembly: ONE call-out (drift guard, stitch, timeline.json, review: run/assembly.py) ----
    def _assemble(self):
        """(output path, stitch facts) of the run's film; raises AssemblyFailed."""
        ctx = self.ctx
        done = assembly.assemble_run(ctx.plan, ctx.run_dir, ctx.journal,
                                     # the current take's clip (chainer.run.takes; default the shot's own)
                                     {s.id: (clip_path(ctx.run_dir, ctx.current[s.id].shot_id),
                                             ctx.current[s.id].clip_sha) for s in ctx.plan.shots},
                                     message=ctx.progress.message, options=self.stitch_options,
                                     step=ctx.progress.step)
        return done.output, done.stitch

    def _review(self, summary: dict) -> None:
        ctx = self.ctx
        assembly.write_run_review(ctx.plan, ctx.run_dir, summary, message=ctx.progress.message,
                                  problem=self._problem, step=ctx.progress.step)
