"""Video extension in the emulator (``chain: extend``): recognise the request, check it like Ark,
bill the input video, and tell the renderer where the clip starts.

hosts-2026.md s2: on Seedance 2.0 extension is an r2v request (``reference_video`` items) whose
prompt uses the official form ("extend video 1 ...", "向后延长「视频1」...", "生成「视频1」之后的内容");
on 2.5 ``omni_reference_task_type: extend`` selects it explicitly. The output holds only the new
content ("输入视频原有片段，不会重复生成"): the emulator renders the continuation of the reference's
last frame, movers carrying on with their velocity (:mod:`chainer.emulator.motion`), starting one
frame after the reference's end.

Billing: the one usage rule, :func:`chainer.models.usage_tokens` (tasks.py; hosts-2026.md s4).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image

from ..extension import EXTEND_FAMILIES
from . import motion
from .validate import ApiError, invalid

# "extend video 1", "extend video1 forward", "向后延长「视频1」", "延长视频1", "生成「视频1」之后的内容"
_EXTEND = re.compile(
    r"\bextend(?:s|ing)?\s+(?:the\s+)?video\s*(\d+)\b(?!\s*(?:backwards?|before))"
    r"|向后延长\s*[「\"“]?\s*视频\s*(\d+)|(?<!向前)延长\s*[「\"“]?\s*视频\s*(\d+)"
    r"|生成\s*[「\"“]?\s*视频\s*(\d+)\s*[」\"”]?\s*之后",
    re.IGNORECASE)


def extension_target(prompt: str, n_videos: int, task_type: str | None = None) -> int | None:
    """0-based index of the reference video the request extends, or None (not an extension).

    ``task_type`` is 2.5's ``omni_reference_task_type``; ``extend`` with no "video n" in the
    prompt extends video 1. Backward extension ("extend video 1 backward", "向前延长") is not a
    continuation and renders like any reference request."""
    m = _EXTEND.search(prompt or "")
    if m is None:
        return 0 if task_type == "extend" and n_videos else None
    return int(next(g for g in m.groups() if g)) - 1


def check_extension(model: str, family: str, prompt: str, n_videos: int,
                    task_type: str | None = None) -> int | None:
    """What Ark refuses about an extension request; returns :func:`extension_target`.

    Durations (each reference video 2-15 s, <= 15 s in total) are checked where the videos are
    downloaded (validate.py). UNCONFIRMED: Ark's answer to "extend video 3" with one video; we
    refuse it (400) rather than guess which clip to continue."""
    if task_type == "extend" and not n_videos:
        raise ApiError(400, "InvalidParameter.TaskTypeConstraint",
                       "omni_reference_task_type extend needs a reference_video to extend",
                       "omni_reference_task_type")
    target = extension_target(prompt, n_videos, task_type)
    if target is None:
        return None
    if family not in EXTEND_FAMILIES:
        raise invalid("content", f"{model} does not support video extension")
    if not 0 <= target < n_videos:
        raise invalid("content", f"the prompt extends video {target + 1} but the request has "
                                 f"{n_videos} reference video(s)")
    return target


def last_frame(video: str | Path) -> Image.Image:
    """The last decoded frame of a reference video (what the model continues from)."""
    from ..media import ffmpeg
    from ..media.probe import probe

    v = probe(video).video
    if v is None or not v.width or not v.height:
        raise ValueError(f"{video}: no video stream")
    last = None
    for frame in ffmpeg.decode_frames(video, v.width, v.height):
        last = frame
    if last is None:
        raise ValueError(f"{video}: no decodable frames")
    return Image.fromarray(np.array(last))


def render_start(req, data_dir: str | Path, crop) -> tuple[Image.Image | None, motion.Start | None]:
    """(first image, motion start) for a validated request. ``crop(img, W, H)`` is the renderer's
    crop rule. An extension starts from its reference's last frame and end state (``continue``);
    a first frame the emulator rendered as a last frame starts with a ``stall``; anything else
    renders as before (``fresh``)."""
    if getattr(req, "extend_index", None) is not None:
        video = req.reference_videos[req.extend_index]
        base = crop(last_frame(video), req.width, req.height)
        return base, motion.Start("continue", motion.lookup_video(video))
    if req.first_image is None:
        return None, None
    first = crop(req.first_image, req.width, req.height)
    state = motion.lookup_image(data_dir, np.asarray(first))
    return first, motion.Start("stall", state) if state is not None else None
