"""Seedance capability registry, pixel tables and prices: data, not logic.

Everything here comes from ``shared/reference/ark-api.md`` (sections 2, 3, 10, 11). The storyboard
validator, the planner and the emulator all read this one registry; nothing else may hard-code a
model's limits.

A model id not listed here may still be used when the storyboard gives an explicit capability
override (``models: {<id>: {like: <known id>, ...overrides}}``), so a new model id is a config
change, not a code change. See :func:`resolve_model`.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Mapping

FPS = 24
RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9")
RATIOS_WITH_ADAPTIVE = RATIOS + ("adaptive",)
RESOLUTIONS = ("480p", "720p", "1080p", "4k")
SERVICE_TIERS = ("default", "flex")

# ark-api.md section 11. (W, H) per resolution and ratio.
PIXELS_V1: dict[str, dict[str, tuple[int, int]]] = {
    "480p": {"16:9": (864, 480), "4:3": (736, 544), "1:1": (640, 640), "3:4": (544, 736),
             "9:16": (480, 864), "21:9": (960, 416)},
    "720p": {"16:9": (1248, 704), "4:3": (1120, 832), "1:1": (960, 960), "3:4": (832, 1120),
             "9:16": (704, 1248), "21:9": (1504, 640)},
    "1080p": {"16:9": (1920, 1088), "4:3": (1664, 1248), "1:1": (1440, 1440), "3:4": (1248, 1664),
              "9:16": (1088, 1920), "21:9": (2176, 928)},
}
PIXELS_V2: dict[str, dict[str, tuple[int, int]]] = {
    "480p": {"16:9": (864, 496), "4:3": (752, 560), "1:1": (640, 640), "3:4": (560, 752),
             "9:16": (496, 864), "21:9": (992, 432)},
    "720p": {"16:9": (1280, 720), "4:3": (1112, 834), "1:1": (960, 960), "3:4": (834, 1112),
             "9:16": (720, 1280), "21:9": (1470, 630)},
    "1080p": {"16:9": (1920, 1080), "4:3": (1664, 1248), "1:1": (1440, 1440), "3:4": (1248, 1664),
              "9:16": (1080, 1920), "21:9": (2206, 946)},
    "4k": {"16:9": (3840, 2160), "4:3": (3326, 2494), "1:1": (2880, 2880), "3:4": (2494, 3326),
           "9:16": (2160, 3840), "21:9": (4398, 1886)},
}
PIXEL_TABLES = {"1.0": PIXELS_V1, "1.5/2.0": PIXELS_V2}

# Image input limits (ark-api.md section 3). The 2026 revision uses closed intervals; we accept the
# closed form, which is the more permissive of the two revisions.
IMAGE_MIN_SIDE = 300
IMAGE_MAX_SIDE = 6000
IMAGE_MIN_ASPECT = 0.4
IMAGE_MAX_ASPECT = 2.5
IMAGE_MAX_BYTES = 30 * 1024 * 1024
REQUEST_MAX_BYTES = 64 * 1024 * 1024
IMAGE_FORMATS = ("jpeg", "png", "webp", "bmp", "tiff", "gif")
IMAGE_FORMATS_HEIC = IMAGE_FORMATS + ("heic", "heif")
FRAMES_MIN, FRAMES_MAX = 29, 289  # and of the form 25 + 4n (1.0 series only)


@dataclass(frozen=True)
class ModelSpec:
    """What one Seedance model accepts. ``None`` price means unknown (never invented)."""

    id: str
    name: str
    family: str                       # "1.0", "1.5", "2.0"
    pixel_table: str                  # key of PIXEL_TABLES
    t2v: bool
    first_frame: bool
    first_last: bool
    max_reference_images: int         # 0 = reference-image mode unsupported
    max_reference_videos: int
    max_reference_audio: int
    audio: bool                       # accepts generate_audio
    audio_default: bool
    seed: bool
    camera_fixed: bool
    draft: bool
    flex: bool
    priority: bool
    frames: bool                      # accepts the ``frames`` parameter
    min_duration: int
    max_duration: int
    auto_duration: bool               # duration -1 (model chooses)
    resolutions: tuple[str, ...]
    default_resolution: str
    default_ratio_t2v: str
    default_ratio_i2v: str
    reference_resolutions: tuple[str, ...] = ()   # resolutions allowed in reference-image mode
    default_ratio_references: str = "adaptive"
    camera_fixed_with_references: bool = True
    heic: bool = False
    price_cny_per_mtok: float | None = None
    price_cny_per_mtok_video_input: float | None = None
    # Speed hint for planning (seconds of wall time per second of 480p/720p output); a guess used
    # only for progress ETAs. Observed: 1.0 lite 5 s in 34 s, 2.0 720p 5 s in 288 s (ark-api.md s6).
    seconds_per_output_second: float = 20.0
    fast_variant: str | None = None   # the cheaper model used by ``render --draft``

    # ---- derived helpers -------------------------------------------------------------------
    @property
    def modes(self) -> tuple[str, ...]:
        out = []
        if self.t2v:
            out.append("t2v")
        if self.first_frame:
            out.append("first_frame")
        if self.first_last:
            out.append("first_last")
        if self.max_reference_images or self.max_reference_videos:
            out.append("references")
        return tuple(out)

    def pixels(self, resolution: str, ratio: str) -> tuple[int, int]:
        """Output (W, H) for a concrete resolution and ratio (not ``adaptive``)."""
        table = PIXEL_TABLES[self.pixel_table]
        if resolution not in table:
            raise KeyError(f"{self.id} has no pixel table entry for {resolution}")
        return table[resolution][ratio]

    def default_ratio(self, mode: str) -> str:
        if mode == "t2v":
            return self.default_ratio_t2v
        if mode == "references":
            return self.default_ratio_references
        return self.default_ratio_i2v

    def allowed_durations(self) -> str:
        text = f"{self.min_duration}..{self.max_duration}"
        return text + " or -1" if self.auto_duration else text

    def duration_ok(self, duration: int) -> bool:
        return (self.min_duration <= duration <= self.max_duration) or (
            self.auto_duration and duration == -1)

    def price(self, with_video_input: bool = False) -> float | None:
        if with_video_input and self.price_cny_per_mtok_video_input is not None:
            return self.price_cny_per_mtok_video_input
        return self.price_cny_per_mtok


_V1_COMMON: dict[str, Any] = dict(
    family="1.0", pixel_table="1.0", max_reference_videos=0, max_reference_audio=0, audio=False,
    audio_default=False, seed=True, camera_fixed=True, draft=False, flex=True, priority=False,
    frames=True, min_duration=2, max_duration=12, auto_duration=False,
    resolutions=("480p", "720p", "1080p"), default_ratio_t2v="16:9", default_ratio_i2v="adaptive",
    seconds_per_output_second=8.0,
)
_V2_COMMON: dict[str, Any] = dict(
    family="2.0", pixel_table="1.5/2.0", t2v=True, first_frame=True, first_last=True,
    max_reference_images=9, max_reference_videos=3, max_reference_audio=3, audio=True,
    audio_default=True, seed=False, camera_fixed=False, draft=False, flex=False, priority=True,
    frames=False, min_duration=4, max_duration=15, auto_duration=True, default_resolution="720p",
    default_ratio_t2v="adaptive", default_ratio_i2v="adaptive", reference_resolutions=("480p", "720p", "1080p"),
    heic=True, seconds_per_output_second=57.0,
)

MODELS: dict[str, ModelSpec] = {m.id: m for m in [
    ModelSpec(id="doubao-seedance-1-0-pro-250528", name="Seedance 1.0 pro", t2v=True,
              first_frame=True, first_last=True, max_reference_images=0,
              default_resolution="1080p", fast_variant="doubao-seedance-1-0-pro-fast-251015",
              **_V1_COMMON),
    ModelSpec(id="doubao-seedance-1-0-pro-fast-251015", name="Seedance 1.0 pro-fast", t2v=True,
              first_frame=True, first_last=False, max_reference_images=0,
              default_resolution="1080p", **_V1_COMMON),
    ModelSpec(id="doubao-seedance-1-0-lite-t2v-250428", name="Seedance 1.0 lite t2v", t2v=True,
              first_frame=False, first_last=False, max_reference_images=0,
              default_resolution="720p", **_V1_COMMON),
    ModelSpec(id="doubao-seedance-1-0-lite-i2v-250428", name="Seedance 1.0 lite i2v", t2v=False,
              first_frame=True, first_last=True, max_reference_images=4,
              default_resolution="720p", reference_resolutions=("480p", "720p"),
              default_ratio_references="16:9", camera_fixed_with_references=False, **_V1_COMMON),
    ModelSpec(id="doubao-seedance-1-5-pro-251215", name="Seedance 1.5 pro", family="1.5",
              pixel_table="1.5/2.0", t2v=True, first_frame=True, first_last=True,
              max_reference_images=0, max_reference_videos=0, max_reference_audio=0, audio=True,
              audio_default=True, seed=True, camera_fixed=True, draft=True, flex=True,
              priority=False, frames=False, min_duration=4, max_duration=12, auto_duration=True,
              # 1080p: present in the 2026 doc revision, absent in Dec-2025 (ark-api.md s10).
              resolutions=("480p", "720p", "1080p"), default_resolution="720p",
              default_ratio_t2v="adaptive", default_ratio_i2v="adaptive", heic=True,
              seconds_per_output_second=30.0),
    ModelSpec(id="doubao-seedance-2-0-260128", name="Seedance 2.0",
              resolutions=("480p", "720p", "1080p", "4k"), price_cny_per_mtok=46.0,
              price_cny_per_mtok_video_input=28.0, fast_variant="doubao-seedance-2-0-fast-260128",
              **_V2_COMMON),
    ModelSpec(id="doubao-seedance-2-0-fast-260128", name="Seedance 2.0 fast",
              resolutions=("480p", "720p"), **{**_V2_COMMON, "reference_resolutions": ("480p", "720p"),
                                               "seconds_per_output_second": 30.0}),
]}

# Fields a storyboard's ``models:`` override may set (everything except the id).
OVERRIDABLE_FIELDS = tuple(f.name for f in fields(ModelSpec) if f.name != "id")


class UnknownModel(KeyError):
    """A model id that is neither registered nor given a capability override."""


def resolve_model(model_id: str, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> ModelSpec:
    """Return the spec for ``model_id``.

    ``overrides`` maps model ids to dicts of ModelSpec fields; ``like: <known id>`` picks the base
    spec to copy (default: the registered spec of the same id). An unknown id without an override
    raises :class:`UnknownModel`.
    """
    ov = dict((overrides or {}).get(model_id) or {})
    base_id = ov.pop("like", None)
    if base_id is None and model_id in MODELS:
        base = MODELS[model_id]
    elif base_id is not None and base_id in MODELS:
        base = MODELS[base_id]
    else:
        raise UnknownModel(model_id)
    unknown = set(ov) - set(OVERRIDABLE_FIELDS)
    if unknown:
        raise KeyError(f"unknown capability field(s) {sorted(unknown)}")
    for key, value in list(ov.items()):
        if isinstance(value, list):
            ov[key] = tuple(value)
    return replace(base, id=model_id, **ov)


def closest_ratio(width: int, height: int) -> str:
    """The preset ratio closest to an image's aspect (what ``adaptive`` resolves to for i2v).

    UNCONFIRMED: Ark does not document how ``adaptive`` picks; nearest aspect in log space is the
    most plausible behaviour and is what both our planner and emulator use.
    """
    import math

    aspect = width / height

    def dist(r: str) -> float:
        a, b = (int(x) for x in r.split(":"))
        return abs(math.log(aspect) - math.log(a / b))

    return min(RATIOS, key=dist)


def documented_tokens(width: int, height: int, duration: int) -> int:
    """Price-estimate tokens: ``W*H*24*d/1024`` (ark-api.md s11, documented formula)."""
    return (width * height * FPS * duration) // 1024


def frames_for_duration(duration: int) -> int:
    """Frames Ark actually returns for ``duration`` seconds: 24*d + 1 (observed, ark-api.md s11)."""
    return FPS * duration + 1


def billed_tokens(width: int, height: int, n_frames: int) -> int:
    """Observed ``usage.completion_tokens``: ``W*H*N_frames/1024``.

    UNCONFIRMED rounding for non-integer W*H/1024 (e.g. 864x496): we round down, like the integer
    division in the documented formula.
    """
    return (width * height * n_frames) // 1024


def frames_valid(frames: int) -> bool:
    return FRAMES_MIN <= frames <= FRAMES_MAX and (frames - 25) % 4 == 0
