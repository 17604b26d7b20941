"""The one door to a paid submission: "may this be paid for?" (issue 10, rule 5).

Every create in chainer passes :meth:`Gate.admit` right before its intent is journalled: first
renders, re-renders of a result whose URL expired with the local file gone, resubmissions of a
failed (``--retry-failed``) or lost (``--resubmit``) task alike. The gate

- prints the estimate once, before anything is submitted (:meth:`Gate.preflight`): what a re-run
  would submit, its tokens and cost; refuses to start when ``--budget`` cannot be enforced (a
  model without a price) or is exceeded;
- asks for confirmation (a callback the CLI passes; the library never prompts) when the estimate
  is above ``confirm_above`` or has no price, unless ``yes``; with no callback it refuses;
- approves, at preflight, one submission per shot it counted. A submission the preflight did not
  count (a re-submission) needs the same confirmation as a first render: it is confirmed when the
  approved total plus its estimate passes ``confirm_above`` (or its price is unknown);
- lets through at most ``max_extra_per_shot`` submissions of one shot that the preflight did not
  count, in one run (1, plus ``--retry-failed N``): a provider that loses every result (a URL that
  always answers 404) stops that sequence instead of being paid for again and again, even with
  ``--yes``;
- reserves the estimate against ``--budget`` (:class:`~chainer.run.budget.Budget`): a create that
  would take spent + in flight past the limit is refused.

A free provider (the emulator) is never confirmed but is still budgeted and counted.
"""
from __future__ import annotations

import math
import threading
from typing import Callable, Iterable

from ..errors import ChainerError, InputError
from .budget import Budget

CONFIRM_ABOVE = 10.0            # ask before spending more than this (--yes skips)


class GateRefused(ChainerError):
    """A submission the gate did not let through (one line: why, and what to do)."""


def check_budget(budget: float | None) -> None:
    if budget is None:
        return
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not math.isfinite(budget) \
            or budget < 0:
        raise InputError(f"--budget: {budget} must be a finite amount, 0 or more")


class Gate:
    def __init__(self, *, budget: Budget, billed: bool, yes: bool = False,
                 confirm: Callable[[str], bool] | None = None,
                 confirm_above: float = CONFIRM_ABOVE, currency: str = "CNY",
                 where: str = "the provider", message: Callable[[str], None] = lambda s: None,
                 estimate: Callable[[object], float | None] = lambda shot: shot.est_cost,
                 before_prompt: Callable[[], None] = lambda: None,
                 max_extra_per_shot: int = 1):
        self.budget = budget
        self.max_extra_per_shot = max_extra_per_shot
        self.billed = billed
        self.yes = yes
        self.confirm = confirm
        self.confirm_above = confirm_above
        self.currency = currency
        self.where = where
        self._message = message
        self._estimate = estimate
        self._before_prompt = before_prompt
        self._lock = threading.Lock()
        self._ask_lock = threading.Lock()
        self._approved: dict[str, int] = {}
        self._extra: dict[str, int] = {}     # per shot: submissions not counted by the preflight
        self._approved_cost = 0.0
        self.admitted = 0               # submissions let through in this run
        self.extra = 0                  # of which not counted by the preflight

    # ---- before the run ---------------------------------------------------------------------
    def preflight(self, todo: list, *, reused: int = 0, pending: int = 0) -> None:
        """Say what would be submitted (``todo``: planned shots), enforce ``--budget``, and ask
        for confirmation when the estimate calls for it. Raises :class:`InputError` (nothing
        submitted) when refused."""
        cur = self.currency
        tokens = sum(s.est_tokens or 0 for s in todo)
        unpriced = sorted({s.model.id for s in todo if self._estimate(s) is None})
        cost = sum(self._estimate(s) or 0.0 for s in todo)
        what = f"{len(todo)} task(s) to submit, {tokens:,} tokens est."
        if todo:
            what += f", {cost:.2f} {cur}" + (f" + unknown price for {', '.join(unpriced)}"
                                            if unpriced else "")
        extra = []
        if reused:
            extra.append(f"{reused} reused")
        if pending:
            extra.append(f"{pending} in flight or awaiting download")
        free = "" if self.billed else " (emulator: nothing is billed)"
        self._message(f"estimate: {what}" + (f"; {', '.join(extra)}" if extra else "") + free)
        limit = self.budget.limit
        if limit is not None and todo:
            if unpriced:
                raise InputError(f"--budget cannot be enforced: no price is known for "
                                 f"{', '.join(unpriced)} (add pricing: {{MODEL: {cur} per million "
                                 f"tokens}} to the storyboard); nothing submitted")
            if cost > limit + 1e-9:
                raise InputError(f"estimated {cost:.2f} {cur} for {len(todo)} task(s) exceeds "
                                 f"--budget {limit:.2f} {cur}; nothing submitted")
        if self._needs_confirmation(cost, bool(unpriced)) and todo:
            question = (f"Submit {len(todo)} paid task(s) to {self.where} for about {cost:.2f} "
                        f"{cur}" + (" plus unpriced models" if unpriced else "") + "?")
            if self.confirm is None:
                raise InputError(f"estimated {cost:.2f} {cur}" + (" (+ unpriced)" if unpriced else "")
                                 + f" is above the confirmation threshold ({self.confirm_above:.2f} "
                                 f"{cur}) and there is no terminal to ask: pass --yes to submit")
            self._before_prompt()
            if not self.confirm(question):
                raise InputError("not confirmed; nothing submitted")
        with self._lock:
            for s in todo:
                self._approved[s.id] = self._approved.get(s.id, 0) + 1
            self._approved_cost += cost

    def _needs_confirmation(self, cost: float, unpriced: bool) -> bool:
        if not self.billed or self.yes:
            return False
        return unpriced or cost > self.confirm_above + 1e-9

    # ---- each submission ---------------------------------------------------------------------
    def admit(self, shot, marker: str, reason: str = "") -> None:
        """Let one create of ``shot`` through, or raise :class:`GateRefused`. On success the
        estimate is reserved under ``marker`` (settle or release it when the task ends)."""
        est = self._estimate(shot)
        cur = self.currency
        with self._lock:
            counted = self._approved.get(shot.id, 0) > 0
            if counted:
                self._approved[shot.id] -= 1
        if not counted:
            why = f" ({reason})" if reason else ""
            with self._lock:
                if self._extra.get(shot.id, 0) >= self.max_extra_per_shot:
                    raise GateRefused(
                        f"{shot.id}: already submitted {self._extra[shot.id]} extra time(s) in this "
                        f"run{why}; not submitted again: check the provider, then re-run")
            with self._ask_lock:
                # the user consented to the estimate, not to this: without --yes it is asked for
                # whatever it costs (a first render under the threshold was at least announced)
                if self.billed and not self.yes:
                    amount = f"{(est or 0.0):.2f} {cur}" + (" + unknown price" if est is None else "")
                    q = (f"Submit 1 more paid task for {shot.id}{why} to {self.where} for about "
                         f"{amount}? It was not in the estimate.")
                    if self.confirm is None:
                        tokens = getattr(shot, "est_tokens", None) or 0
                        raise GateRefused(f"estimate revised: 1 task(s) to submit, {tokens:,} tokens "
                                          f"est., {amount} for {shot.id}{why}, which was not in "
                                          "the estimate; not submitted: re-run (it is counted "
                                          "then) or pass --yes")
                    self._before_prompt()
                    if not self.confirm(q):
                        raise GateRefused(f"{shot.id}: new paid task{why} not confirmed; not submitted")
                with self._lock:
                    self._approved_cost += est or 0.0
        if self.budget.limit is not None and est is None:
            raise GateRefused(f"{shot.id}: --budget cannot be enforced: no price is known for "
                              f"{shot.model.id}; not submitted")
        if not self.budget.reserve(marker, est):
            st = self.budget.state()
            raise GateRefused(f"budget: spent {st.spent:.2f} + in flight {st.in_flight:.2f} + "
                              f"{(est or 0):.2f} for {shot.id} would pass --budget "
                              f"{st.limit:.2f} {st.currency}; not submitted")
        with self._lock:
            self.admitted += 1
            if not counted:
                self.extra += 1
                self._extra[shot.id] = self._extra.get(shot.id, 0) + 1

    def unadmit(self, shot_id: str, marker: str | None) -> None:
        """A create that certainly made no task (refused, never sent, proven absent): release its
        reservation and give its approval back, so the next create of the shot is not counted as
        a second payment."""
        self.release(marker)
        with self._lock:
            self._approved[shot_id] = self._approved.get(shot_id, 0) + 1
            self.admitted -= 1

    def settle(self, marker: str, cost: float | None) -> None:
        self.budget.settle(marker, cost)

    def release(self, marker: str | None) -> None:
        if marker:
            self.budget.release(marker)

    def approved_ids(self) -> Iterable[str]:
        return [k for k, v in self._approved.items() if v > 0]
