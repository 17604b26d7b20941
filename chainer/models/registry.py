"""Lookups over the model table: names and host ids -> :class:`ModelSpec`, a spec -> a host's id
and price, and the token formula. No model facts here (they are in :mod:`chainer.models.table`)."""
from __future__ import annotations

import math
from dataclasses import fields, replace
from fractions import Fraction
from typing import Any, Mapping

from .spec import FPS, FRAMES_MAX, FRAMES_MIN, RATIOS, ModelSpec, Price
from .table import ENTRIES

HOSTS = ("ark", "byteplus", "fal", "replicate")
# "volcengine" is Ark's other name; the emulator speaks Ark's ids and lists Ark's prices (its own
# host profiles, e.g. a BytePlus-shaped emulator, pass that host's name instead).
HOST_ALIASES = {"volcengine": "ark", "emulator": "ark"}

# provider-neutral name -> spec (the table itself)
MODELS: dict[str, ModelSpec] = {m.neutral: m for m in ENTRIES}

# Fields a storyboard's ``models:`` override may set.
OVERRIDABLE_FIELDS = tuple(f.name for f in fields(ModelSpec) if f.name not in ("id", "neutral", "hosts"))


class UnknownModel(KeyError):
    """A model name that is neither in the table nor given a capability override."""


class UnknownHost(ValueError):
    """A host name that is not one of HOSTS (or an alias)."""


def normalize_host(host: str) -> str:
    h = str(host).strip().lower()
    h = HOST_ALIASES.get(h, h)
    if h not in HOSTS:
        raise UnknownHost(f"unknown host {host!r}; known: {', '.join(HOSTS)}")
    return h


def _restrict(spec: ModelSpec, raw_id: str, modes: tuple[str, ...] | None,
              resolutions: tuple[str, ...] | None) -> ModelSpec:
    """The spec a raw host id stands for: only the modes (and resolutions) that id serves."""
    changes: dict[str, Any] = {"id": raw_id}
    if modes is not None:
        if "t2v" not in modes:
            changes["t2v"] = False
        if "first_frame" not in modes:
            changes["first_frame"] = False
        if "first_last" not in modes:
            changes["first_last"] = False
        if "references" not in modes:
            changes.update(max_reference_images=0, max_reference_videos=0, max_reference_audio=0)
    if resolutions is not None:
        changes["resolutions"] = tuple(r for r in spec.resolutions if r in resolutions)
        if spec.reference_resolutions:
            changes["reference_resolutions"] = tuple(r for r in spec.reference_resolutions
                                                     if r in resolutions)
    return replace(spec, **changes)


def _raw_ids() -> dict[str, tuple[str, ModelSpec]]:
    out: dict[str, tuple[str, ModelSpec]] = {}
    for spec in ENTRIES:
        for host, offer in spec.hosts.items():
            by_id: dict[str, list[str]] = {}
            for mode, raw in offer.ids.items():
                by_id.setdefault(raw, []).append(mode)
            for raw, modes in by_id.items():
                served = None if "*" in modes else tuple(modes)
                out[raw] = (host, _restrict(spec, raw, served, offer.resolutions))
    return out


# every host's raw id -> (host, spec restricted to what that id serves)
RAW_IDS: dict[str, tuple[str, ModelSpec]] = _raw_ids()


def known_names() -> tuple[str, ...]:
    """Every name resolve_model accepts without an override: neutral names, then raw host ids."""
    return tuple(MODELS) + tuple(RAW_IDS)


def _lookup(name: str) -> ModelSpec | None:
    if name in MODELS:
        return MODELS[name]
    if name in RAW_IDS:
        return RAW_IDS[name][1]
    return None


def resolve_model(name_or_host_id: str, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> ModelSpec:
    """The spec for a neutral name (``seedance-2.0``) or any host's raw id
    (``doubao-seedance-2-0-260128``, ``dreamina-seedance-2-0-260128``, ``bytedance/seedance-2.0``...).

    ``overrides`` maps names to dicts of ModelSpec fields; ``like: <known name>`` picks the base spec
    to copy (default: the known spec of the same name). An unknown name without an override raises
    :class:`UnknownModel`; an unknown override field raises KeyError.
    """
    name = name_or_host_id
    ov = dict((overrides or {}).get(name) or {})
    base_name = ov.pop("like", None)
    base = _lookup(name) if base_name is None else _lookup(str(base_name))
    if base is None:
        raise UnknownModel(name)
    unknown = set(ov) - set(OVERRIDABLE_FIELDS)
    if unknown:
        raise KeyError(f"unknown capability field(s) {sorted(unknown)}")
    if not ov and base.id == name:
        return base
    for key, value in list(ov.items()):
        if isinstance(value, list):
            if key == "rejects":
                ov[key] = frozenset(value)
            elif key == "ratio_rules":
                ov[key] = tuple((m, tuple(r)) for m, r in value)
            else:
                ov[key] = tuple(value)
    return replace(base, id=name, **ov)


def host_model_id(spec_or_name: ModelSpec | str, host: str, mode: str | None = None) -> str | None:
    """The id ``host`` knows this model by (for ``mode`` where the host has one id per mode, e.g.
    fal's endpoints or Ark's two 1.0 lite ids; without ``mode``: the first-frame one). None = the
    host does not offer it (in that mode). A name given by an override that the table does not
    know is returned unchanged (it is the user's own id)."""
    host = normalize_host(host)
    spec = resolve_model(spec_or_name) if isinstance(spec_or_name, str) else spec_or_name
    if spec.id not in MODELS and spec.id not in RAW_IDS:
        return spec.id
    if spec.id in RAW_IDS and RAW_IDS[spec.id][0] == host:
        return spec.id
    offer = spec.hosts.get(host)
    return None if offer is None else offer.id_for(mode)


def host_currency(host: str) -> str:
    """The currency ``host`` bills in (from its price tables)."""
    host = normalize_host(host)
    for spec in ENTRIES:
        offer = spec.hosts.get(host)
        if offer is not None and offer.prices is not None:
            return offer.prices.currency
    return "USD"    # a host with no known price at all (Replicate): it bills in USD


def offered_by(spec: ModelSpec) -> tuple[str, ...]:
    return tuple(h for h in HOSTS if h in spec.hosts)


def host_problem(spec: ModelSpec, host: str, mode: str | None = None,
                 resolution: str | None = None) -> str | None:
    """Why ``host`` cannot run this model (in ``mode`` / at ``resolution``), naming the host; None
    when it can. Overrides of unknown names are not checked (the user vouches for them)."""
    host = normalize_host(host)
    if spec.id not in MODELS and spec.id not in RAW_IDS:
        return None
    name = spec.neutral or spec.id
    offer = spec.hosts.get(host)
    if offer is None:
        where = ", ".join(offered_by(spec)) or "no host"
        return f"{name} is not offered on {host} (offered on: {where})"
    if mode is not None and offer.id_for(mode) is None:
        what = {"t2v": "text-to-video", "first_frame": "first-frame", "first_last":
                "first+last-frame", "references": "reference"}.get(mode, mode)
        return f"{host} does not offer {name} in {what} mode (it offers: " \
               f"{', '.join(offer.modes() or ())})"
    if resolution is not None and offer.resolutions is not None and \
            resolution.lower() not in offer.resolutions:
        return f"{host} does not offer {name} at {resolution} (allowed there: " \
               f"{', '.join(offer.resolutions)})"
    return None


def price_for(spec: ModelSpec | str, host: str, *, resolution: str, audio: bool | None = True,
              tier: str = "default", video_input: bool = False, draft: bool = False) -> Price | None:
    """The list price per million tokens on ``host`` for one request shape; None = unknown (or
    not offered). ``audio``: generate_audio (1.5 pro is cheaper silent). ``tier``: ``flex`` is the
    host's flex factor, None where the host/model has no flex. ``draft`` does not change the
    price: a draft clip's *usage* is reduced (see :func:`usage_tokens`). ``spec`` may be a name;
    ``audio`` None counts as True (the default of the models with audio)."""
    host = normalize_host(host)
    if isinstance(spec, str):
        spec = resolve_model(spec)
    offer = spec.hosts.get(host)
    if offer is None or offer.prices is None:
        return None
    table = offer.prices
    audio = True if audio is None else bool(audio)
    rate = table.lookup(resolution=resolution.lower(), audio=audio, video_input=video_input)
    if rate is None:
        return None
    if tier == "flex":
        if table.flex is None:
            return None
        rate = rate * table.flex
    return Price(per_mtok=round(rate, 6), currency=table.currency, as_of=table.as_of,
                 source=table.source)


def _exact(x: float | int | Fraction) -> Fraction:
    return x if isinstance(x, Fraction) else Fraction(str(x))


def usage_tokens(w: int, h: int, d_out: float | Fraction, d_in: float | Fraction = 0, *,
                 spec: ModelSpec | None = None, audio: bool = True, draft: bool = False,
                 video_input: bool = False) -> int:
    """Billed tokens: ``floor(W*H*(24*d_out + 1 + 24*d_in)/1024)`` (hosts-2026.md s4, observed;
    floor settled by APIYI's 48,437). ``d_out``/``d_in`` in seconds (a 1.0 ``frames`` request is
    ``d_out = (frames-1)/24``). With ``spec``: the 2.0 family's minimum when the input has video
    (``W*H*24*(d + ceil(2d/3))/1024``, derived from the official table) and the draft factor (x0.6
    with audio, x0.7 silent). ``video_input``: the input has video even if ``d_in`` is not known
    (the minimum still applies). UNCONFIRMED: whether Ark reports the draft reduction in ``usage`` or
    in the price; the cost is the same."""
    d_out, d_in = _exact(d_out), _exact(d_in)
    tokens = math.floor(Fraction(w * h) * (FPS * d_out + 1 + FPS * d_in) / 1024)
    if spec is not None and (d_in > 0 or video_input) and spec.video_input_minimum:
        d = math.ceil(d_out)
        tokens = max(tokens, (w * h * FPS * (d + math.ceil(Fraction(2 * d, 3)))) // 1024)
    if spec is not None and draft and spec.draft:
        tokens = math.floor(tokens * _exact(spec.draft_factor(audio)))
    return tokens


def closest_ratio(width: float, height: float) -> str:
    """The preset ratio closest to an image's aspect (what ``adaptive`` resolves to for i2v).

    UNCONFIRMED: Ark does not document how ``adaptive`` picks; nearest aspect in log space is the
    most plausible behaviour and is what both our planner and emulator use.
    """
    aspect = width / height

    def dist(r: str) -> float:
        a, b = (int(x) for x in r.split(":"))
        return abs(math.log(aspect) - math.log(a / b))

    return min(RATIOS, key=dist)


def documented_tokens(width: int, height: int, duration: int) -> int:
    """The documented formula ``W*H*24*d/1024`` (ark-api.md s11); real bills follow usage_tokens."""
    return (width * height * FPS * duration) // 1024


def frames_for_duration(duration: int) -> int:
    """Frames Ark actually returns for ``duration`` seconds: 24*d + 1 (observed, ark-api.md s11)."""
    return FPS * duration + 1


def billed_tokens(width: int, height: int, n_frames: int) -> int:
    """``usage.completion_tokens`` for ``n_frames`` output frames and no input video:
    ``floor(W*H*N_frames/1024)`` (= usage_tokens with d_out = (N-1)/24)."""
    return (width * height * n_frames) // 1024


def frames_valid(frames: int) -> bool:
    return FRAMES_MIN <= frames <= FRAMES_MAX and (frames - 25) % 4 == 0
