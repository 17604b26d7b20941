"""The storyboard a user writes (YAML) -> a validated :class:`Storyboard`.

``load_storyboard(path)`` reports ALL problems at once as a :class:`chainer.errors.ValidationError`
whose lines read ``FILE:LINE:COL: shots[3].duration: 20 is out of range 4..15 for <model>``.
The schema (pydantic, ``extra="forbid"``) catches shape and type errors; the checks against each
shot's model (capabilities, ranges, images) live in :mod:`chainer.storyboard_rules`.

Sequences: a sequence starts at the first shot, at ``cut: true``, at any shot with its own
``image`` and at any shot with ``references``; every other shot chains from the previous shot's
returned last frame.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

from pydantic import (BaseModel, ConfigDict, Field, PrivateAttr, StrictBool, StrictInt, StrictStr,
                      ValidationError as PydanticValidationError, field_validator)
from pydantic_core import PydanticCustomError

from . import models as M
from . import transitions as T
from .errors import Problem, ValidationError
from .storyboard_finishing import Caption, Dialogue, Music, MusicMode, SubtitlesMode
from .storyboard_yaml import Positions, load_yaml

# \A..\Z, not ^..$: "$" also matches before a trailing newline ("shot-1\n" is not an id)
ID_RE = re.compile(r"\A[A-Za-z0-9_-]{1,64}\Z")
LOUDNESS_RANGE = (-70.0, -5.0)     # what ffmpeg's loudnorm accepts for I (integrated LUFS)
SCHEMA_FILE = "storyboard.schema.json"
_TRANSITION_TEXT = (f"cut | crossfade:SEC | fade:SEC, {T.MIN_SECONDS:g} < SEC <= {T.MAX_SECONDS:g}")

# fields a shot inherits from ``defaults`` (and ``model`` from the top level)
SHOT_FIELD_NAMES = ("model", "resolution", "ratio", "duration", "frames", "generate_audio",
                    "watermark", "seed", "camera_fixed", "service_tier", "draft", "chain", "takes")


def _ratio_before(value: Any) -> Any:
    """YAML 1.1 reads an unquoted ``16:9`` as the base-60 integer 969: say so."""
    if isinstance(value, int) and not isinstance(value, bool):
        for r in M.RATIOS:
            a, b = (int(x) for x in r.split(":"))
            if a * 60 + b == value:
                raise PydanticCustomError(
                    "ratio_sexagesimal",
                    f'YAML read the unquoted {r} as the number {value}: write it in quotes, ratio: "{r}"')
        raise PydanticCustomError("ratio_type", f"{value} is not a ratio; use one of "
                                                + ", ".join(M.RATIOS_WITH_ADAPTIVE))
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ShotFields(_Strict):
    """Generation settings. Any of them may be given in ``defaults`` or on a single shot."""

    model: Optional[StrictStr] = Field(None, description="Model id for this shot (overrides the "
                                       "storyboard's `model`): a neutral name (seedance-2.0, "
                                       "seedance-2.5, ...) or a host's own id.")
    resolution: Optional[StrictStr] = Field(None, description="480p, 720p, 1080p or 4k (model "
                                            "dependent). Default: the model's default resolution.")
    ratio: Optional[StrictStr] = Field(None, description='Aspect ratio: "16:9", "4:3", "1:1", '
                                       '"3:4", "9:16", "21:9" or "adaptive". Quote it in YAML.')
    duration: Optional[StrictInt] = Field(None, description="Seconds of video (1.0: 2..12; 1.5 pro: "
                                          "4..12 or -1; 2.0: 4..15 or -1 = the model chooses).")
    frames: Optional[StrictInt] = Field(None, description="1.0 models only: number of frames, 25+4n "
                                        "in 29..289 (overrides duration).")
    generate_audio: Optional[StrictBool] = Field(None, description="Generate synced audio (1.5 pro "
                                                 "and 2.0 only; their default is true).")
    watermark: Optional[StrictBool] = Field(None, description="Add the 'AI生成' watermark. "
                                            "Default false.")
    seed: Optional[StrictInt] = Field(None, description="Random seed -1..2147483647 (not on 2.0).")
    camera_fixed: Optional[StrictBool] = Field(None, description="Ask for a static camera (not on "
                                               "2.0, not with 1.0 lite reference images).")
    service_tier: Optional[Literal["default", "flex"]] = Field(
        None, description="flex = offline, half price, slower (not on 2.0).")
    draft: Optional[StrictBool] = Field(None, description="1.5 pro only: cheap 480p preview; "
                                        "returns no last frame, so nothing can chain from it.")
    chain: Optional[Literal["last_frame", "extend"]] = Field(
        None, description="How a chained shot continues the previous one: last_frame (its last "
        "frame is this shot's first frame; the default) or extend (the previous clip is sent as a "
        "reference video and the model continues its motion; Seedance 2.0 family and 2.5).")
    takes: Optional[Annotated[StrictInt, Field(ge=1, le=8)]] = Field(
        None, description="Render this many takes of the shot (different seeds, in parallel, the "
        "same input); the one that joins the previous shot best continues the chain, the others "
        "are kept in takes/ (cost N x, wall time ~1 x). Default 1.")

    _ratio = field_validator("ratio", mode="before")(_ratio_before)


class References(_Strict):
    """Multimodal references (reference mode). Paths are relative to the storyboard, or URLs."""

    images: list[StrictStr] = Field(default_factory=list, description="Reference images "
                                    "(2.0: up to 9; 1.0 lite i2v: up to 4).")
    videos: list[StrictStr] = Field(default_factory=list, description="Reference videos (2.0: up to "
                                    "3, URLs only: Ark rejects base64 video).")
    audio: list[StrictStr] = Field(default_factory=list, description="Reference audio, wav/mp3 "
                                   "(2.0: up to 3; needs at least one image or video).")


class Shot(ShotFields):
    """One clip. Every ``ShotFields`` setting may also be given here, overriding ``defaults``."""

    id: Optional[StrictStr] = Field(None, description="Unique, filename-safe id ([A-Za-z0-9_-], "
                                    "up to 64). Default shot-01, shot-02, ...")
    name: Optional[StrictStr] = Field(None, description="Short title (chapters, report). "
                                      "Default: the id.")
    prompt: StrictStr = Field(description="What happens in this shot.")
    image: Optional[StrictStr] = Field(None, description="First frame (path relative to the "
                                       "storyboard, or URL). Starts a new sequence.")
    last_image: Optional[StrictStr] = Field(None, description="Last frame: first-and-last-frame "
                                            "control (with `image`, or chained).")
    references: Optional[References] = Field(None, description="Reference mode (cannot be mixed "
                                             "with image/last_image or chaining; needs cut: true "
                                             "after the first shot).")
    cut: StrictBool = Field(False, description="Start a new sequence: do not chain from the "
                            "previous shot's last frame.")
    transition: Optional[StrictStr] = Field(None, description="How this shot is entered at a cut: "
                                            f"{_TRANSITION_TEXT}.",
                                            json_schema_extra=T.schema_extra())
    caption: Optional[Caption] = Field(None, description="Text on screen: a string for the whole "
                                       "shot, or a list of {text, at, until} in shot seconds.")
    dialogue: Optional[Dialogue] = Field(None, description="Lines spoken in the shot (strings or "
                                         "{speaker, text, at, until}); captioned too.")
    music: Optional[MusicMode] = Field(None, description="The music bed under this shot: off, "
                                       "duck (default: quieter under the shot's audio) or full.")


class Output(_Strict):
    """The assembled video."""

    file: Optional[StrictStr] = Field(None, description="Output file name inside the run "
                                      "directory (relative, no '..'). Default: <storyboard>.mp4.")
    loudness: Optional[float] = Field(-16.0, description="Integrated loudness target in LUFS "
                                      "(-70..-5), or off (no normalisation).")
    chapters: StrictBool = Field(True, description="Write chapter marks (one per shot name).")
    music: Optional[Music] = Field(None, description="A music bed under the whole film: {file, "
                                   "gain_db, fade_in, fade_out, duck_db, loop}.")
    subtitles: SubtitlesMode = Field("soft", description="Captions and dialogue: soft (NAME.srt, "
                                     "NAME.vtt and a subtitle track in the MP4), burn (drawn into "
                                     "the picture, for social platforms; the files too) or off.")
    language: Optional[StrictStr] = Field(None, description="Language of the captions (ISO 639: "
                                          "en, fr, zh, pt-BR...), tagged on the subtitle track.")

    @field_validator("file", mode="after")
    @classmethod
    def _file_not_ours(cls, value: Optional[str]) -> Optional[str]:
        from .run.rundir import own_file_problem

        if value is None:
            return value
        if any(not ch.isprintable() for ch in value):
            raise PydanticCustomError("file_control", "holds a control character (newline, tab..."
                                      "): give a plain file name, e.g. video.mp4")
        problem = own_file_problem(value)
        if problem:
            raise PydanticCustomError("file_reserved", problem)
        return value

    @field_validator("loudness", mode="before")
    @classmethod
    def _loudness(cls, value: Any) -> Any:
        """``off`` (YAML reads an unquoted off/no/false as false) or a finite LUFS in range;
        checked here because ffmpeg would only refuse it after the clips were paid for."""
        import math

        if value is None or value is False or (isinstance(value, str)
                                               and value.strip().lower() in ("off", "none", "no")):
            return None
        lo, hi = LOUDNESS_RANGE
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PydanticCustomError("loudness", f"{value!r} is not allowed: give a loudness in "
                                      f"LUFS from {lo:g} to {hi:g} (e.g. -16), or off")
        if not math.isfinite(value) or not lo <= value <= hi:
            raise PydanticCustomError("loudness", f"{value!r} LUFS is out of range: give "
                                      f"{lo:g}..{hi:g} (e.g. -16), or off")
        return float(value)


class Storyboard(_Strict):
    """A storyboard: shots rendered in order and assembled into one video."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True,
                              json_schema_extra={"$schema": "https://json-schema.org/draft/2020-12/schema"})

    title: Optional[StrictStr] = Field(None, description="Title. Default: the file name.")
    model: Optional[StrictStr] = Field(None, description="Default model for every shot: a "
                                       "neutral name (e.g. seedance-2.0) or a host's own id.")
    provider: Optional[Literal["auto", "ark", "volcengine", "byteplus", "fal", "replicate",
                               "emulator"]] = Field(
        None, description="Host to render on when `chainer render` is given no --provider (or "
        "--provider auto): ark, byteplus, fal, replicate, emulator; auto picks the host whose key "
        "is set (ARK_API_KEY, FAL_KEY, REPLICATE_API_TOKEN).")
    defaults: ShotFields = Field(default_factory=ShotFields, description="Settings every shot "
                                 "inherits unless it gives its own.")
    output: Output = Field(default_factory=Output, description="The assembled video: file name, "
                           "loudness target, chapter marks.")
    shots: Annotated[list[Shot], Field(min_length=1)] = Field(description="The shots, in order.")
    pricing: dict[StrictStr, Annotated[float, Field(ge=0)]] = Field(
        default_factory=dict, description="Price overrides: model -> price per million "
        "tokens in the host's currency (CNY on Ark, USD on BytePlus/fal/Replicate).")
    models: dict[StrictStr, dict[StrictStr, Any]] = Field(
        default_factory=dict, description="Capability overrides: model id -> {like: <known model "
        "id>, <ModelSpec field>: value}. Lets a new model id be used without a code change.")
    drift_guard: Literal["off", "report", "match"] = Field(
        "report", description="Colour drift across chained shots: off, report, or match "
        "(correct clips before assembly).")
    transition: StrictStr = Field("cut", description="Default transition at every cut: "
                                  f"{_TRANSITION_TEXT}.", json_schema_extra=T.schema_extra())

    _source: Optional[Path] = PrivateAttr(None)
    _base_dir: Optional[Path] = PrivateAttr(None)
    _positions: Positions = PrivateAttr(default_factory=Positions)

    # ---- set by the loader -----------------------------------------------------------------
    @property
    def source(self) -> Path:
        return self._source if self._source is not None else Path("storyboard.yaml")

    @property
    def base_dir(self) -> Path:
        return self._base_dir if self._base_dir is not None else Path.cwd()

    @property
    def positions(self) -> Positions:
        return self._positions

    # ---- helpers used by validation and planning ---------------------------------------------
    def effective(self, shot: Shot, name: str) -> Any:
        """The value of a ShotFields setting for ``shot``: shot, else defaults, else top level."""
        value = getattr(shot, name)
        if value is None:
            value = getattr(self.defaults, name)
        if value is None and name == "model":
            value = self.model
        return value

    def origin(self, index: int, name: str) -> tuple | None:
        """Path of the YAML value that sets ``name`` for shot ``index`` (None: nobody set it)."""
        shot = self.shots[index]
        if getattr(shot, name) is not None:
            return ("shots", index, name)
        if getattr(self.defaults, name) is not None:
            return ("defaults", name)
        if name == "model" and self.model is not None:
            return ("model",)
        return None

    def model_spec(self, shot: Shot) -> M.ModelSpec:
        """The ModelSpec for ``shot`` (raises :class:`chainer.models.UnknownModel`)."""
        return M.resolve_model(self.effective(shot, "model"), self.models)

    def starts_sequence(self, index: int) -> bool:
        shot = self.shots[index]
        return index == 0 or shot.cut or shot.image is not None or shot.references is not None

    def sequences(self) -> list[list[int]]:
        """Shot indexes grouped by sequence."""
        out: list[list[int]] = []
        for i in range(len(self.shots)):
            if self.starts_sequence(i) or not out:
                out.append([])
            out[-1].append(i)
        return out

    def mode(self, index: int) -> str:
        """t2v | first_frame | first_last | references."""
        shot = self.shots[index]
        if shot.references is not None:
            return "references"
        has_first = shot.image is not None or not self.starts_sequence(index)
        if has_first and shot.last_image is not None:
            return "first_last"
        if has_first:
            return "first_frame"
        return "t2v"

    def chain_mode(self, index: int) -> str | None:
        """How shot ``index`` continues the previous clip: ``last_frame`` | ``extend``; None when
        it starts a sequence (nothing to continue)."""
        if self.starts_sequence(index):
            return None
        return self.effective(self.shots[index], "chain") or "last_frame"

    def transition_for(self, index: int) -> str | None:
        """Transition into shot ``index`` if it starts a sequence (None for chained shots)."""
        if index == 0 or not self.starts_sequence(index):
            return self.shots[index].transition if index == 0 else None
        return self.shots[index].transition or self.transition

    def resolve_media(self, ref: str) -> str:
        """A URL unchanged, a local path made absolute (relative to the storyboard)."""
        if is_url(ref) or "\0" in ref:     # a NUL byte: the media check names it (no OS call)
            return ref
        p = Path(ref).expanduser()
        return str(p if p.is_absolute() else (self.base_dir / p).resolve())

    def shot(self, shot_id: str) -> Shot:
        for s in self.shots:
            if s.id == shot_id:
                return s
        raise KeyError(shot_id)


def is_url(ref: str) -> bool:
    return ref.startswith(("http://", "https://", "data:", "asset://"))


def default_shot_id(index: int, count: int) -> str:
    return f"shot-{index + 1:0{max(2, len(str(count)))}d}"


# ---- loading --------------------------------------------------------------------------------
def load_storyboard(path: str | Path, *, check_media: bool = True,
                    host: str | None = None) -> Storyboard:
    """Read and validate a storyboard; raise ValidationError listing every problem. With ``host``
    (ark, byteplus, fal, replicate; emulator = ark) a model or mode that host does not offer is a
    problem too, naming the host."""
    from .storyboard_rules import check_storyboard, pydantic_problems

    path = Path(path)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValidationError([Problem(file, None, None, "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError([Problem(file, None, None, "", f"cannot read: {exc}")]) from None

    data, positions, problems = load_yaml(text, file)
    if data is None and not problems:
        problems.append(Problem(file, 1, 1, "", "the storyboard is empty: it needs at least "
                                                "`shots:` with one shot"))
    if problems and data is None:
        raise ValidationError(problems)
    if not isinstance(data, dict):
        line, col = positions.of_value(())
        raise ValidationError(problems + [Problem(file, line, col, "", "a storyboard is a mapping "
                                                  "(title:, model:, shots: ...), not a "
                                                  + type(data).__name__)])
    schema_paths: list[str] = []
    try:
        sb = Storyboard.model_validate(data)
    except PydanticValidationError as exc:
        schema_problems = pydantic_problems(exc, positions, file)
        problems.extend(schema_problems)
        # Keep going without the broken values so the model checks report everything else too.
        sb = _validate_pruned(data, exc)
        if sb is None:
            raise ValidationError(_sorted(problems)) from None
        schema_paths = [p.path for p in schema_problems]

    sb._source = path
    sb._base_dir = path.resolve().parent
    sb._positions = positions
    _fill_defaults(sb, path)
    # values pydantic rejected were dropped: skip follow-up problems about them or the mapping
    # that held them (e.g. "references is empty" after a misspelt `image:` inside it)
    parents = {re.split(r"\.(?=[^.\[]*$)", s)[0] for s in schema_paths if "." in s}
    parents = {q for q in parents if not q.endswith("]")}
    from .storyboard_finishing import check_finishing

    for p in [*check_storyboard(sb, file, check_media=check_media, host=host),
              *check_finishing(sb, file, check_media=check_media)]:
        if p.path in parents or any(p.path == s or p.path.startswith((s + ".", s + "["))
                                    for s in schema_paths):
            continue
        problems.append(p)
    if problems:
        raise ValidationError(_sorted(problems))
    return sb


_PLACEHOLDER_PROMPT = "(prompt missing)"


def _validate_pruned(data: dict, exc: PydanticValidationError) -> Storyboard | None:
    """``data`` without the values pydantic rejected (None if that is not possible)."""
    import copy

    data = copy.deepcopy(data)
    for err in exc.errors():
        loc = err["loc"]
        if not loc or "[key]" in loc:
            return None
        parent: Any = data
        for part in loc[:-1]:
            try:
                parent = parent[part]
            except (KeyError, IndexError, TypeError):
                return None
        if not isinstance(parent, dict):
            return None
        if err["type"] == "missing":
            if loc[-1] != "prompt":
                return None
            parent["prompt"] = _PLACEHOLDER_PROMPT
        else:
            parent.pop(loc[-1], None)
    try:
        return Storyboard.model_validate(data)
    except PydanticValidationError:
        return None


def _sorted(problems: list[Problem]) -> list[Problem]:
    seen, out = set(), []
    for p in sorted(problems, key=lambda p: (p.line or 0, p.col or 0)):
        if str(p) not in seen:
            seen.add(str(p))
            out.append(p)
    return out


def _fill_defaults(sb: Storyboard, path: Path) -> None:
    if sb.title is None:
        sb.title = path.stem
    if sb.output.file is None:
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", path.stem).strip("-.") or "storyboard"
        sb.output.file = stem + ".mp4"
    for i, shot in enumerate(sb.shots):
        if shot.id is None:
            shot.id = default_shot_id(i, len(sb.shots))
        if shot.name is None:
            shot.name = shot.id


def storyboard_json_schema() -> dict:
    """The JSON Schema editors use (``chainer schema``)."""
    schema = Storyboard.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "chainer storyboard"
    return schema
