"""The per-shot state machine: bring one shot to where the next can chain from it.

intent (journalled, through the gate) -> create (ONE request) -> task id -> poll -> succeeded ->
last frame on disk (the clip downloads on the pool). What each provider answer proves:

- a refused create (4xx), a rate limit, a connection never made: no task; the approval is given
  back and the shot may be submitted again;
- an ambiguous create (timeout, dropped connection, 5xx, a bad 2xx body) is resolved only on proof
  (:meth:`Provider.find`, the one "is this task ours?" check, issue 10 rule 2): ``proven`` adopts
  the task; ``absent`` must hold on a second scan ``poll.recheck`` seconds later before the shot
  may be created again; ``unknown`` stops the sequence with one line, never a second create;
- a 404 on a poll is not proof the task is gone (rule 1): it is re-checked (lookup by id and the
  filtered list) over ``poll.recheck`` seconds; a task that reappears is polled on; conclusive
  absence stops the sequence saying what to check, unless the user asked for ``resubmit``;
- a task recorded under another provider identity is never polled here (rule 6): the sequence
  stops saying where it lives.

Over 500 lines on purpose: the per-shot state machine and the proofs behind each transition (rules
1, 2, 5, 6 of issue 10, takes, extension) are one story read top to bottom.
"""
from __future__ import annotations

import json
import secrets
import threading
import time
from typing import Any

from ..providers.base import FindResult, ProviderRequest, TaskStatus
from . import journal as J
from .assess import clip_ok, frame_ok, frame_path, local_ok, where_note
from .context import Interrupted, RunContext, SequenceStop
from .download import url_fresh
from .fetch import Fetcher
from .gate import GateRefused
from .keys import compact_body, data_url_png


class ShotMachine:
    def __init__(self, ctx: RunContext, fetcher: Fetcher):
        self.ctx = ctx
        self.fetcher = fetcher
        self._requests: dict[int, ProviderRequest] = {}
        self._slots: dict[str, Any] = {}         # shot id -> its task's account-limiter lease
        self._remote: dict[str, Any] = {}        # shot id -> provider at its task's address
        self._slots_lock = threading.Lock()

    # ---- account slots (a batch shares one limiter per provider account and model) -----------
    def _hold_slot(self, shot, *, create: bool) -> None:
        """Take a limiter slot for ``shot``'s task: a new one before each create (spending create
        rate), or one without create rate for a task already in flight (a resumed run)."""
        ctx = self.ctx
        if ctx.limiter is None:
            return
        if create:
            self._drop_slot(shot.id)
        elif shot.id in self._slots:
            return
        lease = ctx.limiter.acquire(ctx.provider.identity, shot.model.id, str(ctx.run_dir),
                                    create=create, cancel=ctx.stop)
        if lease is None:
            raise Interrupted("interrupted")
        with self._slots_lock:
            self._slots[shot.id] = lease

    def _drop_slot(self, shot_id: str) -> None:
        with self._slots_lock:
            lease = self._slots.pop(shot_id, None)
        if lease is not None:
            lease.release()

    # ---- the loop ----------------------------------------------------------------------------
    def run(self, shot, prev: J.Attempt | None) -> J.Attempt:
        """Bring ``shot`` to where the next shot can chain from it (its task succeeded, its last
        frame is on disk); any account slot its task held is given back when this returns."""
        try:
            return self._run(shot, prev)
        finally:
            self._drop_slot(shot.id)
            remote = self._remote.pop(shot.id, None)
            if remote is not None:
                remote.close()

    # ---- rule 6: a task is polled where it was created ----------------------------------------
    def _poll_where_created(self, shot, att: J.Attempt) -> None:
        """``att`` was created at another address of this host (an earlier ``--base-url``):
        poll it there, with the same credentials, and say so; stop (one line saying where it
        lives) when it cannot be reached from here (another host, an in-process emulator)."""
        ctx = self.ctx
        prov = ctx.provider
        remote = None
        if att.provider == prov.name and att.base_url:
            try:
                remote = prov.at(att.base_url)
            except Exception:  # noqa: BLE001 - an unusable address: say where, stop
                remote = None
        if remote is None:
            raise SequenceStop(where_note(att))
        old = self._remote.pop(shot.id, None)
        if old is not None:
            old.close()
        self._remote[shot.id] = remote
        ctx.progress.message(f"{shot.id}: task {att.task_id} was created at {att.provider_identity}:"
                             " polling it there")

    def _provider_of(self, att: J.Attempt):
        """The provider holding ``att``'s task: this run's, or the one at its own address."""
        remote = self._remote.get(att.shot_id)
        if remote is not None and att.provider_identity == remote.identity:
            return remote
        return self.ctx.provider

    def _run(self, shot, prev: J.Attempt | None) -> J.Attempt:
        ctx = self.ctx
        prov = ctx.provider
        need_frame = ctx.needs_frame(shot)
        first_png = None
        if shot.chained_from:     # the previous shot's current take (chainer.run.takes)
            src = prev.shot_id if prev is not None else shot.chained_from
            first_png = frame_path(ctx.run_dir, src).read_bytes()
        from .assess import shot_key

        key = shot_key(shot, prov.key_identity, first_png,
                       prev.chain_digest if prev is not None and shot.chained_from else None)
        ctx.keys[shot.id] = key
        failures = lost = 0
        force_data_url = False
        seed_override: int | None = None
        reason = ""
        replaced: J.Attempt | None = None     # a succeeded attempt whose clip could not be fetched
        while True:
            ctx.check_stop()
            att = ctx.journal.latest(shot.id, key)
            if att is not None and att.state == J.SUCCEEDED and not (att.url_expired and not clip_ok(att, ctx.run_dir)) \
                    and (not need_frame or frame_ok(att, ctx.run_dir)):
                if local_ok(att, ctx.run_dir, need_frame):
                    job = self.fetcher.videos.get(shot.id)
                    if job is None or job.attempt_id != att.id:
                        ctx.progress.shot(shot.id, "reused", f"task {att.task_id}")
                        if att.cost is not None:
                            ctx.progress.cost(shot.id, att.cost)
                        ctx.landed(shot.id)
                    return att
                self.fetcher.schedule(shot, att)
                return att
            if att is not None and (att.in_flight or att.state == J.AMBIGUOUS):
                if prov.ephemeral and att.provider_identity == prov.identity \
                        and att.invocation != ctx.invocation:
                    att = ctx.journal.update(att.id, state=J.LOST, finished_at=time.time(),
                                             error_code="provider-exited",
                                             error_message="the in-process provider holding this "
                                             "task has exited (nothing was billed)", event="lost")
                    reason = "its task died with the in-process provider"
                elif att.provider_identity not in (None, prov.identity):
                    self._poll_where_created(shot, att)     # or stop, saying where it lives
            expired = att is not None and att.state == J.SUCCEEDED and att.url_expired \
                and not clip_ok(att, ctx.run_dir)
            if att is None or att.state in J.DEAD_STATES or expired:
                if expired:
                    replaced = att
                    seed_override = att.seed if (shot.model.seed and shot.seed is None) else None
                    note = (f"seed {att.seed} reused" if seed_override is not None else
                            "same seed" if shot.seed is not None else
                            "this model takes no seed: the new clip will differ")
                    ctx.progress.message(f"{shot.id}: the result URL of task {att.task_id} expired "
                                         f"before it was downloaded; submitting a new task ({note})"
                                         + self._chained_note(shot, att))
                    reason = "result URL expired before download and the clip is not on disk"
                att = self._submit(shot, key, prev, first_png, force_data_url, seed_override,
                                   reason or ("resubmission" if att is not None else ""))
                if att.state == J.REJECTED and att.error_code == "first-frame-url":
                    force_data_url = True
                    continue
            if att.state in (J.CREATING, J.AMBIGUOUS):
                att = self._resolve(shot, att, first_png)
                if att.state == J.REJECTED:
                    continue          # proven absent: the shot may be created again (same approval)
            if att.in_flight:
                self._hold_slot(shot, create=False)
                att = self._poll(shot, att)
                self._drop_slot(shot.id)          # terminal or lost: the account slot is free
            if att.state == J.SUCCEEDED:
                att = self.fetcher.frame(shot, att)
                if not att.url_expired or clip_ok(att, ctx.run_dir):
                    if replaced is not None and need_frame:
                        self._report_new_frame(shot, replaced, att)
                        replaced = None
                    if local_ok(att, ctx.run_dir, need_frame):
                        ctx.progress.shot(shot.id, "done", f"task {att.task_id}")
                        ctx.landed(shot.id)
                    else:
                        self.fetcher.schedule(shot, att)
                    return att
                continue
            # a dead task: failed / expired / cancelled / lost
            msg = f"task {att.task_id} {att.state}"
            if att.error_code or att.error_message:
                msg += f": {att.error_code or ''} {att.error_message or ''}".rstrip()
            if att.state == J.LOST:
                lost += 1
                if lost > 2:
                    raise SequenceStop(msg)
                ctx.progress.message(f"{shot.id}: {msg}; submitting it again")
                reason = reason or "its task is gone"
                continue
            failures += 1
            if failures > ctx.retry_failed:
                hint = "" if ctx.retry_failed else " (--retry-failed N resubmits failed shots)"
                raise SequenceStop(msg + hint)
            ctx.progress.message(f"{shot.id}: {msg}; resubmitting ({failures}/{ctx.retry_failed})")
            reason = f"--retry-failed after {att.state}"

    # ---- notes about re-rendered shots ------------------------------------------------------
    def _later_rendered(self, shot) -> list[str]:
        seq = self.ctx.plan.sequences[shot.sequence]
        return [s.id for s in seq.shots[shot.position + 1:] if self.ctx.journal.attempts(s.id)]

    def _chained_note(self, shot, old: J.Attempt) -> str:
        later = self._later_rendered(shot) if self.ctx.needs_frame(shot) else []
        if not later:
            return ""
        return (f". {', '.join(later)} already chained from the last frame of task {old.task_id}: "
                f"they are kept if the new clip ends on the same frame, otherwise rendered again "
                f"from the new one (as after an edit of {shot.id}), so the sequence stays seamless")

    def _report_new_frame(self, shot, old: J.Attempt, new: J.Attempt) -> None:
        later = self._later_rendered(shot)
        if not later:
            return
        if old.frame_sha and old.frame_sha == new.frame_sha:
            self.ctx.progress.message(f"{shot.id}: the new clip ends on the same last frame as task "
                                      f"{old.task_id}: {', '.join(later)} are kept")
        else:
            self.ctx.progress.message(f"{shot.id}: the new clip ends on a different last frame than "
                                      f"task {old.task_id}: rendering {', '.join(later)} again from "
                                      "it (their earlier clips would not join it seamlessly)")

    # ---- submit -------------------------------------------------------------------------------
    def _first_frame(self, shot, prev: J.Attempt | None, first_png: bytes | None,
                     force_data_url: bool) -> str | None:
        if not shot.chained_from:
            return None
        if getattr(shot, "chain", "last_frame") == "extend":
            return self._extend_source(shot, prev)
        if (not force_data_url and prev is not None and prev.frame_source == "provider"
                and prev.id in self.ctx.fresh
                and url_fresh(prev.last_frame_url, prev.urls_at, time.time())):
            return prev.last_frame_url
        return data_url_png(first_png)

    def _extend_source(self, shot, prev: J.Attempt | None) -> str:
        """The previous clip's result URL for a ``chain: extend`` shot, checked before anything is
        paid: a succeeded attempt, its URL still fresh (Ark takes reference videos only as URLs:
        a stale one cannot be replaced by the local copy), its length a usable reference. Else
        the sequence stops with one line; nothing is submitted."""
        from ..errors import InputError
        from ..extension import check_extension_source

        ctx = self.ctx
        prov = ctx.provider
        where = f"{ctx.plan.storyboard.source.name}: {shot.id}.chain"
        if prev is None or prev.state != J.SUCCEEDED or not prev.video_url:
            raise SequenceStop(f"{where}: extend needs {shot.chained_from}'s clip, which has no "
                               "result URL; re-run, or use chain: last_frame for this shot")
        fresh = url_fresh(prev.video_url, prev.urls_at, time.time()) and (
            prev.id in ctx.fresh or not prov.ephemeral)
        if not fresh:
            raise SequenceStop(f"{where}: the result URL of {shot.chained_from} (task "
                               f"{prev.task_id}) has expired and a reference video can only be "
                               "sent as a URL: nothing submitted; render "
                               f"{shot.chained_from} again (edit it or --reroll it), or use "
                               "chain: last_frame for this shot")
        before = ctx.plan.shot(shot.chained_from)
        seconds = before.seconds
        try:
            res = json.loads(prev.result_json or "{}")
            if isinstance(res.get("frames"), int) and res["frames"] > 1:
                seconds = (res["frames"] - 1) / 24
            elif isinstance(res.get("duration"), (int, float)) and res["duration"] > 0:
                seconds = float(res["duration"])
        except (ValueError, AttributeError):
            pass
        try:
            check_extension_source(seconds, model=shot.model.id, family=shot.model.family,
                                   max_reference_videos=shot.model.max_reference_videos,
                                   where=where)
        except InputError as exc:
            raise SequenceStop(str(exc)) from None
        return prev.video_url

    def _submit(self, shot, key: str, prev, first_png, force_data_url, seed_override,
                reason: str) -> J.Attempt:
        ctx = self.ctx
        prov = ctx.provider
        ctx.check_stop()
        marker = "chainer-" + secrets.token_hex(12)
        first = self._first_frame(shot, prev, first_png, force_data_url)
        req = prov.build_request(shot, first, marker=marker, seed=seed_override)
        self._hold_slot(shot, create=True)     # waits for an account slot holding no money
        try:
            ctx.gate.admit(shot, marker, reason)           # the one door to a paid create
        except GateRefused as exc:
            raise SequenceStop(str(exc)) from None
        price = prov.price(shot)
        att = ctx.journal.add_intent(
            shot.id, key, marker, model=req.model, base_url=prov.base_url,
            provider=prov.name, provider_identity=prov.identity, currency=prov.currency,
            request_json=json.dumps(compact_body(req.body)), seed_sent=req.body.get("seed"),
            est_tokens=shot.est_tokens, est_cost=prov.estimate(shot),
            price=price.per_mtok if price else None, invocation=ctx.invocation)
        self._requests[att.id] = req
        how = req.first_frame
        ctx.progress.shot(shot.id, "submitting", f"first frame as {how}" if how else "")

        def on_retry(exc, n, delay):
            ctx.progress.shot(shot.id, "retrying", f"create: {exc} (retry {n} in {delay:.1f}s)")
            ctx.journal.event(shot.id, "retry", {"what": "create", "error": str(exc)}, att.id)

        from ..ark.retry import call_with_retry

        try:
            task_id = call_with_retry(lambda: prov.submit(req), ctx.poll.retry, rng=ctx.rand(),
                                      wait=ctx.wait,
                                      retryable=lambda e: prov.classify(e).create_retryable,
                                      on_retry=on_retry)
        except Exception as exc:  # noqa: BLE001 - classified by the provider
            f = prov.classify(exc)
            if f.no_task:
                ctx.gate.unadmit(shot.id, marker)
                if f.about_input and how == "url":
                    ctx.journal.update(att.id, state=J.REJECTED, error_code="first-frame-url",
                                       error_message=f.message, event="rejected",
                                       detail={"error": f.message})
                    ctx.progress.message(f"{shot.id}: the provider could not use the previous "
                                         f"last-frame URL ({f.code}); sending the local copy")
                    return ctx.journal.get(att.id)
                ctx.journal.update(att.id, state=J.REJECTED, error_code=f.code or f.kind,
                                   error_message=f.message, finished_at=time.time(),
                                   event="rejected", detail={"error": f.message})
                if f.kind == "not_sent":
                    if ctx.stop.is_set():
                        raise Interrupted("interrupted") from None
                    raise SequenceStop(f"cannot reach {prov.base_url}: {f.message}") from None
                raise SequenceStop(f"create refused: {f.message}") from None
            ctx.journal.event(shot.id, "create-ambiguous", {"error": f.message}, att.id)
            ctx.progress.shot(shot.id, "checking", f"create outcome unknown ({f.message}); "
                                                   "looking for the task")
            return ctx.journal.get(att.id)
        other = ctx.journal.by_task(task_id)
        if other is not None:        # an id already journalled: the answer cannot be trusted
            ctx.journal.update(att.id, state=J.AMBIGUOUS, error_code="duplicate-id",
                               error_message=f"the provider answered task id {task_id}, already "
                               f"recorded for {other.shot_id}", event="ambiguous")
            raise SequenceStop(f"the create of {shot.id} was answered with task id {task_id}, "
                               f"which is already recorded for {other.shot_id}; not submitting "
                               "again, to avoid paying twice: check the provider's task list, "
                               "then re-run")
        att = ctx.journal.update(att.id, task_id=task_id, state=J.SUBMITTED,
                                 submitted_at=time.time(), event="submitted",
                                 detail={"task_id": task_id})
        ctx.progress.shot(shot.id, "submitted", task_id)
        return att

    # ---- an ambiguous create ------------------------------------------------------------------
    def _request_of(self, shot, att: J.Attempt, first_png: bytes | None) -> ProviderRequest:
        req = self._requests.get(att.id)
        if req is None:      # a create of an earlier run: rebuilt (model and params as sent)
            first = data_url_png(first_png) if shot.chained_from else None
            if shot.chained_from and getattr(shot, "chain", "last_frame") == "extend":
                sent = json.loads(att.request_json or "{}").get("content") or []
                first = next((i.get("video_url", {}).get("url") for i in sent
                              if isinstance(i, dict) and i.get("type") == "video_url"), None) \
                    or "extend:unknown"
            req = self.ctx.provider.build_request(shot, first, marker=att.marker,
                                                  seed=att.seed_sent)
        return req

    def _resolve(self, shot, att: J.Attempt, first_png: bytes | None) -> J.Attempt:
        """Adopt the task an ambiguous create made, prove none exists, or stop (AMBIGUOUS)."""
        ctx = self.ctx
        prov = self._provider_of(att)
        req = self._request_of(shot, att, first_png)
        since = att.intent_at or time.time()

        def scan():
            """One scan; a list read that fails is retried like any read, then "unknown"."""
            try:
                return ctx.call(lambda: prov.find(req, since=since,
                                                  known_ids=ctx.journal.known_task_ids()),
                                "look for the task", shot.id, att.id)
            except Interrupted:
                raise
            except Exception as exc:  # noqa: BLE001 - classified by the provider
                if ctx.stop.is_set():
                    raise Interrupted("interrupted") from None
                return FindResult.unknown(f"the task list is unavailable "
                                          f"({prov.classify(exc).message})")

        result = scan()
        if result.kind == "absent":
            # a list may lag behind a create: absence must hold on a second scan
            if ctx.wait(ctx.poll.recheck):
                raise Interrupted("interrupted")
            result = scan()
        if result.kind == "proven":
            task = result.task
            if ctx.journal.by_task(task.id) is not None:
                result = type(result).unknown(f"task {task.id} is already journalled for another shot")
            else:
                att = ctx.journal.update(att.id, task_id=task.id, state=J.SUBMITTED,
                                         submitted_at=time.time(), event="adopted",
                                         detail={"task_id": task.id, "by": result.reason,
                                                 "duplicates": list(result.duplicates)})
                ctx.progress.shot(shot.id, "adopted", f"found task {task.id} created by the "
                                                      f"interrupted request ({result.reason})")
                if result.duplicates:
                    ctx.problem(f"{shot.id}: the provider holds duplicate tasks "
                                f"{', '.join(result.duplicates)} for one request (adopted {task.id})")
                return att
        if result.kind == "absent":
            ctx.gate.unadmit(shot.id, att.marker)
            return ctx.journal.update(att.id, state=J.REJECTED, error_code="not-created",
                                      error_message=f"no task was created by the failed request "
                                      f"({result.reason})", event="not-created")
        ctx.journal.update(att.id, state=J.AMBIGUOUS, error_code="unresolved",
                           error_message=result.reason, event="ambiguous")
        raise SequenceStop(f"the create of {shot.id} may have made a task at {prov.identity} that "
                           f"cannot be proven ours ({result.reason}); not submitting again, to "
                           f"avoid paying twice. Look for a task with safety marker {att.marker} "
                           "in the provider's task list, then re-run to check again")

    # ---- poll -------------------------------------------------------------------------------
    def _poll(self, shot, att: J.Attempt) -> J.Attempt:
        """Poll until the task is terminal. The schedule runs from the task's submission (a
        resumed run continues it); a task submitted just now is first polled after the policy's
        initial interval, a resumed one at once."""
        ctx = self.ctx
        prov = self._provider_of(att)
        pol = ctx.poll
        rng = ctx.rand()
        since = max(0.0, time.time() - (att.submitted_at or time.time()))
        t0 = time.monotonic() - since
        expected = prov.expected_seconds(shot) if pol.aim else None
        limit = pol.wait_limit(att.request)
        last_state = att.state
        if since < pol.initial and att.state == J.SUBMITTED:
            if ctx.wait(pol.next_delay(0.0, expected, rng) - since):
                raise Interrupted("interrupted")
        while True:
            try:
                task = ctx.call(lambda: prov.get(att.task_id), "poll", shot.id, att.id)
            except Exception as exc:  # noqa: BLE001 - classified by the provider
                f = prov.classify(exc)
                if ctx.stop.is_set():
                    raise Interrupted("interrupted") from None
                if f.kind != "not_found":
                    raise SequenceStop(f"cannot poll task {att.task_id}: {f.message}; re-run to "
                                       "resume (the task is recorded)") from None
                task = self._recheck(shot, att)
                if task is None:
                    return ctx.journal.get(att.id)        # LOST (resubmission was asked for)
            if task.state == "unknown":
                raise SequenceStop(f"task {att.task_id}: the provider reported a status chainer "
                                   "does not know; nothing resubmitted, re-run to check again")
            now = time.time()
            if task.state != last_state:
                att = self._record_status(att, task, now)
                last_state = task.state
                ctx.progress.shot(shot.id, task.state if task.state != "succeeded"
                                  else "downloading", att.task_id)
            if task.terminal:
                return att
            elapsed = time.monotonic() - t0
            if elapsed > limit:
                raise SequenceStop(f"task {att.task_id} still {task.state} after "
                                   f"{elapsed:.0f}s; re-run to keep waiting")
            if ctx.wait(pol.next_delay(elapsed, expected, rng)):
                raise Interrupted("interrupted")

    def _recheck(self, shot, att: J.Attempt) -> TaskStatus | None:
        """Rule 1: a poll answered 404. Re-check over ``poll.recheck`` seconds: the task when it
        is there after all; ``None`` (attempt journalled LOST) when it is conclusively gone and
        the user asked for resubmission; otherwise the sequence stops saying what to check."""
        ctx = self.ctx
        prov = self._provider_of(att)
        ctx.journal.event(shot.id, "not-found", {"task_id": att.task_id}, att.id)
        ctx.progress.shot(shot.id, "checking", f"task {att.task_id} answered 404; re-checking")
        deadline = time.monotonic() + ctx.poll.recheck
        step = max(0.01, min(ctx.poll.floor, ctx.poll.recheck / 3))
        absent = 0
        unknown = ""
        while True:
            lk = prov.lookup(att.task_id)
            if lk.kind == "present":
                ctx.journal.event(shot.id, "found-again", {"task_id": att.task_id}, att.id)
                return lk.task
            if lk.kind == "absent":
                absent += 1
            else:
                unknown = lk.reason
            if time.monotonic() >= deadline and absent + (1 if unknown else 0) >= 2:
                break
            if ctx.wait(step):
                raise Interrupted("interrupted")
        if unknown:
            raise SequenceStop(f"task {att.task_id} answered 404 but its absence is not proven "
                               f"({unknown}); nothing resubmitted: re-run to check again")
        if ctx.resubmit:
            ctx.gate.release(att.marker)
            ctx.journal.update(att.id, state=J.LOST, finished_at=time.time(),
                               error_code="NotFound", error_message=(
                                   f"absent from {prov.identity} for {ctx.poll.recheck:.0f}s"),
                               event="lost")
            return None
        ctx.journal.event(shot.id, "absent", {"task_id": att.task_id}, att.id)
        raise SequenceStop(f"task {att.task_id} is unknown to {prov.identity} (404, and absent from "
                           f"its task list for {ctx.poll.recheck:.0f}s): check it in the provider's "
                           "console (it may still run and be billed); re-run with --resubmit to "
                           "submit the shot again")

    def _record_status(self, att: J.Attempt, task: TaskStatus, now: float) -> J.Attempt:
        ctx = self.ctx
        vals: dict[str, Any] = {"provider_created_at": _int(task.created_at),
                                "provider_updated_at": _int(task.updated_at)}
        vals["state"] = task.state
        if task.state == "queued":
            vals["queued_at"] = att.queued_at or now
        elif task.state == "running":
            vals["running_at"] = att.running_at or now
        elif task.terminal:
            vals["finished_at"] = now
            if att.running_at is None and task.state == "succeeded":
                vals["running_at"] = now
        if task.state == "succeeded":
            cost = ctx.provider.cost(task, att.price)
            vals.update(seed=task.seed, video_url=task.video_url, last_frame_url=task.last_frame_url,
                        urls_at=now, tokens=task.tokens, cost=cost,
                        result_json=json.dumps(task.result, default=str))
            ctx.gate.settle(att.marker, cost)
            ctx.fresh.add(att.id)
            if cost is not None:
                ctx.progress.cost(att.shot_id, cost)
        elif task.terminal:
            vals.update(error_code=task.error_code or task.state, error_message=task.error_message)
            ctx.gate.release(att.marker)
        return ctx.journal.update(att.id, event=task.state,
                                  detail={"task_id": att.task_id, "error": task.error_code}, **vals)


def _int(v) -> int | None:
    try:
        return None if v is None else int(v)
    except (TypeError, ValueError, OverflowError):
        return None
