"""The shapes of the model table: :class:`ModelSpec` (what one model accepts), :class:`Offer` (how
one host sells it), :class:`PriceTable` / :class:`Price`, and the fixed Ark constants (pixel tables,
ratios, image limits). Data types only; the entries are in :mod:`chainer.models.table`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

FPS = 24
RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9")
RATIOS_WITH_ADAPTIVE = RATIOS + ("adaptive",)
RESOLUTIONS = ("480p", "720p", "1080p", "4k")
SERVICE_TIERS = ("default", "flex")
MODES = ("t2v", "first_frame", "first_last", "references")
SEED_MIN, SEED_MAX = -1, 2**32 - 1     # hosts-2026.md s1b: [-1, 2^32-1] accepted by every model
PRIORITY_MIN, PRIORITY_MAX = 0, 9
EXPIRES_MIN, EXPIRES_MAX, EXPIRES_DEFAULT = 3600, 259200, 172800

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
# 2.5 has its own table (hosts-2026.md s1c): 480p 16:9 is 854x480 (APIYI: 48,437 tokens =
# floor(854*480*121/1024)); 720p/1080p as 2.0; no 4k. UNCONFIRMED: 480p 9:16 as 480x854 (the
# transpose); the other 480p ratios as 2.0's.
PIXELS_V25: dict[str, dict[str, tuple[int, int]]] = {
    "480p": {**PIXELS_V2["480p"], "16:9": (854, 480), "9:16": (480, 854)},
    "720p": dict(PIXELS_V2["720p"]),
    "1080p": dict(PIXELS_V2["1080p"]),
}
PIXEL_TABLES = {"1.0": PIXELS_V1, "1.5/2.0": PIXELS_V2, "2.5": PIXELS_V25}

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
class Price:
    """A price per million tokens, in ``currency``, as listed on ``as_of`` (``source`` says where
    from; it contains UNCONFIRMED when the figure is a secondary or guessed one)."""

    per_mtok: float
    currency: str
    as_of: str
    source: str


@dataclass(frozen=True)
class PriceTable:
    """One host's list prices for one model.

    ``rates`` keys combine (in this order) ``video`` (the input contains a reference video),
    ``silent`` (generate_audio false) and a resolution; the most specific key present wins, e.g.
    ``{"": 46, "1080p": 51, "video": 28, "video 1080p": 31}``. ``flex``: the factor for
    ``service_tier: flex`` (None = the host has no flex tier for this model)."""

    currency: str
    as_of: str
    source: str
    rates: Mapping[str, float]
    flex: float | None = None

    def lookup(self, *, resolution: str, audio: bool, video_input: bool) -> float | None:
        v = ["video"] if video_input else []
        s = ["silent"] if not audio else []
        for parts in (v + s + [resolution], v + s, v + [resolution], v, s + [resolution], s,
                      [resolution], []):
            key = " ".join(parts)
            if key in self.rates:
                return self.rates[key]
        return None


@dataclass(frozen=True)
class Offer:
    """How one host offers a model: its id per mode (``"*"`` = every mode the model has), prices,
    and host-specific limits (``resolutions``: None = the model's own)."""

    ids: Mapping[str, str]
    prices: PriceTable | None = None
    resolutions: tuple[str, ...] | None = None
    note: str = ""

    def id_for(self, mode: str | None) -> str | None:
        if mode is not None and mode in self.ids:
            return self.ids[mode]
        if "*" in self.ids:
            return self.ids["*"]
        if mode is None:
            # no mode given: the chaining case (first frame), else the first id listed
            return self.ids.get("first_frame") or next(iter(self.ids.values()), None)
        return None

    def modes(self) -> tuple[str, ...] | None:
        """The modes this host offers (None = every mode of the model)."""
        return None if "*" in self.ids else tuple(self.ids)


@dataclass(frozen=True)
class ModelSpec:
    """What one Seedance model accepts. Field names are the create-body names where one exists.

    Accepted vs effective: ``seed``/``camera_fixed``/``priority`` say whether the field does
    something; ``rejects`` lists the body fields Ark answers 400 "must be empty" for (any non-null
    value). A field neither effective nor rejected is accepted and ignored."""

    id: str
    name: str
    family: str                       # "1.0", "1.5", "2.0", "2.5"
    pixel_table: str                  # key of PIXEL_TABLES
    t2v: bool
    first_frame: bool
    first_last: bool
    max_reference_images: int         # 0 = reference-image mode unsupported
    max_reference_videos: int
    max_reference_audio: int
    audio: bool                       # generate_audio produces sound
    audio_default: bool
    seed: bool                        # the field is accepted (range SEED_MIN..SEED_MAX)
    camera_fixed: bool
    draft: bool
    flex: bool
    priority: bool                    # priority has an effect (0..9)
    frames: bool                      # accepts the ``frames`` parameter
    min_duration: int
    max_duration: int
    auto_duration: bool               # duration -1 (model chooses)
    resolutions: tuple[str, ...]
    default_resolution: str
    default_ratio_t2v: str
    default_ratio_i2v: str
    reference_resolutions: tuple[str, ...] = ()   # resolutions allowed in reference mode
    default_ratio_references: str = "adaptive"
    camera_fixed_with_references: bool = True
    heic: bool = False
    # Speed hint for planning (seconds of wall time per second of 480p/720p output); a guess used
    # only for progress ETAs. Observed: 1.0 lite 5 s in 34 s, 2.0 720p 5 s in 288 s (ark-api.md s6).
    seconds_per_output_second: float = 20.0
    fast_variant: str | None = None   # the cheaper model used by ``render --draft``
    # ---- 2026 additions (hosts-2026.md s1) ----
    neutral: str = ""                 # provider-neutral name, e.g. "seedance-2.0"
    default_duration: int = 5
    seed_effective: bool = True       # False: accepted but ignored (2.0 family)
    max_reference_total: int | None = None
    reference_video_seconds: tuple[float, float] = (2.0, 15.0)   # each reference video
    reference_video_total: float | None = 15.0                   # all reference videos
    audio_only_references: bool = False
    # per-mode ratio constraints: ((mode, allowed ratios), ...); modes not listed allow every ratio
    ratio_rules: tuple[tuple[str, tuple[str, ...]], ...] = ()
    ratio_rule_code: str = "InvalidParameter"
    rejects: frozenset = frozenset()  # body fields that are a 400 with any non-null value
    output_formats: tuple[str, ...] = ()            # accepted output_format values
    omni_reference_task_types: tuple[str, ...] = ()
    tools: bool = False               # tools: [{type: web_search}] (Volcengine, t2v)
    expires_floor: bool = True        # execution_expires_after >= 3600 enforced
    draft_resolutions: tuple[str, ...] = ("480p",)
    draft_factor_audio: float = 0.6   # usage multiplier of a draft clip with audio
    draft_factor_silent: float = 0.7
    video_input_minimum: bool = False  # 2.0 family: minimum tokens when the input has video
    hevc_10bit: tuple[str, ...] = ()  # resolutions delivered as 10-bit HEVC
    rpm: int | None = None            # requests per minute (None: unknown)
    concurrency: int | None = None    # running tasks per model (None: unknown)
    hosts: Mapping[str, Offer] = field(default_factory=dict)

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
        if self.max_reference_images or self.max_reference_videos or self.max_reference_audio:
            out.append("references")
        return tuple(out)

    def pixels(self, resolution: str, ratio: str) -> tuple[int, int]:
        """Output (W, H) for a concrete resolution and ratio (not ``adaptive``)."""
        table = PIXEL_TABLES[self.pixel_table]
        resolution = resolution.lower()
        if resolution not in table:
            raise KeyError(f"{self.id} has no pixel table entry for {resolution}")
        return table[resolution][ratio]

    def default_ratio(self, mode: str) -> str:
        if mode == "t2v":
            return self.default_ratio_t2v
        if mode == "references":
            return self.default_ratio_references
        return self.default_ratio_i2v

    def ratios_for(self, mode: str) -> tuple[str, ...]:
        """The ratios a request in ``mode`` may send."""
        return dict(self.ratio_rules).get(mode, RATIOS_WITH_ADAPTIVE)

    def allowed_durations(self) -> str:
        text = f"{self.min_duration}..{self.max_duration}"
        return text + " or -1" if self.auto_duration else text

    def duration_ok(self, duration: int) -> bool:
        return (self.min_duration <= duration <= self.max_duration) or (
            self.auto_duration and duration == -1)

    def resolutions_for(self, mode: str) -> tuple[str, ...]:
        if mode == "references" and self.reference_resolutions:
            return self.reference_resolutions
        return self.resolutions

    def draft_factor(self, audio: bool) -> float:
        return self.draft_factor_audio if audio else self.draft_factor_silent

    def is_hevc_10bit(self, resolution: str) -> bool:
        return resolution.lower() in self.hevc_10bit
