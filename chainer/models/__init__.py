"""The one Seedance model table: capabilities, cross-field rules, neutral names, per-host ids and
prices, and the token formula. Everything else (storyboard checks, planner, emulator, providers)
reads it; nothing else may hard-code a model's limits.

- :mod:`.spec`     the data types and Ark's fixed constants (pixel tables, ratios, image limits)
- :mod:`.table`    the entries, one per model, with the source of each fact
- :mod:`.registry` lookups: ``resolve_model``, ``host_model_id``, ``price_for``, ``usage_tokens``
- :mod:`.rules`    the cross-field rules both validators evaluate (``check_request``)

A model name not in the table may still be used when the storyboard gives a capability override
(``models: {<id>: {like: <known name>, ...overrides}}``). See :func:`resolve_model`.
"""
from __future__ import annotations

from .registry import (HOST_ALIASES, HOSTS, MODELS, OVERRIDABLE_FIELDS, RAW_IDS, UnknownHost,
                       UnknownModel, billed_tokens, closest_ratio, documented_tokens,
                       frames_for_duration, frames_valid, host_currency, host_model_id, host_problem,
                       known_names, normalize_host, offered_by, price_for, resolve_model,
                       usage_tokens)
from .rules import Violation, check_request
from .spec import (EXPIRES_DEFAULT, EXPIRES_MAX, EXPIRES_MIN, FPS, FRAMES_MAX, FRAMES_MIN,
                   IMAGE_FORMATS, IMAGE_FORMATS_HEIC, IMAGE_MAX_ASPECT, IMAGE_MAX_BYTES,
                   IMAGE_MAX_SIDE, IMAGE_MIN_ASPECT, IMAGE_MIN_SIDE, MODES, PIXEL_TABLES, PIXELS_V1,
                   PIXELS_V2, PIXELS_V25, PRIORITY_MAX, PRIORITY_MIN, RATIOS, RATIOS_WITH_ADAPTIVE,
                   REQUEST_MAX_BYTES, RESOLUTIONS, SEED_MAX, SEED_MIN, SERVICE_TIERS, ModelSpec,
                   Offer, Price, PriceTable)

__all__ = [
    "EXPIRES_DEFAULT", "EXPIRES_MAX", "EXPIRES_MIN", "FPS", "FRAMES_MAX", "FRAMES_MIN", "HOSTS",
    "HOST_ALIASES", "IMAGE_FORMATS", "IMAGE_FORMATS_HEIC", "IMAGE_MAX_ASPECT", "IMAGE_MAX_BYTES",
    "IMAGE_MAX_SIDE", "IMAGE_MIN_ASPECT", "IMAGE_MIN_SIDE", "MODELS", "MODES", "OVERRIDABLE_FIELDS",
    "PIXELS_V1", "PIXELS_V2", "PIXELS_V25", "PIXEL_TABLES", "PRIORITY_MAX", "PRIORITY_MIN",
    "RATIOS", "RATIOS_WITH_ADAPTIVE", "RAW_IDS", "REQUEST_MAX_BYTES", "RESOLUTIONS", "SEED_MAX",
    "SEED_MIN", "SERVICE_TIERS", "ModelSpec", "Offer", "Price", "PriceTable", "UnknownHost",
    "UnknownModel", "Violation", "billed_tokens", "check_request", "closest_ratio",
    "documented_tokens", "frames_for_duration", "frames_valid", "host_currency", "host_model_id", "host_problem",
    "known_names", "normalize_host", "offered_by", "price_for", "resolve_model", "usage_tokens",
]
