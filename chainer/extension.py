"""Chaining by extension (``chain: extend``): the request parts, the local rules, the billing.

An extension sends the previous clip as a reference video (its result URL while fresh: Ark takes
reference videos only as URLs or assets) with the official prompt form, and the model continues
its motion; the output holds only the new content (hosts-2026.md s2). What this module decides,
so the planner, the runner, the emulator and the plan's prices agree:

- :func:`extension_prompt` / :func:`extension_content`: the request (2.0: the prompt form
  "extend video 1, ..."; 2.5 also ``omni_reference_task_type: extend``);
- :func:`check_extension_source`: the previous clip is usable as the reference (2-15 s, <= 15 s
  in total), else which tail to send where the host accepts a cut, else one clear line;
- :func:`tokens_with_video_input`: ``floor(W*H*(24*d_out + 1 + 24*d_in)/1024)`` with the 2.0
  family's minimum ``W*H*24*(d + ceil(2d/3))/1024`` (hosts-2026.md s4, issue 12), billed at the
  video-input price.

The library never talks to a host here; it builds and checks.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from .errors import InputError

VIDEO_MIN_S, VIDEO_MAX_S, VIDEO_TOTAL_MAX_S = 2.0, 15.0, 15.0
EXTEND_FAMILIES = ("2.0", "2.5")     # models that take reference videos (hosts-2026.md s1b)
_FORM = re.compile(r"^\s*(extend\s+video\s*\d+|向后延长\s*「?视频\s*\d+」?)", re.IGNORECASE)
FPS = 24


def supports_extension(family: str, max_reference_videos: int) -> bool:
    """Whether a model can extend a clip (it must take reference videos)."""
    return family in EXTEND_FAMILIES and max_reference_videos > 0


def extension_prompt(prompt: str, video: int = 1) -> str:
    """The official extension form: "extend video N, <prompt>" (kept as is when already there).

    UNCONFIRMED: the English wording. The official guide's Chinese form is "向后延长「视频1」...";
    BytePlus' English docs and 2.5's keyword detection use "extend video 1"."""
    if _FORM.match(prompt or ""):
        return prompt
    return f"extend video {video}, {prompt.strip()}" if prompt and prompt.strip() else f"extend video {video}"


def extension_content(prompt: str, video_url: str, family: str) -> tuple[list[dict], dict]:
    """(``content`` items, extra body fields) of an extension request continuing ``video_url``.

    No frame roles: a first/last-frame image cannot be mixed with reference media (hosts s2). On
    2.5 the task type is explicit (a synchronous 400 if the request does not fit beats an
    asynchronous failure after queueing); ``ratio`` must be ``adaptive`` there."""
    content = [{"type": "text", "text": extension_prompt(prompt)},
               {"type": "video_url", "video_url": {"url": video_url}, "role": "reference_video"}]
    extra: dict = {}
    if family == "2.5":
        extra = {"omni_reference_task_type": "extend", "ratio": "adaptive"}
    return content, extra


@dataclass(frozen=True)
class ExtensionSource:
    """What of the previous clip to send: all of it, or its last ``seconds`` (a cut)."""

    duration: float
    start: float = 0.0

    @property
    def seconds(self) -> float:
        return self.duration - self.start

    @property
    def cut(self) -> bool:
        return self.start > 0


def check_extension_source(duration: float, *, model: str, family: str, max_reference_videos: int,
                           host_accepts_cut: bool = False, where: str = "") -> ExtensionSource:
    """The previous clip as an extension reference, or :class:`InputError` (one clear line).

    ``duration``: the previous clip's length in seconds. Longer than 15 s: its last 15 s where the
    host accepts a cut clip (an uploaded asset; a result URL cannot be cut), else refused.
    ``where`` names the storyboard place for the message (e.g. "storyboard.yaml: shots[3].chain")."""
    at = f"{where}: " if where else ""
    if not supports_extension(family, max_reference_videos):
        raise InputError(f"{at}chain: extend needs a model that extends video (Seedance 2.0 family "
                         f"or 2.5); {model} does not")
    if duration < VIDEO_MIN_S:
        raise InputError(f"{at}chain: extend needs a previous clip of at least {VIDEO_MIN_S:g} s "
                         f"(it is {duration:.2f} s); use chain: last_frame for this shot")
    if duration > VIDEO_MAX_S + 0.5 / FPS:
        if not host_accepts_cut:
            raise InputError(f"{at}chain: extend takes a reference video of at most {VIDEO_MAX_S:g} s "
                             f"and the previous clip is {duration:.2f} s (this host cannot take a cut "
                             "of it); use chain: last_frame for this shot")
        return ExtensionSource(duration, duration - VIDEO_TOTAL_MAX_S)
    return ExtensionSource(duration)


def billed_input_seconds(duration: float) -> float:
    """Input-video seconds as billed. UNCONFIRMED: a clip of whole seconds plus or minus a frame
    (Seedance's own 4 s clips are 97 frames = 4.04 s) counts as the whole seconds, which
    reproduces the one observed case (4 s of video in, 96 frames billed); anything else exactly."""
    whole = round(duration)
    return float(whole) if abs(duration - whole) <= 1.5 / FPS else duration


def tokens_with_video_input(width: int, height: int, n_frames: int, input_seconds: Sequence[float],
                            family: str) -> int:
    """``usage.completion_tokens`` of a task with ``input_seconds`` of reference video: the one
    usage rule (:func:`chainer.models.usage_tokens`, with the 2.0 family's minimum), fed the input
    seconds as billed (:func:`billed_input_seconds`)."""
    from fractions import Fraction

    from . import models as M

    spec = next((m for m in M.MODELS.values() if m.family == family), None)
    d_in = sum(Fraction(billed_input_seconds(d)).limit_denominator(1000) for d in input_seconds)
    return M.usage_tokens(width, height, Fraction(n_frames - 1, FPS), d_in, spec=spec,
                          video_input=bool(input_seconds))
