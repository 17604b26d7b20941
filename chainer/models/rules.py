"""The cross-field rules, evaluated once over the table's data: given a spec, a mode and the fields
a request sets, list what Ark would refuse. The storyboard checker and the emulator's request
validator both call :func:`check_request` and only translate each :class:`Violation` (to a YAML
location, or to a 400 body); neither holds a model fact of its own.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from .registry import frames_valid
from .spec import (FRAMES_MAX, FRAMES_MIN, PRIORITY_MAX, PRIORITY_MIN, RATIOS_WITH_ADAPTIVE,
                   RESOLUTIONS, SEED_MAX, SEED_MIN, SERVICE_TIERS, ModelSpec)

# Ark's task-type names in its error texts (hosts-2026.md s3: "... for model M in <t2v|i2v|flf2v|r2v>")
TASK_TYPES = {"t2v": "t2v", "first_frame": "i2v", "first_last": "flf2v", "references": "r2v"}
MODE_NAMES = {"t2v": "text-to-video", "first_frame": "first-frame", "first_last": "first+last-frame",
              "references": "reference"}


@dataclass(frozen=True)
class Violation:
    field: str          # the create-body field (storyboard fields share the names)
    rule: str           # rejected | range | value | mode | combination | count
    message: str        # one line, names the model
    code: str = "InvalidParameter"


def check_request(spec: ModelSpec, mode: str, values: Mapping[str, Any], *,
                  n_images: int = 0, n_videos: int = 0, n_audio: int = 0) -> list[Violation]:
    """What Ark refuses in a ``mode`` request to ``spec`` setting ``values`` (create-body names;
    absent or None = not given; ``resolution`` matched case-insensitively). ``n_*``: reference
    counts (reference mode)."""
    v = {k: x for k, x in values.items() if x is not None}
    out: list[Violation] = []
    model = spec.id
    task = TASK_TYPES.get(mode, mode)

    def add(field: str, rule: str, message: str, code: str = "InvalidParameter") -> None:
        out.append(Violation(field, rule, message, code))

    # the mode itself
    if mode not in spec.modes and mode != "references":   # references: the counts below say it
        add("content", "mode", f"{model} has no {MODE_NAMES.get(mode, mode)} mode "
            f"(it has: {', '.join(MODE_NAMES[m] for m in spec.modes)})")
        return out
    # fields the model rejects outright (TS-BP: "not supported for model M in t2v, must be empty")
    for name in sorted(v):
        if name in spec.rejects:
            add(name, "rejected", f"the specified parameter `{name}` is not supported for model "
                f"{model} in {task}, must be empty")
    rejected = {x.field for x in out}

    def given(name: str) -> bool:
        return name in v and name not in rejected

    if v.get("generate_audio") and not spec.audio:
        # UNCONFIRMED: BytePlus accepts it on 1.0 (TS-BP), VEADK strips it on Volcengine 1.0;
        # hosts-2026.md s8a: keep it strict (a client asking a silent model for sound is wrong)
        add("generate_audio", "value", f"{model} does not generate audio: generate_audio must "
            "be false or absent")
    if given("seed") and not SEED_MIN <= v["seed"] <= SEED_MAX:
        add("seed", "range", f"{v['seed']} is out of range {SEED_MIN}..{SEED_MAX}")
    if given("priority") and not PRIORITY_MIN <= v["priority"] <= PRIORITY_MAX:
        add("priority", "range", f"{v['priority']} is out of range {PRIORITY_MIN}..{PRIORITY_MAX}")
    tier = v.get("service_tier") if given("service_tier") else None
    if tier is not None:
        if tier not in SERVICE_TIERS:
            add("service_tier", "value", f"{tier!r} is not one of {', '.join(SERVICE_TIERS)}")
        elif tier == "flex" and not spec.flex:
            add("service_tier", "value", f"flex is not supported by {model}")
        elif tier == "flex" and v.get("draft"):
            add("service_tier", "combination", "flex cannot be used with draft: true")
        elif tier == "flex" and given("priority") and v["priority"] != 0:
            add("priority", "combination", "priority cannot be used with the flex service tier")
    draft = bool(v.get("draft")) and given("draft")
    if v.get("draft") and not spec.draft and "draft" not in rejected:
        add("draft", "rejected", f"draft is not supported by {model}")
    if draft and spec.draft:
        res = str(v.get("resolution", "480p")).lower()
        if res not in spec.draft_resolutions:
            add("resolution", "combination", f"{v['resolution']} with draft: draft clips are "
                f"{' or '.join(spec.draft_resolutions)} only")
        if v.get("return_last_frame"):
            add("return_last_frame", "combination", "a draft clip returns no last frame: "
                "return_last_frame must be false with draft")
    if given("camera_fixed") and v["camera_fixed"] and mode == "references" and \
            not spec.camera_fixed_with_references:
        add("camera_fixed", "combination", f"camera_fixed is not supported with reference "
            f"images on {model}: remove it")
    # resolution / ratio
    if "resolution" in v:
        res = str(v["resolution"]).lower()
        allowed = spec.resolutions_for(mode)
        if res not in RESOLUTIONS:
            add("resolution", "value", f"{v['resolution']!r} is not a resolution (allowed on "
                f"{model}: {', '.join(allowed)})")
        elif res not in allowed:
            where = " with reference images" if mode == "references" and \
                res in spec.resolutions else ""
            add("resolution", "value", f"{res} is not available{where} on {model} (allowed: "
                f"{', '.join(allowed)})")
    if "ratio" in v:
        ratio = v["ratio"]
        allowed = spec.ratios_for(mode)
        if ratio not in RATIOS_WITH_ADAPTIVE:
            add("ratio", "value", f"{ratio!r} is not one of {', '.join(RATIOS_WITH_ADAPTIVE)}")
        elif ratio not in allowed:
            if allowed == ("adaptive",):
                msg = f"{model} requires ratio adaptive in {MODE_NAMES[mode]} mode"
            else:
                msg = f"ratio {ratio} is not accepted by {model} in {MODE_NAMES[mode]} mode " \
                      f"(allowed: {', '.join(allowed)})"
            add("ratio", "combination", msg, spec.ratio_rule_code)
    # length
    if given("frames"):
        if not spec.frames:
            add("frames", "rejected", f"frames is not supported by {model}: use duration "
                f"({spec.allowed_durations()} s)")
        elif not frames_valid(v["frames"]):
            add("frames", "range", f"{v['frames']} is not a valid frame count: use 25+4n in "
                f"{FRAMES_MIN}..{FRAMES_MAX} (e.g. 121 = 5 s)")
    if "duration" in v and not spec.duration_ok(v["duration"]):
        extra = " (or -1: the model chooses)" if spec.auto_duration else ""
        add("duration", "range", f"{v['duration']} is out of range {spec.min_duration}.."
            f"{spec.max_duration} for {model}{extra}")
    # 2.5 fields
    if given("output_format") and v["output_format"] not in spec.output_formats:
        add("output_format", "value", f"output_format {v['output_format']!r} is not accepted by "
            f"{model}" + (f" (allowed: {', '.join(spec.output_formats)})" if spec.output_formats
                          else ""))
    if given("omni_reference_task_type") and \
            v["omni_reference_task_type"] not in spec.omni_reference_task_types:
        add("omni_reference_task_type", "value", f"omni_reference_task_type "
            f"{v['omni_reference_task_type']!r} is not accepted by {model}"
            + (f" (allowed: {', '.join(spec.omni_reference_task_types)})"
               if spec.omni_reference_task_types else ""))
    if given("tools") and v["tools"]:
        if not spec.tools:
            add("tools", "rejected", f"{model} does not support tools")
        elif mode != "t2v":
            add("tools", "combination", "tools (web_search) work on text-only input only")
    # references
    if mode == "references":
        for name, n, limit in (("images", n_images, spec.max_reference_images),
                               ("videos", n_videos, spec.max_reference_videos),
                               ("audio", n_audio, spec.max_reference_audio)):
            noun = "reference audio" if name == "audio" else f"reference {name}"
            if n and limit == 0:
                add(f"references.{name}", "count", f"{model} does not accept {noun}")
            elif n > limit:
                add(f"references.{name}", "count", f"{n} {noun}; {model} accepts at most {limit}")
        total = n_images + n_videos + n_audio
        if spec.max_reference_total is not None and total > spec.max_reference_total:
            add("references", "count", f"{total} references; {model} accepts at most "
                f"{spec.max_reference_total} in all")
        if n_audio and not (n_images or n_videos) and not spec.audio_only_references:
            add("references.audio", "combination", f"reference audio alone is not allowed on "
                f"{model}: add at least one reference image or video")
    return out
