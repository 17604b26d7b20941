"""THE model table: one entry per Seedance model, with its capabilities, cross-field rules, per-host
ids and per-host prices. Adding a model is adding one entry here (and a line in docs/models.md).

Sources (full list in the shared reference docs hosts-2026.md s0 and ark-api.md s0, beside the repository):
  ARK-DOC   ark-api.md s2/s3/s10/s11 (official create doc, Dec 2025 / 2026 revisions)
  ARC-DOC   official Volcengine capability table + price page copies (Apr 2026), hosts-2026 s1b/s4
  TS-BP     live probes against BytePlus ModelArk (2026-07-31): which fields each model rejects
  S25/APIYI 2.5 notes and measured billing (secondary), hosts-2026 s1c/s4
  PRICE-X   BytePlus USD tables copied in several unrelated repos (secondary), hosts-2026 s4
  FAL / REP fal model pages, Replicate model pages, hosts-2026 s6
Prices carry ``as_of`` (the date of the source page) and a ``source`` naming it; a price from a
secondary or single source says UNCONFIRMED in ``source``. ``None`` = unknown (never invented).
"""
from __future__ import annotations

from typing import Any

from .spec import RATIOS, ModelSpec, Offer, PriceTable

# ---- price sources -------------------------------------------------------------------------------
ARK_AS_OF = "2026-07-26"
ARK_SRC = ("Volcengine list price (hosts-2026.md s4: ARC-DOC Apr 2026, OM '2026-07-26', PRICE-X; "
           "issue 12)")
BP_AS_OF = "2026-10"
BP_SRC = ("BytePlus ModelArk list price (issue 13; hosts-2026.md s4 PRICE-X, secondary, several "
          "unrelated repos agree)")
FAL_AS_OF = "2026-12"
FAL_SRC = "fal.ai model page (hosts-2026.md s6)"


def _ark(rates: dict[str, float], flex: float | None = None) -> PriceTable:
    return PriceTable("CNY", ARK_AS_OF, ARK_SRC, rates, flex)


def _bp(rates: dict[str, float], flex: float | None = None, note: str = "") -> PriceTable:
    return PriceTable("USD", BP_AS_OF, BP_SRC + note, rates, flex)


def _fal(rates: dict[str, float], note: str = "") -> PriceTable:
    return PriceTable("USD", FAL_AS_OF, FAL_SRC + note, rates, None)


FLEX = 0.5      # flex = 50 % of the online price, 1.x only (ark-api.md s2.1; ARC-DOC)

# ---- shared capability blocks ---------------------------------------------------------------------
# 1.0 series (ARK-DOC s10; TS-BP field acceptance): priority and generate_audio are accepted and
# ignored (TS-BP), draft / output_format / omni_reference_task_type / tools are 400 "must be empty".
_V1: dict[str, Any] = dict(
    family="1.0", pixel_table="1.0", max_reference_videos=0, max_reference_audio=0, audio=False,
    audio_default=False, seed=True, camera_fixed=True, draft=False, flex=True, priority=False,
    frames=True, min_duration=2, max_duration=12, auto_duration=False,
    resolutions=("480p", "720p", "1080p"), default_ratio_t2v="16:9", default_ratio_i2v="adaptive",
    seconds_per_output_second=8.0, rpm=600, concurrency=10,
    rejects=frozenset({"draft", "output_format", "omni_reference_task_type", "tools"}),
)
# 1.0 pro and pro-fast reject ratio adaptive for text-to-video (TS-BP live probe).
_NO_ADAPTIVE_T2V = (("t2v", RATIOS),)
# 2.0 family (ARK-DOC 2026; TS-BP): service_tier rejected even as "default"; seed accepted but
# "暂不支持" (not supported: ignored); camera_fixed, draft, frames rejected.
_V2: dict[str, Any] = dict(
    family="2.0", pixel_table="1.5/2.0", t2v=True, first_frame=True, first_last=True,
    max_reference_images=9, max_reference_videos=3, max_reference_audio=3, audio=True,
    audio_default=True, seed=True, seed_effective=False, camera_fixed=False, draft=False,
    flex=False, priority=True, frames=False, min_duration=4, max_duration=15, auto_duration=True,
    default_resolution="720p", default_ratio_t2v="adaptive", default_ratio_i2v="adaptive",
    reference_resolutions=("480p", "720p", "1080p"), heic=True, seconds_per_output_second=57.0,
    rejects=frozenset({"service_tier", "camera_fixed", "draft", "frames", "output_format",
                       "omni_reference_task_type"}),
    tools=True, expires_floor=False,   # TS-BP: the 3600 s floor is not enforced on the 2.0 family
    video_input_minimum=True,          # ARC-DOC minimum-token table (hosts-2026.md s4)
    rpm=600, concurrency=10,
)


def _fal_ids(base: str, modes: tuple[str, ...]) -> dict[str, str]:
    kind = {"t2v": "text-to-video", "first_frame": "image-to-video", "first_last": "image-to-video",
            "references": "reference-to-video"}
    return {m: f"{base}/{kind[m]}" for m in modes}


ENTRIES: list[ModelSpec] = [
    # ---------------------------------------------------------------- Seedance 1.0 pro
    ModelSpec(
        id="seedance-1.0-pro", neutral="seedance-1.0-pro", name="Seedance 1.0 pro", t2v=True,
        first_frame=True, first_last=True, max_reference_images=0, default_resolution="1080p",
        fast_variant="seedance-1.0-pro-fast", ratio_rules=_NO_ADAPTIVE_T2V, **_V1,
        hosts={
            "ark": Offer({"*": "doubao-seedance-1-0-pro-250528"}, _ark({"": 15.0}, FLEX)),
            "byteplus": Offer({"*": "seedance-1-0-pro-250528"}, _bp({"": 2.5}, FLEX)),
            "fal": Offer(_fal_ids("fal-ai/bytedance/seedance/v1/pro", ("t2v", "first_frame", "first_last")),
                         _fal({"": 2.5})),
            # REP: price per prediction not in our sources (UNCONFIRMED): unknown
            "replicate": Offer({"*": "bytedance/seedance-1-pro"}),
        }),
    # ---------------------------------------------------------------- Seedance 1.0 pro fast
    ModelSpec(
        id="seedance-1.0-pro-fast", neutral="seedance-1.0-pro-fast", name="Seedance 1.0 pro-fast",
        t2v=True, first_frame=True, first_last=False,   # no first+last in any official list
        max_reference_images=0, default_resolution="1080p",   # 1080p accepted (TS-BP)
        ratio_rules=_NO_ADAPTIVE_T2V, **_V1,
        hosts={
            "ark": Offer({"*": "doubao-seedance-1-0-pro-fast-251015"}, _ark({"": 4.2}, FLEX)),
            "byteplus": Offer({"*": "seedance-1-0-pro-fast-251015"},
                              _bp({"": 1.0}, FLEX, "; 1.0 is fal's figure, BytePlus UNCONFIRMED")),
            "fal": Offer(_fal_ids("fal-ai/bytedance/seedance/v1/pro/fast", ("t2v", "first_frame")),
                         _fal({"": 1.0})),
            # not on Replicate (hosts-2026.md s6 lists 1-pro, 1-lite, 1.5-pro, 2.0, 2.0-fast)
        }),
    # ---------------------------------------------------------------- Seedance 1.0 lite
    # Two Ark ids (t2v / i2v); the neutral name covers both, the raw ids resolve to their half.
    ModelSpec(
        id="seedance-1.0-lite", neutral="seedance-1.0-lite", name="Seedance 1.0 lite", t2v=True,
        first_frame=True, first_last=True, max_reference_images=4, default_resolution="720p",
        reference_resolutions=("480p", "720p"), default_ratio_references="16:9",
        camera_fixed_with_references=False,
        **{**_V1, "rpm": 300, "concurrency": 5},       # ARC-DOC: lite RPM 300 / concurrency 5
        hosts={
            "ark": Offer({"t2v": "doubao-seedance-1-0-lite-t2v-250428",
                          "first_frame": "doubao-seedance-1-0-lite-i2v-250428",
                          "first_last": "doubao-seedance-1-0-lite-i2v-250428",
                          "references": "doubao-seedance-1-0-lite-i2v-250428"},
                         _ark({"": 10.0}, FLEX)),
            # BytePlus: retired internationally (TS-BP model-meta: the lite family 404s)
            "fal": Offer(_fal_ids("fal-ai/bytedance/seedance/v1/lite",
                                  ("t2v", "first_frame", "first_last", "references"))),  # price UNCONFIRMED
            "replicate": Offer({"*": "bytedance/seedance-1-lite"}),
        }),
    # ---------------------------------------------------------------- Seedance 1.5 pro
    ModelSpec(
        id="seedance-1.5-pro", neutral="seedance-1.5-pro", name="Seedance 1.5 pro", family="1.5",
        pixel_table="1.5/2.0", t2v=True, first_frame=True, first_last=True,
        # reference images: the official table shows none and BytePlus answers 400 r2v (TS-BP)
        max_reference_images=0, max_reference_videos=0, max_reference_audio=0, audio=True,
        audio_default=True, seed=True, camera_fixed=True, draft=True, flex=True,
        priority=False, frames=False, min_duration=4, max_duration=12, auto_duration=True,
        resolutions=("480p", "720p", "1080p"), default_resolution="720p",   # 1080p: confirmed
        default_ratio_t2v="adaptive", default_ratio_i2v="adaptive", heic=True,
        seconds_per_output_second=30.0, rpm=600, concurrency=10,
        # TS-BP: "1.5-pro rejects priority"
        rejects=frozenset({"priority", "frames", "output_format", "omni_reference_task_type", "tools"}),
        hosts={
            "ark": Offer({"*": "doubao-seedance-1-5-pro-251215"},
                         _ark({"": 16.0, "silent": 8.0}, FLEX)),
            "byteplus": Offer({"*": "seedance-1-5-pro-251215"},
                              _bp({"": 2.4, "silent": 1.2}, FLEX)),
            "fal": Offer(_fal_ids("fal-ai/bytedance/seedance/v1.5/pro", ("t2v", "first_frame", "first_last")),
                         _fal({"": 2.4, "silent": 1.2})),
            "replicate": Offer({"*": "bytedance/seedance-1.5-pro"}),
        }),
    # ---------------------------------------------------------------- Seedance 2.0
    ModelSpec(
        id="seedance-2.0", neutral="seedance-2.0", name="Seedance 2.0",
        resolutions=("480p", "720p", "1080p", "4k"), fast_variant="seedance-2.0-fast",
        hevc_10bit=("4k",),        # hosts-2026.md s8b: 4k (2.0) outputs are 10-bit HEVC
        # 4k in reference mode: no direct source, but the price page lists a 4k video-input price
        # (26/16 CNY) and OM allows it; UNCONFIRMED
        **{**_V2, "reference_resolutions": ("480p", "720p", "1080p", "4k")},
        hosts={
            "ark": Offer({"*": "doubao-seedance-2-0-260128"},
                         _ark({"": 46.0, "1080p": 51.0, "4k": 26.0,
                               "video": 28.0, "video 1080p": 31.0, "video 4k": 16.0})),
            "byteplus": Offer({"*": "dreamina-seedance-2-0-260128"},
                              _bp({"": 7.0, "1080p": 7.7, "4k": 4.0,
                                   "video": 4.3, "video 1080p": 4.7, "video 4k": 2.4})),
            # fal: $0.014 / 1K tokens, video input x0.6; 480/720/1080 only. UNCONFIRMED: 1080p
            # at the same rate.
            "fal": Offer(_fal_ids("bytedance/seedance-2.0", ("t2v", "first_frame", "first_last", "references")),
                         _fal({"": 14.0, "video": 8.4}, "; 1080p rate UNCONFIRMED"),
                         resolutions=("480p", "720p", "1080p")),
            "replicate": Offer({"*": "bytedance/seedance-2.0"}),
        }),
    # ---------------------------------------------------------------- Seedance 2.0 fast
    ModelSpec(
        id="seedance-2.0-fast", neutral="seedance-2.0-fast", name="Seedance 2.0 fast",
        resolutions=("480p", "720p"),
        **{**_V2, "reference_resolutions": ("480p", "720p"), "seconds_per_output_second": 30.0},
        hosts={
            "ark": Offer({"*": "doubao-seedance-2-0-fast-260128"}, _ark({"": 37.0, "video": 22.0})),
            "byteplus": Offer({"*": "dreamina-seedance-2-0-fast-260128"},
                              _bp({"": 5.6, "video": 3.3})),
            "fal": Offer(_fal_ids("bytedance/seedance-2.0/fast",
                                  ("t2v", "first_frame", "first_last", "references"))),  # price UNCONFIRMED
            "replicate": Offer({"*": "bytedance/seedance-2.0-fast"}),
        }),
    # ---------------------------------------------------------------- Seedance 2.0 mini
    # "like 2.0 fast (480p/720p), 4-15 s" (issue 12; APIYI, TS-BP). Rate limits unknown.
    ModelSpec(
        id="seedance-2.0-mini", neutral="seedance-2.0-mini", name="Seedance 2.0 mini",
        resolutions=("480p", "720p"),
        **{**_V2, "reference_resolutions": ("480p", "720p"), "seconds_per_output_second": 30.0,
           "rpm": None, "concurrency": None,
           "tools": False},   # web_search on mini: "?" in hosts-2026 s1b; refusing is the safe side
        hosts={
            "ark": Offer({"*": "doubao-seedance-2-0-mini-260615"}, _ark({"": 23.0, "video": 14.0})),
            "byteplus": Offer({"*": "dreamina-seedance-2-0-mini-260615"},
                              _bp({"": 3.5, "video": 2.1})),
            # not on fal or Replicate (none listed in hosts-2026.md s6)
        }),
    # ---------------------------------------------------------------- Seedance 2.5
    # hosts-2026.md s1c (S25, APIYI, OM, TS-BP PR #1149). Issue 12: "No seed, camera_fixed, draft or
    # flex" -- we follow the issue and reject seed (hosts-2026 s1b says "acc", doc "unsupported").
    ModelSpec(
        id="seedance-2.5", neutral="seedance-2.5", name="Seedance 2.5",
        **{**_V2, "family": "2.5", "pixel_table": "2.5", "min_duration": 4, "max_duration": 30,
           "default_duration": -1, "resolutions": ("480p", "720p", "1080p"),
           "reference_resolutions": ("480p", "720p", "1080p"),
           "max_reference_images": 30, "max_reference_videos": 10, "max_reference_audio": 10,
           "max_reference_total": 50, "audio_only_references": True,
           # video references 2-30 s each (S25); a total limit is not documented (UNCONFIRMED)
           "reference_video_seconds": (2.0, 30.0), "reference_video_total": None,
           "seed": False, "seed_effective": False,
           # ratio must be adaptive for first-frame and first+last (edit/extend too)
           "ratio_rules": (("first_frame", ("adaptive",)), ("first_last", ("adaptive",))),
           "ratio_rule_code": "InvalidParameter.TaskTypeConstraint",
           "rejects": frozenset({"service_tier", "seed", "camera_fixed", "draft", "frames"}),
           "output_formats": ("mp4", "mov"),
           "omni_reference_task_types": ("auto", "reference", "edit", "extend"),
           "video_input_minimum": False,   # UNCONFIRMED: the minimum table is for the 2.0 family
           "hevc_10bit": ("1080p",),       # 1080p output is 10-bit HEVC (S25, APIYI)
           "seconds_per_output_second": 60.0, "rpm": None, "concurrency": None},
        hosts={
            "ark": Offer({"*": "doubao-seedance-2-5-260628"},
                         _ark({"": 70.0, "1080p": 77.0, "video": 42.0, "video 1080p": 46.0})),
            "byteplus": Offer({"*": "dreamina-seedance-2-5-260628"},
                              _bp({"": 10.7, "1080p": 11.7, "video": 6.4, "video 1080p": 7.0})),
            # fal: $0.0214/1K (480/720p), ~$0.0234/1K 1080p (the "~" makes it UNCONFIRMED),
            # video input x0.6
            "fal": Offer(_fal_ids("bytedance/seedance-2.5", ("t2v", "first_frame", "first_last", "references")),
                         _fal({"": 21.4, "1080p": 23.4, "video": 12.84, "video 1080p": 14.04},
                              "; 1080p ~23.4 UNCONFIRMED")),
            "replicate": Offer({"*": "bytedance/seedance-2.5"},   # "reported" (hosts-2026 s6): UNCONFIRMED
                               note="UNCONFIRMED: a seedance-2.5 model on Replicate is reported only"),
        }),
]
