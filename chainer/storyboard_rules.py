"""Storyboard checks beyond the schema: every shot against its model (chainer.models), sequences,
transitions, ids, output path and local media. Also turns pydantic errors into Problems.

Every check appends a Problem located at the YAML value that caused it. A problem caused by a value
inherited from ``defaults`` (or the top-level ``model``) is reported once at that value, listing the
shots it affects.

Over 500 lines because it holds the pydantic-error translation as well as the checks; model facts
are not here (they come from chainer.models: the table and its check_request rules)."""
from __future__ import annotations

import difflib
import os
import re
import typing
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from . import models as M
from .errors import Problem
from .storyboard import ID_RE, SHOT_FIELD_NAMES, Shot, Storyboard, is_url
from .transitions import TransitionError, parse_transition
from .storyboard_media import (MediaError, audio_problems, base64_size, image_info,
                               image_problems)
from .storyboard_yaml import Positions, format_path

_KNOWN = M.known_names()     # neutral names, then every host's raw ids

OUTPUT_SUFFIXES = (".mp4", ".mov", ".mkv")
# any Unicode letter or digit first, then letters, digits, space, ".", "_", "-" (\Z: no newline)
OUTPUT_PART_RE = re.compile(r"\A[^\W_][\w .-]*\Z")


def did_you_mean(word: Any, candidates) -> str:
    match = difflib.get_close_matches(str(word), [str(c) for c in candidates], n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    return str(value)


# ---- pydantic -> Problem -------------------------------------------------------------------
def _find_model(ann: Any) -> type[BaseModel] | None:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in typing.get_args(ann):
        found = _find_model(arg)
        if found is not None:
            return found
    return None


def _model_at(loc: tuple) -> type[BaseModel] | None:
    cls: type[BaseModel] | None = Storyboard
    for part in loc:
        if isinstance(part, int):
            continue
        if cls is None or part not in cls.model_fields:
            return None
        cls = _find_model(cls.model_fields[part].annotation)
    return cls


_KIND = {"string_type": "text", "int_type": "a whole number", "int_parsing": "a whole number",
         "int_from_float": "a whole number", "bool_type": "true or false",
         "bool_parsing": "true or false", "float_type": "a number", "float_parsing": "a number",
         "list_type": "a list", "dict_type": "a mapping", "model_type": "a mapping",
         "model_attributes_type": "a mapping"}


def pydantic_problems(exc: PydanticValidationError, pos: Positions, file: str) -> list[Problem]:
    out = []
    errors = exc.errors()
    # a misspelt required field ('promt') is reported once, as the unknown field
    typo_targets = set()
    for err in errors:
        if err["type"] == "extra_forbidden":
            cls = _model_at(tuple(err["loc"][:-1]))
            match = difflib.get_close_matches(str(err["loc"][-1]), list(cls.model_fields) if cls
                                              else [], n=1, cutoff=0.6)
            if match:
                typo_targets.add(tuple(err["loc"][:-1]) + (match[0],))
    for err in errors:
        loc = tuple(p for p in err["loc"] if p != "[key]")
        if err["type"] == "missing" and loc in typo_targets:
            continue
        kind, inp = err["type"], err.get("input")
        at_key = False
        if kind == "extra_forbidden":
            field = loc[-1]
            cls = _model_at(loc[:-1])
            allowed = list(cls.model_fields) if cls else []
            hint = did_you_mean(field, allowed) or (
                f" (allowed: {', '.join(allowed)})" if allowed else "")
            msg = f"unknown field '{field}'{hint}"
            at_key = True
        elif kind == "missing":
            msg = "required field missing"
            line, col = pos.of_value(loc[:-1])
            out.append(Problem(file, line, col, format_path(loc), msg))
            continue
        elif kind in _KIND:
            msg = f"expected {_KIND[kind]}, got {_show(inp)}"
        elif kind == "literal_error":
            expected = re.findall(r"'([^']*)'", err.get("ctx", {}).get("expected", ""))
            msg = (f"{_show(inp)} is not allowed{did_you_mean(inp, expected)}: use one of "
                   + ", ".join(expected))
        elif kind == "too_short" and loc == ("shots",):
            msg = "needs at least one shot"
        elif kind in ("greater_than_equal", "greater_than"):
            bound = err["ctx"].get("ge", err["ctx"].get("gt"))
            op = ">=" if kind == "greater_than_equal" else ">"
            msg = f"{_show(inp)} must be {op} {bound:g}"
        else:
            msg = err["msg"]
        line, col = pos.of_key(loc) if at_key else pos.of_value(loc)
        out.append(Problem(file, line, col, format_path(loc), msg))
    return out


# ---- capability checks ---------------------------------------------------------------------
class _Checker:
    def __init__(self, sb: Storyboard, file: str, check_media: bool):
        self.sb, self.file, self.check_media = sb, file, check_media
        self.pos = sb.positions
        self.problems: list[Problem] = []
        # (origin path, message) -> shot labels, for problems inherited from defaults
        self.grouped: dict[tuple[tuple, str], list[str]] = {}

    def add(self, path: tuple, message: str, *, at_key: bool = False) -> None:
        line, col = self.pos.of_key(path) if at_key else self.pos.of_value(path)
        self.problems.append(Problem(self.file, line, col, format_path(path), message))

    def field(self, i: int, name: str, message: str) -> None:
        """A problem with the effective value of ``name`` on shot ``i``."""
        origin = self.sb.origin(i, name) or (name,)
        if origin[0] == "shots":
            self.add(origin, message)
        else:
            self.grouped.setdefault((origin, message), []).append(f"shots[{i}]")

    def flush(self) -> list[Problem]:
        for (origin, message), shots in self.grouped.items():
            n = len(self.sb.shots)
            which = "every shot" if len(shots) == n and n > 1 else ", ".join(shots)
            self.add(origin, f"{message} (applies to {which})")
        return self.problems


def check_storyboard(sb: Storyboard, file: str, *, check_media: bool = True,
                     host: str | None = None) -> list[Problem]:
    """Every problem of ``sb``; with ``host``, also what that host does not offer."""
    c = _Checker(sb, file, check_media)
    _check_top(c)
    _check_ids(c)
    specs: list[M.ModelSpec | None] = [_spec(c, i) for i in range(len(sb.shots))]
    for i, shot in enumerate(sb.shots):
        _check_structure(c, i, shot, specs)
        if specs[i] is not None:
            _check_params(c, i, shot, specs[i])
            _check_chain(c, i, shot, specs[i], host)
            _check_media(c, i, shot, specs[i])
            if host is not None:
                _check_host(c, i, shot, specs[i], host)
    _check_transitions(c, specs)
    return c.flush()


def _check_top(c: _Checker) -> None:
    sb = c.sb
    out = sb.output.file
    if out is not None:
        problem = output_file_problem(out)
        if problem:
            c.add(("output", "file"), problem)
    for mid, ov in sb.models.items():
        base = ov.get("like")
        if base is not None and base not in _KNOWN:
            c.add(("models", mid, "like"), f"unknown model '{base}'{did_you_mean(base, _KNOWN)}:"
                  " `like` must name a known model (" + ", ".join(M.MODELS) + ", or a host's id)")
            continue
        if base is None and mid not in _KNOWN:
            c.add(("models", mid), f"'{mid}' is not a known model: add `like: <known model id>` "
                  "to say which model it behaves like", at_key=True)
            continue
        template = M.resolve_model(base or mid)
        for key, value in ov.items():
            if key == "like":
                continue
            if key not in M.OVERRIDABLE_FIELDS:
                c.add(("models", mid, key), f"unknown capability field '{key}'"
                      f"{did_you_mean(key, M.OVERRIDABLE_FIELDS)}", at_key=True)
                continue
            want = getattr(template, key)
            if not _same_kind(want, value):
                c.add(("models", mid, key), f"expected {_kind_name(want)}, got {_show(value)}")
    known = set(_KNOWN) | set(sb.models)
    for mid in sb.pricing:
        if mid not in known:
            c.add(("pricing", mid), f"unknown model '{mid}'{did_you_mean(mid, known)}",
                  at_key=True)
    try:
        parse_transition(sb.transition)
    except TransitionError as exc:
        c.add(("transition",), exc.reason)


def _same_kind(template: Any, value: Any) -> bool:
    if template is None:
        return value is None or (isinstance(value, (int, float, str)) and not isinstance(value, bool))
    if isinstance(template, bool):
        return isinstance(value, bool)
    if isinstance(template, (int, float)):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(template, (tuple, frozenset)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(template))


def _kind_name(template: Any) -> str:
    if isinstance(template, bool):
        return "true or false"
    if isinstance(template, (int, float)):
        return "a number"
    if isinstance(template, (tuple, frozenset)):
        return "a list"
    return "text"


def output_file_problem(out: str) -> str | None:
    """Why ``output.file`` is not a safe relative file name inside the run directory, or None."""
    if not out.strip():
        return "is empty"
    if PurePosixPath(out).is_absolute() or PureWindowsPath(out).is_absolute() or \
            PureWindowsPath(out).drive:
        return f"{_show(out)} is an absolute path: give a file name inside the run directory, " \
               "e.g. video.mp4"
    parts = re.split(r"[/\\]", out)
    if ".." in parts:
        return f"{_show(out)} leaves the run directory ('..'): give a file name inside it, " \
               "e.g. video.mp4"
    for part in parts:
        if not OUTPUT_PART_RE.match(part):
            return f"{_show(out)} is not a safe file name: use letters, digits, space, '.', '_', " \
                   "'-' (not starting with '.' or '-')"
    if not out.lower().endswith(OUTPUT_SUFFIXES):
        return f"{_show(out)} must end in " + ", ".join(OUTPUT_SUFFIXES)
    return None


def _check_ids(c: _Checker) -> None:
    seen: dict[str, int] = {}
    for i, shot in enumerate(c.sb.shots):
        explicit = c.sb.positions.values.get(("shots", i, "id")) is not None
        if not ID_RE.match(shot.id or ""):
            c.add(("shots", i, "id"), f"{_show(shot.id)} is not a valid id: use 1..64 of "
                  "A-Z a-z 0-9 _ - (it names files)")
        elif shot.id in seen:
            first = seen[shot.id]
            how = "" if explicit else f" (shots[{i}] gets it by default)"
            c.add(("shots", i, "id") if explicit else ("shots", i),
                  f"duplicate id '{shot.id}', already used by shots[{first}]{how}: ids must be "
                  "unique")
        else:
            seen[shot.id] = i
        if shot.name is not None and not shot.name.strip():
            c.add(("shots", i, "name"), "is empty")
        if not shot.prompt.strip():
            c.add(("shots", i, "prompt"), "is empty: describe what happens in the shot")


def _spec(c: _Checker, i: int) -> M.ModelSpec | None:
    shot = c.sb.shots[i]
    mid = c.sb.effective(shot, "model")
    if mid is None:
        c.field(i, "model", "no model: set `model:` at the top level, in defaults, or on the shot")
        return None
    try:
        return c.sb.model_spec(shot)
    except M.UnknownModel:
        if mid in c.sb.models:
            return None  # its override is broken: reported by _check_top
        c.field(i, "model", f"unknown model '{mid}'{did_you_mean(mid, _KNOWN)}; known: "
                + ", ".join(M.MODELS) + f" (or a host's own id). To use a new model id add models: {{{mid}: "
                "{like: <known model id>}}")
    except (KeyError, TypeError, ValueError):
        pass  # bad override, reported by _check_top
    return None


def _models_with(attr: str, family: str | None = None) -> str:
    """Neutral names of the models whose ``attr`` is set (same family first, if any)."""
    names = [m.id for m in M.MODELS.values() if getattr(m, attr)]
    same = [n for n in names if M.MODELS[n].family == family]
    return ", ".join(same or names)


def _check_structure(c: _Checker, i: int, shot: Shot, specs: list) -> None:
    sb, spec = c.sb, specs[i]
    starts = sb.starts_sequence(i)
    refs = shot.references
    if refs is not None:
        if shot.image is not None or shot.last_image is not None:
            which = "image" if shot.image is not None else "last_image"
            c.add(("shots", i, "references"), f"references cannot be mixed with {which} (Ark "
                  "forbids mixing reference mode with first/last-frame mode): use cut: true to "
                  f"start a new sequence with references, or drop the {which}")
        elif i > 0 and not shot.cut:
            c.add(("shots", i, "references"), f"a shot with references cannot chain from "
                  f"shots[{i - 1}]'s last frame (Ark forbids mixing reference and first-frame "
                  "modes): use cut: true to start a new sequence with references, or drop the "
                  "references")
    if shot.last_image is not None and refs is None and starts and shot.image is None:
        fix = "add image" if i == 0 else "add image, or chain from the previous shot (remove " \
                                          "cut: true)"
        c.add(("shots", i, "last_image"), f"last_image needs a first frame: {fix}")
    if not starts and i > 0 and specs[i - 1] is not None and sb.effective(sb.shots[i - 1], "draft"):
        c.add(("shots", i), f"chains from shots[{i - 1}], a draft clip, but draft clips return no "
              f"last frame: set cut: true on shots[{i}] or remove draft from shots[{i - 1}]")
    if spec is None:
        return
    mode = sb.mode(i)
    if mode == "t2v" and not spec.t2v and shot.last_image is None:
        c.add(("shots", i), f"{spec.id} cannot generate from text alone: give this shot an image "
              f"(first frame), or use a text-to-video model ({_models_with('t2v', spec.family)})")
    if mode in ("first_frame", "first_last") and not spec.first_frame:
        if shot.image is not None:
            c.add(("shots", i, "image"), f"{spec.id} does not accept a first-frame image: remove "
                  f"image, or use an image-to-video model ({_models_with('first_frame', spec.family)})")
        else:
            c.add(("shots", i), f"chains from shots[{i - 1}]'s last frame, but {spec.id} has no "
                  "first-frame mode: set cut: true to start a new sequence, or use another model "
                  f"({_models_with('first_frame', spec.family)})")
    if mode == "first_last" and not spec.first_last:
        c.add(("shots", i, "last_image"), f"{spec.id} has no first-and-last-frame mode: remove "
              f"last_image, or use another model ({_models_with('first_last', spec.family)})")
    if refs is not None:
        _check_reference_counts(c, i, refs, spec)


EXTEND_HOSTS = ("ark", "byteplus")   # hosts whose adapter sends chain: extend (the Ark body)


def _check_chain(c: _Checker, i: int, shot: Shot, spec: M.ModelSpec, host: str | None) -> None:
    """``chain: extend`` (issue 14): the model must take reference videos, the previous clip must
    be a usable reference (2..15 s: a result URL cannot be cut) and no frame image may be mixed
    with it. Checked here, before anything is paid (the runner re-checks the actual clip)."""
    from .extension import EXTEND_FAMILIES, VIDEO_MAX_S, VIDEO_MIN_S, supports_extension

    sb = c.sb
    if sb.chain_mode(i) != "extend":
        return
    if not supports_extension(spec.family, spec.max_reference_videos):
        able = ", ".join(m.id for m in M.MODELS.values()
                         if m.family in EXTEND_FAMILIES and m.max_reference_videos) or "none"
        c.field(i, "chain", f"extend is not supported by {spec.id} (it cannot extend a video): "
                f"use chain: last_frame, or a model that extends video ({able})")
        return
    if shot.last_image is not None:
        c.add(("shots", i, "last_image"), "cannot be mixed with chain: extend (a frame image and "
              "a reference video cannot share a request): remove last_image or use chain: last_frame")
    if host is not None and M.normalize_host(host) not in EXTEND_HOSTS:
        c.field(i, "chain", f"extend is not available on {host} yet (only on "
                f"{', '.join(EXTEND_HOSTS)}): use chain: last_frame")
    prev = sb.shots[i - 1]
    d = sb.effective(prev, "duration")
    if d is None:
        d = 5
    if d == -1:
        return                      # the model chooses (at most 15 s): checked on the clip
    if not VIDEO_MIN_S <= d <= VIDEO_MAX_S:
        c.field(i, "chain", f"extend needs a previous clip of {VIDEO_MIN_S:g}..{VIDEO_MAX_S:g} s as "
                f"its reference video and shots[{i - 1}] is {d} s: use chain: last_frame here")


def _check_host(c: _Checker, i: int, shot: Shot, spec: M.ModelSpec, host: str) -> None:
    res = c.sb.effective(shot, "resolution") or spec.default_resolution
    problem = M.host_problem(spec, host, c.sb.mode(i), res)
    if problem is not None:
        c.field(i, "model", problem)


def _check_reference_counts(c: _Checker, i: int, refs, spec: M.ModelSpec) -> None:
    base = ("shots", i, "references")
    if not (refs.images or refs.videos or refs.audio):
        c.add(base, "is empty: give at least one reference image or video")
        return
    for v in M.check_request(spec, "references", {}, n_images=len(refs.images),
                             n_videos=len(refs.videos), n_audio=len(refs.audio)):
        kind = v.field.partition(".")[2]
        msg = v.message
        if v.rule == "count" and msg.endswith(("does not accept reference images",
                                               "does not accept reference videos",
                                               "does not accept reference audio")):
            attr = "max_reference_" + kind
            msg += f" (models that do: {_models_with(attr, spec.family)})"
        c.add(base + ((kind,) if kind else ()), msg)


def _check_params(c: _Checker, i: int, shot: Shot, spec: M.ModelSpec) -> None:
    """The shot's settings against its model, by the table's rules (chainer.models.rules): the
    values are what the planner would send."""
    sb = c.sb
    eff = {name: sb.effective(shot, name) for name in SHOT_FIELD_NAMES}
    mode = sb.mode(i)
    if eff["generate_audio"] and not spec.audio:
        # Ark accepts the field on silent models and ignores it: refused here because the user
        # asked for sound they would not get
        c.field(i, "generate_audio", f"true is not supported by {spec.id} (it makes silent video):"
                f" set generate_audio: false, or use a model with audio ({_models_with('audio')})")
    sent = {"resolution": eff["resolution"], "ratio": eff["ratio"], "duration": eff["duration"],
            "generate_audio": eff["generate_audio"],
            "frames": eff["frames"], "seed": eff["seed"],
            "camera_fixed": True if eff["camera_fixed"] else None,
            "service_tier": eff["service_tier"] if eff["service_tier"] != "default" else None,
            "draft": True if eff["draft"] else None}
    if eff["draft"] and spec.draft and sent["resolution"] is None:
        sent["resolution"] = spec.draft_resolutions[0]
    for v in M.check_request(spec, mode, sent):
        field = v.field
        if field not in SHOT_FIELD_NAMES or field == "generate_audio":
            continue                    # mode / reference / audio problems are reported elsewhere
        msg = v.message
        if v.rule == "rejected":
            msg = f"{field} is not supported by {spec.id}: remove it"
            if field == "draft":
                msg = f"draft is not supported by {spec.id} (only {_models_with('draft')})"
            elif field == "service_tier":
                msg = (f"{eff['service_tier']} is not supported by {spec.id}: remove service_tier or "
                       "use default")
            elif field == "frames":
                msg = (f"frames is not supported by {spec.id} (1.0 models only): use duration "
                       f"({spec.allowed_durations()} s)")
        elif field == "service_tier" and eff["service_tier"] == "flex" and not spec.flex:
            msg = f"flex is not supported by {spec.id}: remove service_tier or use default"
        elif field == "resolution" and eff["draft"] and v.rule == "combination":
            msg = (f"{eff['resolution']} with draft: true; draft clips are always "
                   f"{spec.draft_resolutions[0]}: set resolution: {spec.draft_resolutions[0]} "
                   "or remove draft")
        elif field == "resolution" and v.rule == "value" and \
                str(eff["resolution"]).lower() not in M.RESOLUTIONS:
            res = eff["resolution"]
            msg = (f"{_show(res)} is not a resolution{did_you_mean(res, M.RESOLUTIONS)}: use one "
                   f"of {', '.join(spec.resolutions)}")
        elif field == "ratio" and v.rule == "value":
            msg = (f"{_show(eff['ratio'])} is not a ratio{_ratio_hint(eff['ratio'])}: use one of "
                   + ", ".join(M.RATIOS_WITH_ADAPTIVE))
        elif field == "ratio" and v.rule == "combination":
            msg += (f" (Ark answers 400 {v.code}): remove ratio or set adaptive"
                    if spec.ratios_for(mode) == ("adaptive",) else "")
        c.field(i, field, msg)
    f = eff["frames"]
    if f is not None and shot.frames is not None and shot.duration is not None:
        c.add(("shots", i, "frames"), "give duration or frames, not both")
    res = eff["resolution"]
    if res is None and mode == "references" and spec.reference_resolutions and \
            spec.default_resolution not in spec.reference_resolutions:
        c.add(("shots", i), f"{spec.id}'s default resolution {spec.default_resolution} is not "
              f"available with reference images: set resolution ({', '.join(spec.reference_resolutions)})")
    ratio = eff["ratio"]
    if ratio in M.RATIOS and not sb.starts_sequence(i):
        prev = sb.effective(sb.shots[i - 1], "ratio")
        if prev not in (None, "adaptive") and prev != ratio:
            c.field(i, "ratio", f"{ratio} differs from shots[{i - 1}]'s {prev}: shots[{i}] "
                    "continues that clip's last frame, which would be cropped and the seam would "
                    f"jump; use {prev} or adaptive, or set cut: true")


def _ratio_hint(text: str) -> str:
    m = re.match(r"^\s*(\d+(?:\.\d+)?)\s*[:/x]\s*(\d+(?:\.\d+)?)\s*$", text)
    if m and float(m.group(1)) > 0 and float(m.group(2)) > 0:
        return f" (did you mean '{M.closest_ratio(float(m.group(1)), float(m.group(2)))}'?)"
    return did_you_mean(text, M.RATIOS_WITH_ADAPTIVE)


def _check_media(c: _Checker, i: int, shot: Shot, spec: M.ModelSpec) -> None:
    if not c.check_media:
        return
    sb = c.sb
    inline = 0
    images = [(("shots", i, "image"), shot.image), (("shots", i, "last_image"), shot.last_image)]
    if shot.references is not None:
        images += [(("shots", i, "references", "images", k), r)
                   for k, r in enumerate(shot.references.images)]
    for path, ref in images:
        if ref is None:
            continue
        if is_url(ref):
            if ref.startswith("data:") and not ref.startswith("data:image/"):
                c.add(path, "a data: URL here must be an image (data:image/<fmt>;base64,...)")
            elif ref.startswith("asset://") and spec.family == "1.0":
                c.add(path, f"asset:// inputs need a 2.0 model, not {spec.id}")
            continue
        local = sb.resolve_media(ref)
        try:
            info = image_info(local)
        except MediaError as exc:
            c.add(path, f"{exc}: {ref}" + _looked_in(sb, ref))
            continue
        for msg in image_problems(info, spec):
            c.add(path, f"{msg}: {ref}")
        inline += base64_size(info.size)
    if shot.references is not None:
        for k, ref in enumerate(shot.references.videos):
            if not ref.startswith(("http://", "https://", "asset://")):
                c.add(("shots", i, "references", "videos", k), f"{_show(ref)}: reference videos "
                      "must be URLs (http(s):// or asset://); Ark rejects inline video: upload it")
        for k, ref in enumerate(shot.references.audio):
            if is_url(ref):
                continue
            local = sb.resolve_media(ref)
            for msg in audio_problems(local):
                c.add(("shots", i, "references", "audio", k), f"{msg}: {ref}" + _looked_in(sb, ref))
            if os.path.isfile(local):
                inline += base64_size(os.path.getsize(local))
    if inline > M.REQUEST_MAX_BYTES - 1024 * 1024:
        c.add(("shots", i), f"inlined media make the request {inline / 1048576:.0f} MB; Ark "
              f"accepts at most {M.REQUEST_MAX_BYTES // 1048576} MB: use URLs or smaller files")


def _looked_in(sb: Storyboard, ref: str) -> str:
    return "" if os.path.isabs(ref) or os.path.exists(sb.resolve_media(ref)) else \
        f" (relative to {sb.base_dir})"


def _duration_floor(c: _Checker, i: int, spec: M.ModelSpec | None) -> float | None:
    if spec is None:
        return None
    shot = c.sb.shots[i]
    frames = c.sb.effective(shot, "frames")
    if frames is not None and spec.frames:
        return (frames - 1) / M.FPS
    d = c.sb.effective(shot, "duration")
    if d is None:
        return 5.0 if spec.duration_ok(5) else float(spec.min_duration)
    return float(spec.min_duration) if d == -1 else float(d)


def _kind_sec(t) -> tuple[str, float]:
    return t.kind, t.seconds


def _check_transitions(c: _Checker, specs: list) -> None:
    sb = c.sb
    try:
        default = parse_transition(sb.transition)
    except TransitionError:
        default = parse_transition("cut")      # already reported by the top-level check
    for i, shot in enumerate(sb.shots):
        own = shot.transition
        if own is not None:
            try:
                kind, sec = _kind_sec(parse_transition(own))
            except TransitionError as exc:
                c.add(("shots", i, "transition"), exc.reason)
                continue
            if i > 0 and not sb.starts_sequence(i):
                c.add(("shots", i, "transition"), f"shots[{i}] chains seamlessly from "
                      f"shots[{i - 1}], so it has no transition: add cut: true or remove transition")
                continue
            if i == 0 and kind == "crossfade":
                c.add(("shots", i, "transition"), "the first shot has nothing to crossfade from: "
                      "use fade:SEC (fade in from black) or cut")
                continue
            path = ("shots", i, "transition")
        elif i > 0 and sb.starts_sequence(i):
            (kind, sec), path = _kind_sec(default), ("transition",)
        else:
            continue
        if kind == "cut":
            continue
        durs = [_duration_floor(c, i, specs[i])]
        if kind == "crossfade":
            durs.append(_duration_floor(c, i - 1, specs[i - 1]))
        durs = [d for d in durs if d is not None]
        if durs and sec >= min(durs):
            msg = f"{kind}:{sec:g} is not shorter than the clips it joins ({min(durs):g} s)"
            if path[0] == "transition":
                c.grouped.setdefault((path, msg), []).append(f"shots[{i}]")
            else:
                c.add(path, msg)
