"""The one transition grammar: how a shot is entered at a cut.

    cut | crossfade:SEC | fade:SEC        (SEC: a decimal number, MIN_SECONDS < SEC <= MAX_SECONDS)

The storyboard checker, the planner and the stitcher all parse with :func:`parse_transition`, so a
transition that validates is one the assembly accepts (before this module there were three parsers
and ``crossfade:12`` validated, was paid for, then was refused at assembly).

``crossfade:SEC`` overlaps the previous clip by SEC seconds; ``fade:SEC`` fades out to black and in
again over SEC seconds in total (half each side). Rules that depend on the clips (a crossfade must be
shorter than both clips it joins; the first shot cannot crossfade) are the storyboard checker's.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import InputError

KINDS = ("cut", "crossfade", "fade")
MIN_SECONDS = 0.0     # exclusive: a crossfade/fade must last longer than this
MAX_SECONDS = 10.0    # inclusive
GRAMMAR = "cut, crossfade:SEC or fade:SEC"
EXAMPLE = "crossfade:0.5"
# JSON-schema pattern of the text form (the seconds limits are checked by parse_transition)
PATTERN = r"^(cut|(crossfade|fade):[0-9]{1,6}(\.[0-9]{1,6})?)$"
_RE = re.compile(r"^(cut|crossfade|fade)(?::([0-9]{1,6}(?:\.[0-9]{1,6})?))?$")


class TransitionError(InputError, ValueError):
    """Text that is not a transition, or a length out of range. ``str()`` is one line naming
    ``where``; ``reason`` is the same without it (for callers that print their own location)."""

    def __init__(self, where: str, reason: str):
        self.where, self.reason = where, reason
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class Transition:
    kind: str               # "cut" | "crossfade" | "fade"
    seconds: float = 0.0    # 0 for cut

    def __str__(self) -> str:
        return format_transition(self)


CUT = Transition("cut", 0.0)


def seconds_ok(seconds: float) -> bool:
    """Whether a crossfade/fade may last ``seconds``."""
    return MIN_SECONDS < seconds <= MAX_SECONDS


def limits_text() -> str:
    return f"the length must be > {MIN_SECONDS:g} and <= {MAX_SECONDS:g} seconds"


def parse_transition(text: str | Transition | None, *, where: str = "transition") -> Transition:
    """``"crossfade:0.5"`` -> ``Transition("crossfade", 0.5)``; ``"cut"``, ``None`` or blank ->
    :data:`CUT`. Raises :class:`TransitionError` (an InputError and a ValueError) naming ``where``."""
    if isinstance(text, Transition):
        text = format_transition(text)
    if text is None or str(text).strip() == "":
        return CUT
    m = _RE.match(str(text).strip())
    if not m or (m.group(1) != "cut") != (m.group(2) is not None):
        raise TransitionError(where, f"{text!r} is not a transition: use {GRAMMAR} (e.g. {EXAMPLE})")
    kind = m.group(1)
    if kind == "cut":
        return CUT
    seconds = float(m.group(2))
    if not seconds_ok(seconds):
        raise TransitionError(where, f"{text!r}: {limits_text()}")
    return Transition(kind, seconds)


def format_transition(t: Transition) -> str:
    """The text form; ``parse_transition(format_transition(t)) == t`` for every parsed ``t`` (the
    grammar allows at most 6 decimals, which this prints exactly)."""
    if t.kind == "cut":
        return "cut"
    return f"{t.kind}:" + f"{t.seconds:.6f}".rstrip("0").rstrip(".")


def schema_extra() -> dict:
    """What the storyboard JSON schema says about a transition field (editors, and the test that
    walks these limits against the stitcher)."""
    return {"pattern": PATTERN,
            "x-chainer-transition": {"kinds": list(KINDS), "exclusiveMinimumSeconds": MIN_SECONDS,
                                     "maximumSeconds": MAX_SECONDS}}
