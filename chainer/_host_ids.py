"""Per-host Seedance model ids (hosts-2026.md s1a, s5, s6), private to the host adapters/emulator.

# TODO(merge): read chainer.models — the "models" branch builds the one model table with
# ``resolve_model(name_or_host_id)`` and ``host_model_id(spec_or_name, host) -> str | None``. This
# module only exists until that lands: swap :func:`host_model_id` / :func:`neutral_name` for
# ``chainer.models`` and delete this file.

Names are the provider-neutral ones of issue 13 (``seedance-2.0`` ...). ``None`` = the host does not
offer the model. fal ids are *endpoint prefixes*: the adapter appends ``/text-to-video`` or
``/image-to-video`` (fal splits them into separate endpoints).
"""
from __future__ import annotations

HOSTS = ("ark", "byteplus", "fal", "replicate")

NEUTRAL_NAMES = ("seedance-1.0-lite", "seedance-1.0-pro", "seedance-1.0-pro-fast", "seedance-1.5-pro",
                 "seedance-2.0", "seedance-2.0-fast", "seedance-2.0-mini", "seedance-2.5")

# neutral -> (Volcengine Ark id for text-to-video, for image-to-video). Only 1.0 lite differs.
ARK_IDS: dict[str, tuple[str, str]] = {
    "seedance-1.0-lite": ("doubao-seedance-1-0-lite-t2v-250428", "doubao-seedance-1-0-lite-i2v-250428"),
    "seedance-1.0-pro": ("doubao-seedance-1-0-pro-250528",) * 2,
    "seedance-1.0-pro-fast": ("doubao-seedance-1-0-pro-fast-251015",) * 2,
    "seedance-1.5-pro": ("doubao-seedance-1-5-pro-251215",) * 2,
    "seedance-2.0": ("doubao-seedance-2-0-260128",) * 2,
    "seedance-2.0-fast": ("doubao-seedance-2-0-fast-260128",) * 2,
    "seedance-2.0-mini": ("doubao-seedance-2-0-mini-260615",) * 2,
    "seedance-2.5": ("doubao-seedance-2-5-260628",) * 2,
}

HOST_IDS: dict[str, dict[str, str | None]] = {
    # hosts-2026.md s1a: no 1.0 lite internationally; 2.x need the dreamina- prefix.
    "byteplus": {
        "seedance-1.0-lite": None,
        "seedance-1.0-pro": "seedance-1-0-pro-250528",
        "seedance-1.0-pro-fast": "seedance-1-0-pro-fast-251015",
        "seedance-1.5-pro": "seedance-1-5-pro-251215",
        "seedance-2.0": "dreamina-seedance-2-0-260128",
        "seedance-2.0-fast": "dreamina-seedance-2-0-fast-260128",
        "seedance-2.0-mini": "dreamina-seedance-2-0-mini-260615",
        "seedance-2.5": "dreamina-seedance-2-5-260628",
    },
    # hosts-2026.md s6. No 2.0 mini endpoint found on fal (UNCONFIRMED absence).
    "fal": {
        "seedance-1.0-lite": "fal-ai/bytedance/seedance/v1/lite",
        "seedance-1.0-pro": "fal-ai/bytedance/seedance/v1/pro",
        "seedance-1.0-pro-fast": "fal-ai/bytedance/seedance/v1/pro/fast",
        "seedance-1.5-pro": "fal-ai/bytedance/seedance/v1.5/pro",
        "seedance-2.0": "bytedance/seedance-2.0",
        "seedance-2.0-fast": "bytedance/seedance-2.0/fast",
        "seedance-2.0-mini": None,
        "seedance-2.5": "bytedance/seedance-2.5",
    },
    # hosts-2026.md s6 / ark-api.md s15. 1-pro-fast and 2.5 are reported, not confirmed (UNCONFIRMED).
    "replicate": {
        "seedance-1.0-lite": "bytedance/seedance-1-lite",
        "seedance-1.0-pro": "bytedance/seedance-1-pro",
        "seedance-1.0-pro-fast": "bytedance/seedance-1-pro-fast",
        "seedance-1.5-pro": "bytedance/seedance-1.5-pro",
        "seedance-2.0": "bytedance/seedance-2.0",
        "seedance-2.0-fast": "bytedance/seedance-2.0-fast",
        "seedance-2.0-mini": None,
        "seedance-2.5": "bytedance/seedance-2.5",
    },
}

FAL_MODES = ("text-to-video", "image-to-video")


def neutral_name(name_or_host_id: str) -> str | None:
    """The neutral name for a neutral name, a Volcengine id or any host's id; None if unknown."""
    if name_or_host_id in ARK_IDS:
        return name_or_host_id
    for neutral, ids in ARK_IDS.items():
        if name_or_host_id in ids:
            return neutral
    for table in HOST_IDS.values():
        for neutral, hid in table.items():
            if hid is not None and name_or_host_id == hid:
                return neutral
    for neutral, prefix in HOST_IDS["fal"].items():   # full fal endpoint ids
        if prefix is not None and name_or_host_id in (f"{prefix}/{m}" for m in FAL_MODES):
            return neutral
    return None


_FAL_KIND = {"t2v": "text-to-video", "first_frame": "image-to-video", "first_last": "image-to-video",
             "references": "reference-to-video"}


def host_model_id(spec_or_name, host: str, mode: str | None = None) -> str | None:
    """The id ``host`` knows a model by, for ``mode`` (t2v | first_frame | first_last | references;
    None = first_frame, the chaining case); None if the host does not offer it. Same signature as
    ``chainer.models.host_model_id`` on the models branch. fal ids are full endpoint ids
    (``bytedance/seedance-2.0/image-to-video``); Ark's 1.0 lite has one id per mode."""
    name = spec_or_name if isinstance(spec_or_name, str) else spec_or_name.id
    neutral = neutral_name(name)
    if neutral is None:
        return None
    if host == "ark":
        return ARK_IDS[neutral][0 if mode == "t2v" else 1]
    hid = HOST_IDS[host][neutral]
    if hid is None:
        return None
    if host == "fal":
        return f"{hid}/{_FAL_KIND.get(mode or 'first_frame', 'image-to-video')}"
    return hid


def ark_id(name: str, *, image_to_video: bool = True) -> str | None:
    """The Volcengine id of a model (the emulator validates against the Volcengine table)."""
    return host_model_id(name, "ark", "first_frame" if image_to_video else "t2v")


# ---- prices per host, in the host's currency (hosts-2026.md s4-s6) ----------------------------------
# USD per million tokens. None = unknown (never invented). Keys: neutral name -> resolution
# ("*" = any) -> price; "video" entries apply when the request carries reference videos;
# "silent" when generate_audio is false.
HOST_CURRENCY = {"ark": "CNY", "byteplus": "USD", "fal": "USD", "replicate": "USD"}

_BYTEPLUS_PRICES: dict[str, dict[str, float]] = {
    "seedance-1.0-pro": {"*": 2.5},
    "seedance-1.5-pro": {"*": 2.4, "silent": 1.2},
    "seedance-2.0": {"480p": 7.0, "720p": 7.0, "1080p": 7.7, "4k": 4.0,
                     "video:480p": 4.3, "video:720p": 4.3, "video:1080p": 4.7, "video:4k": 2.4},
    "seedance-2.0-fast": {"*": 5.6, "video:*": 3.3},
    "seedance-2.0-mini": {"*": 3.5, "video:*": 2.1},
    "seedance-2.5": {"480p": 10.7, "720p": 10.7, "1080p": 11.7,
                     "video:480p": 6.4, "video:720p": 6.4, "video:1080p": 7.0},
}
# fal: "$0.014 per 1K tokens" for 2.0 etc. (hosts-2026.md s6), as USD per million tokens.
_FAL_PRICES: dict[str, dict[str, float]] = {
    "seedance-1.0-pro": {"*": 2.5},
    "seedance-1.0-pro-fast": {"*": 1.0},
    "seedance-1.5-pro": {"*": 2.4, "silent": 1.2},
    "seedance-2.0": {"*": 14.0},
    "seedance-2.5": {"480p": 21.4, "720p": 21.4, "1080p": 23.4},
}
_PRICES = {"byteplus": _BYTEPLUS_PRICES, "fal": _FAL_PRICES}


def price_for(spec_or_name, host: str, *, resolution: str, audio: bool | None = True,
              tier: str = "default", video_input: bool = False):
    """List price per million tokens on ``host`` as a ``Price(per_mtok, currency)``; None when
    unknown (Replicate publishes per-run prices we have no source for; fal 2.0 fast / 1.0 lite
    unknown) or for a tier the host does not sell. Same call shape as
    ``chainer.models.price_for`` on the models branch."""
    from .providers.base import Price

    if tier != "default":
        return None
    name = spec_or_name if isinstance(spec_or_name, str) else spec_or_name.id
    table = _PRICES.get(host, {}).get(neutral_name(name) or "")
    if not table:
        return None
    keys = []
    if video_input:
        keys += [f"video:{resolution}", "video:*"]
    if audio is False:
        keys.append("silent")
    keys += [resolution, "*"]
    for k in keys:
        if k in table:
            return Price(table[k], HOST_CURRENCY[host])
    return None
