"""Storyboard -> Plan: sequences of PlannedShot with concrete sizes, request bodies and token/cost
estimates for one host. No network.

Tokens follow the billed formula ``floor(W*H*(24*d + 1)/1024)`` (:func:`chainer.models.usage_tokens`,
with the 1.5 pro draft factor). Prices come from ``pricing=`` (the ``--price`` flag), then the
storyboard's ``pricing:``, then the model table for the host (``chainer.models.price_for``), in the
host's currency; where none is known the cost is None ("unknown"), never invented, and every total
that includes it says so (:meth:`Plan.cost_text`). ``price_per_mtok`` is the price actually paid per
million tokens (flex included), so ``cost = tokens * price_per_mtok / 1e6`` always.
"""
from __future__ import annotations

import math
from fractions import Fraction
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from . import models as M
from .errors import InputError
from .storyboard import Storyboard, is_url, load_storyboard
from .storyboard_finishing import prompt_with_dialogue
from .storyboard_media import MediaError, data_url, image_info
from .transitions import format_transition, parse_transition

ASSUMED_RATIO = "16:9"
FLEX_PRICE_FACTOR = 0.5   # ark-api.md s2.1: flex is 50% of the online price (for price overrides)
DEFAULT_HOST = "ark"


@dataclass
class PlannedShot:
    id: str
    name: str
    index: int
    sequence: int
    position: int
    chained_from: str | None
    mode: str                      # t2v | first_frame | first_last | references
    model: M.ModelSpec
    prompt: str
    resolution: str
    ratio: str                     # concrete (adaptive resolved for size estimates)
    request_ratio: str             # what is sent (may be "adaptive")
    width: int
    height: int
    duration: int                  # sent duration (-1 = the model chooses)
    frames: int                    # expected frames: 24*duration + 1 (upper bound when auto)
    generate_audio: bool | None
    seed: int | None
    camera_fixed: bool | None
    watermark: bool
    service_tier: str
    image: str | None
    last_image: str | None
    references: dict[str, list[str]]
    return_last_frame: bool
    est_tokens: int
    est_cost: float | None
    price_per_mtok: float | None   # paid per million tokens (flex included); None = unknown
    seconds: float = 0.0           # expected seconds of video (upper bound when auto)
    frames_param: int | None = None  # 1.0 ``frames`` sent instead of duration
    draft_param: bool = False      # 1.5 pro ``draft: true``
    duration_auto: bool = False
    transition: str | None = None  # how this shot is entered when it starts a sequence
    est_wall_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    host: str = DEFAULT_HOST
    host_model: str | None = None  # the host's id for this model and mode
    currency: str = "CNY"
    price: M.Price | None = None   # where price_per_mtok comes from
    chain: str = "last_frame"      # how a chained shot continues: last_frame | extend (issue 14)
    input_seconds: float = 0.0     # extend: the previous clip's seconds sent as reference video
    takes: int = 1                 # tasks rendered for this shot (best-of-N, chainer.run.takes)

    @property
    def tokens(self) -> int:
        return self.est_tokens

    @property
    def cost(self) -> float | None:
        return self.est_cost

    @property
    def chained(self) -> bool:
        return self.chained_from is not None

    def params(self) -> dict[str, Any]:
        """The generation parameters (what summary.json records as ``params``)."""
        out: dict[str, Any] = {"resolution": self.resolution, "ratio": self.request_ratio}
        if self.frames_param is not None:
            out["frames"] = self.frames_param
        else:
            out["duration"] = self.duration
        out.update({"seed": self.seed, "camera_fixed": self.camera_fixed,
                    "generate_audio": self.generate_audio, "watermark": self.watermark,
                    "service_tier": self.service_tier, "return_last_frame": self.return_last_frame})
        if self.draft_param:
            out["draft"] = True
        return out

    def request_body(self, first_frame_url: str | None = None) -> dict:
        """The shot's full request (the Ark create body, built by ``providers/ark.py``: the one
        place that knows it); also the canonical description hashed into shot keys."""
        from .providers.ark import ark_body

        return ark_body(self, first_frame_url)

    def to_dict(self) -> dict:
        return {
            "id": self.id, "name": self.name, "index": self.index, "sequence": self.sequence,
            "position": self.position, "chained_from": self.chained_from, "mode": self.mode,
            "model": self.model.id, "prompt": self.prompt, "resolution": self.resolution,
            "ratio": self.ratio, "request_ratio": self.request_ratio, "width": self.width,
            "height": self.height, "duration": self.duration, "duration_auto": self.duration_auto,
            "seconds": self.seconds, "frames": self.frames, "frames_param": self.frames_param,
            "generate_audio": self.generate_audio, "seed": self.seed,
            "camera_fixed": self.camera_fixed, "watermark": self.watermark,
            "service_tier": self.service_tier, "draft": self.draft_param, "image": self.image,
            "last_image": self.last_image, "references": self.references,
            "return_last_frame": self.return_last_frame, "transition": self.transition,
            "params": self.params(), "host": self.host, "host_model": self.host_model,
            "tokens": self.est_tokens, "price_per_mtok": self.price_per_mtok,
            "currency": self.currency,
            "cost": None if self.est_cost is None else round(self.est_cost, 6),
            "price_as_of": self.price.as_of if self.price else None,
            "price_source": self.price.source if self.price else None,
            "est_tokens": self.est_tokens, "est_cost": self.est_cost,
            "est_wall_seconds": self.est_wall_seconds, "notes": list(self.notes),
            "chain": self.chain if self.chained else None, "input_seconds": self.input_seconds,
            "takes": self.takes,
        }


def _image_item(url: str, role: str) -> dict:
    return {"type": "image_url", "image_url": {"url": url}, "role": role}


def _inline(ref: str, kind: str) -> str:
    if is_url(ref):
        return ref
    try:
        return data_url(ref, kind)
    except (OSError, MediaError) as exc:
        raise InputError(f"{ref}: cannot read {kind}: {exc}") from None


@dataclass
class PlanSequence:
    index: int
    shots: list[PlannedShot]

    @property
    def est_wall_seconds(self) -> float:
        return sum(s.est_wall_seconds for s in self.shots)

    @property
    def est_tokens(self) -> int:
        return sum(s.est_tokens for s in self.shots)

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.shots)

    def to_dict(self) -> dict:
        return {"index": self.index, "shots": [s.id for s in self.shots],
                "seconds": self.seconds, "est_tokens": self.est_tokens,
                "est_wall_seconds": round(self.est_wall_seconds, 1)}


@dataclass
class Plan:
    storyboard: Storyboard
    sequences: list[PlanSequence]
    shots: list[PlannedShot]
    total_tokens: int
    total_cost: float | None
    cost_complete: bool
    paid_tasks: int
    critical_path: PlanSequence
    draft: bool = False
    currency: str = "CNY"
    notes: list[str] = field(default_factory=list)
    host: str = DEFAULT_HOST

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.shots)

    @property
    def unpriced_models(self) -> list[str]:
        return sorted({s.model.id for s in self.shots if s.price_per_mtok is None})

    def cost_text(self, shots: list[PlannedShot] | None = None) -> str:
        """The estimated cost of ``shots`` (default: all) as one phrase that never hides an unknown
        price: ``"12.34 CNY"``, ``"12.34 CNY + unknown (price unknown for X)"`` or ``"unknown (price
        unknown for X)"``. Every total shown to a user (plan, confirmation, budget) uses it."""
        return cost_text(self.shots if shots is None else shots, self.currency)

    def confirmation_text(self, shots: list[PlannedShot], where: str) -> str:
        """The question asked before paying for ``shots`` at ``where`` (the CLI asks it)."""
        n = len(shots)
        return f"Submit {n} paid task{'s' * (n != 1)} to {where} for about {self.cost_text(shots)}?"

    def shot(self, shot_id: str) -> PlannedShot:
        for s in self.shots:
            if s.id == shot_id:
                return s
        raise KeyError(shot_id)

    def to_dict(self) -> dict:
        sb = self.storyboard
        return {
            "title": sb.title, "storyboard": str(sb.source), "output": sb.output.file,
            "draft": self.draft, "currency": self.currency,
            "shots": [s.to_dict() for s in self.shots],
            "sequences": [q.to_dict() for q in self.sequences],
            "host": self.host,
            "totals": {"shots": len(self.shots), "sequences": len(self.sequences),
                       "paid_tasks": self.paid_tasks, "seconds": self.seconds,
                       "tokens": self.total_tokens, "currency": self.currency,
                       # cost of the priced shots only; cost_complete/cost_text say when partial
                       "cost": None if self.total_cost is None else round(self.total_cost, 6),
                       "cost_complete": self.cost_complete, "cost_text": self.cost_text(),
                       "est_tokens": self.total_tokens,
                       "est_cost": None if self.total_cost is None else round(self.total_cost, 4),
                       "unpriced_models": self.unpriced_models},
            "critical_path": {**self.critical_path.to_dict(), "sequence": self.critical_path.index},
            "notes": list(self.notes),
        }


def cost_text(shots: list[PlannedShot], currency: str) -> str:
    """See :meth:`Plan.cost_text`."""
    priced = [s.est_cost * getattr(s, "takes", 1) for s in shots if s.est_cost is not None]
    unpriced = sorted({s.model.id for s in shots if s.est_cost is None})
    why = f" (price unknown for {', '.join(unpriced)})" if unpriced else ""
    if not priced and unpriced:
        return "unknown" + why
    text = f"{sum(priced):,.2f} {currency}"
    return text + (" + unknown" + why if unpriced else "")


# ---- building ---------------------------------------------------------------------------------
def build_plan(storyboard_or_path: Storyboard | str | Path, *, draft: bool = False,
               pricing: Mapping[str, float] | None = None, host: str = DEFAULT_HOST,
               chain: str | None = None) -> Plan:
    """Plan every shot for ``host`` (ark, byteplus, fal, replicate; emulator = ark). ``draft``: each
    shot uses its model's fast variant (when it supports the shot's mode) at 480p. ``pricing``: the
    host's currency per million tokens by model name (beats the storyboard's). A model or mode the
    host does not offer is an InputError naming the host."""
    host = _host(host)
    sb = storyboard_or_path if isinstance(storyboard_or_path, Storyboard) \
        else load_storyboard(storyboard_or_path, host=host)
    prices = {**sb.pricing, **(pricing or {})}
    shots: list[PlannedShot] = []
    sequences: list[PlanSequence] = []
    for q, indexes in enumerate(sb.sequences()):
        seq = PlanSequence(q, [])
        for pos, i in enumerate(indexes):
            prev = seq.shots[-1] if pos else None
            ps = _plan_shot(sb, i, q, pos, prev, is_last=pos == len(indexes) - 1, draft=draft,
                            prices=prices, host=host, chain=chain)
            seq.shots.append(ps)
            shots.append(ps)
        sequences.append(seq)
    priced = [s.est_cost * s.takes for s in shots if s.est_cost is not None]
    notes = sorted({n for s in shots for n in s.notes}, key=lambda n: n)
    multi = [s for s in shots if s.takes > 1]
    if multi:
        notes.append("takes: " + ", ".join(f"{s.id} x{s.takes}" for s in multi) + " rendered in "
                     "parallel: cost counts every take, wall time about one take's")
    unpriced = sorted({s.model.id for s in shots if s.price_per_mtok is None})
    currency = M.host_currency(host)
    from .providers.choose import host_notes

    notes += host_notes(host, chained=any(s.chained_from for s in shots))
    if unpriced:
        notes.append(f"price unknown on {host} for " + ", ".join(unpriced) + ": tokens shown, cost "
                     f"left out of every total (set pricing: {{model: {currency} per million "
                     f"tokens}} or --price MODEL={currency})")
    return Plan(storyboard=sb, sequences=sequences, shots=shots,
                total_tokens=sum(s.est_tokens * s.takes for s in shots),
                total_cost=sum(priced) if priced else None,
                cost_complete=len(priced) == len(shots), paid_tasks=sum(s.takes for s in shots),
                critical_path=max(sequences, key=lambda s: s.est_wall_seconds),
                draft=draft, notes=notes, currency=currency, host=host)


def compare_chain(storyboard_or_path: Storyboard | str | Path, **kw) -> dict[str, Plan]:
    """The storyboard planned with every chained shot as ``last_frame`` and as ``extend``."""
    sb = storyboard_or_path if isinstance(storyboard_or_path, Storyboard) \
        else load_storyboard(storyboard_or_path, host=kw.get("host", DEFAULT_HOST))
    return {mode: build_plan(sb, chain=mode, **kw) for mode in ("last_frame", "extend")}


def _host(host: str) -> str:
    try:
        return M.normalize_host(host)
    except M.UnknownHost as exc:
        raise InputError(f"--provider: {exc}") from None


def _transition(sb: Storyboard, i: int) -> str | None:
    """The transition into shot ``i`` in its one canonical text form (None: chained / none)."""
    text = sb.transition_for(i)
    return None if text is None else format_transition(parse_transition(text, where="transition"))


def _draft_spec(sb: Storyboard, spec: M.ModelSpec, mode: str, refs) -> M.ModelSpec:
    if not spec.fast_variant:
        return spec
    try:
        fast = M.resolve_model(spec.fast_variant, sb.models)
    except (M.UnknownModel, KeyError):
        return spec
    if spec.id in M.RAW_IDS:       # keep the user's style: a host id gets that host's fast id
        raw = M.host_model_id(fast, M.RAW_IDS[spec.id][0], mode)
        if raw is not None:
            fast = M.resolve_model(raw, sb.models)
    if mode not in fast.modes:
        return spec
    if refs is not None and (len(refs.images) > fast.max_reference_images
                             or len(refs.videos) > fast.max_reference_videos
                             or len(refs.audio) > fast.max_reference_audio):
        return spec
    return fast


def _plan_shot(sb: Storyboard, i: int, q: int, pos: int, prev: PlannedShot | None, *,
               is_last: bool, draft: bool, prices: Mapping[str, float], host: str,
               chain: str | None = None) -> PlannedShot:
    from .extension import billed_input_seconds, supports_extension

    shot = sb.shots[i]
    eff = lambda name: sb.effective(shot, name)  # noqa: E731
    spec = sb.model_spec(shot)
    mode = sb.mode(i)
    notes: list[str] = []
    if draft:
        fast = _draft_spec(sb, spec, mode, shot.references)
        spec = fast
    chain_mode = sb.chain_mode(i)
    if chain_mode is not None and chain is not None:
        chain_mode = chain
    if chain_mode == "extend" and not supports_extension(spec.family, spec.max_reference_videos):
        notes.append(f"{spec.id} cannot extend a video: chained by last frame")
        chain_mode = "last_frame"
    extend = chain_mode == "extend" and prev is not None
    if extend:
        mode = "references"        # the request: a reference video, no frame image
    draft_param = bool(eff("draft")) and spec.draft
    resolution = "480p" if (draft or draft_param) else (eff("resolution") or spec.default_resolution)

    # ratio: what is sent, and the concrete one used for sizes
    request_ratio = eff("ratio") or spec.default_ratio(mode)
    ratio = request_ratio
    image = sb.resolve_media(shot.image) if shot.image else None
    if request_ratio == "adaptive":
        if prev is not None:
            ratio = prev.ratio
        elif image is not None and not is_url(image):
            try:
                info = image_info(image)
                ratio = M.closest_ratio(info.width, info.height)
            except MediaError:
                ratio = ASSUMED_RATIO
        else:
            ratio = ASSUMED_RATIO
            what = {"t2v": "text-to-video", "references": "reference mode"}.get(mode, "URL image")
            notes.append(f"adaptive ratio assumed {ASSUMED_RATIO} for {what} shots "
                         "(Ark picks the ratio; size and cost may differ)")
    width, height = spec.pixels(resolution, ratio)

    # duration / frames
    frames_param = eff("frames") if spec.frames else None
    duration = eff("duration")
    duration_auto = False
    if frames_param is not None:
        seconds = (frames_param - 1) / M.FPS
        frames = frames_param
        duration = math.ceil(seconds)
    else:
        if duration is None:
            duration = 5
        if duration == -1:
            duration_auto = True
            seconds = float(spec.max_duration)
            notes.append("duration -1 (model chooses): estimates use the maximum, "
                         f"{spec.max_duration} s, as an upper bound")
        else:
            seconds = float(duration)
        frames = M.frames_for_duration(int(seconds))

    generate_audio = eff("generate_audio")
    if spec.audio:
        generate_audio = spec.audio_default if generate_audio is None else generate_audio
    else:
        generate_audio = None if generate_audio is None else False
    refs = shot.references
    references = {"images": [sb.resolve_media(r) for r in refs.images],
                  "videos": [sb.resolve_media(r) for r in refs.videos],
                  "audio": [sb.resolve_media(r) for r in refs.audio]} if refs else {}
    with_video = bool(refs and refs.videos)
    input_seconds = 0.0
    if extend:
        # the previous clip (24*d + 1 frames) is billed as input seconds (chainer.extension)
        input_seconds = (prev.frames - 1) / M.FPS
        with_video = True
    elif with_video:
        notes.append("reference videos are billed as input seconds too (not counted: their "
                     "length is not fetched; the model's minimum for video input is applied)")
    service_tier = eff("service_tier") or "default"
    audio = bool(generate_audio)
    d_in = Fraction(billed_input_seconds(input_seconds)).limit_denominator(1000) if extend else 0
    est_tokens = M.usage_tokens(width, height, Fraction(frames - 1, M.FPS), d_in, spec=spec,
                                audio=audio, draft=draft_param, video_input=with_video)
    if draft_param:
        notes.append(f"draft clips are billed x{spec.draft_factor(audio):g} tokens "
                     f"({'with' if audio else 'without'} audio)")
    price = _price(spec, host, prices, resolution=resolution, audio=audio, tier=service_tier,
                   video_input=with_video, draft=draft_param)
    est_cost = None if price is None else est_tokens * price.per_mtok / 1e6
    if request_ratio == "adaptive" and spec.ratios_for(mode) == ("adaptive",):
        notes.append(f"{spec.id} {mode.replace('_', '-')} shots are sent with ratio adaptive "
                     "(the model requires it; the clip takes the first frame's aspect)")
    host_model = M.host_model_id(spec, host, mode)

    chained_from = prev.id if (prev is not None and not sb.starts_sequence(i)) else None
    prompt = shot.prompt
    if generate_audio and getattr(shot, "dialogue", None) is not None:
        # the model speaks the lines: they go out in the prompt (the only channel for speech);
        # set here so the shot key, the request and summary.json all carry the prompt sent
        prompt = prompt_with_dialogue(prompt, shot.dialogue)
    return PlannedShot(
        id=shot.id, name=shot.name or shot.id, index=i, sequence=q, position=pos,
        chained_from=chained_from, mode=mode, model=spec, prompt=prompt,
        resolution=resolution, ratio=ratio, request_ratio=request_ratio, width=width,
        height=height, duration=duration if not duration_auto else -1, frames=frames,
        generate_audio=generate_audio,
        seed=eff("seed") if spec.seed else None,
        camera_fixed=eff("camera_fixed") if spec.camera_fixed else None,
        watermark=bool(eff("watermark")), service_tier=service_tier,
        image=image, last_image=sb.resolve_media(shot.last_image) if shot.last_image else None,
        references=references, return_last_frame=not is_last and not draft_param,
        est_tokens=est_tokens, est_cost=est_cost,
        price_per_mtok=None if price is None else price.per_mtok, seconds=seconds,
        frames_param=frames_param, draft_param=draft_param, duration_auto=duration_auto,
        transition=_transition(sb, i),
        est_wall_seconds=spec.seconds_per_output_second * seconds, notes=notes, host=host,
        host_model=host_model, currency=M.host_currency(host), price=price,
        chain="extend" if (extend and chained_from) else "last_frame",
        input_seconds=input_seconds if (extend and chained_from) else 0.0,
        takes=int(eff("takes") or 1))


def _price(spec: M.ModelSpec, host: str, overrides: Mapping[str, float], *, resolution: str,
           audio: bool, tier: str, video_input: bool, draft: bool) -> M.Price | None:
    """The user's price (by the name the storyboard uses, or the neutral name) beats the table's."""
    for name in (spec.id, spec.neutral):
        if name and name in overrides:
            per = float(overrides[name])
            if tier == "flex":
                listed = M.price_for(spec, host, resolution=resolution, audio=audio, tier="default",
                                     video_input=video_input, draft=draft)
                flexed = M.price_for(spec, host, resolution=resolution, audio=audio, tier="flex",
                                     video_input=video_input, draft=draft)
                per *= (flexed.per_mtok / listed.per_mtok) if (listed and flexed) \
                    else FLEX_PRICE_FACTOR
            return M.Price(per_mtok=per, currency=M.host_currency(host), as_of="",
                           source="user override (pricing: / --price)")
    return M.price_for(spec, host, resolution=resolution, audio=audio, tier=tier,
                       video_input=video_input, draft=draft)
