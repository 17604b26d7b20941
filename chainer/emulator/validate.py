"""Create-request validation: the wire level here (JSON types, content items, roles, images,
URLs, text commands), the model level read from the table (``chainer.models``: the spec and the
cross-field rules of ``check_request``), never a copy of a model fact.

:func:`validate_create` turns a JSON body into a :class:`TaskRequest` or raises :class:`ApiError`
carrying the Ark error fields (ark-api.md s9). The rule of thumb where Ark's behaviour is
UNCONFIRMED: be at least as strict as Ark plausibly is, so a request the emulator accepts is one
Ark accepts too (the emulator must never make a client look correct when it is not).

Over 500 lines on purpose: it is one linear walk of the Ark create body (types, content, media,
then the table's rules), and splitting the walk would scatter one request's checks.
"""
from __future__ import annotations

import base64
import binascii
import io
import re
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

from PIL import Image

from .. import models
from ..ark.types import is_loopback_host
from ..models import ModelSpec
from .textcmd import TextCommandError, parse_text_commands

ERROR_TYPES = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
               405: "MethodNotAllowed", 409: "Conflict", 413: "BadRequest",
               429: "TooManyRequests", 500: "InternalServerError", 503: "ServiceUnavailable"}

SEED_MAX = models.SEED_MAX      # 2^32-1, accepted by every model (hosts-2026.md s1b, TS-BP)
EXPIRES_MIN, EXPIRES_MAX, EXPIRES_DEFAULT = models.EXPIRES_MIN, models.EXPIRES_MAX, models.EXPIRES_DEFAULT
AUTO_DURATION = 5       # UNCONFIRMED: what "duration -1 (model chooses)" picks; we pick 5 s.
ROLES_IMAGE = ("first_frame", "last_frame", "reference_image")


class ApiError(Exception):
    """A synchronous Ark error: HTTP status + ``{"error": {code, message, param, type}}``."""

    def __init__(self, status: int, code: str, message: str, param: str = "",
                 type_: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.type = type_ or ERROR_TYPES.get(status, "BadRequest")
        self.headers = headers or {}

    def body(self, request_id: str) -> dict:
        msg = self.message.rstrip()
        if msg and not msg.endswith("."):
            msg += "."
        return {"error": {"code": self.code, "message": f"{msg} Request id: {request_id}",
                          "param": self.param, "type": self.type}}


def invalid(param: str, detail: str, code: str | None = None) -> ApiError:
    return ApiError(400, code or "InvalidParameter",
                    f"The parameter `{param}` specified in the request is not valid: {detail}", param)


def missing(param: str, detail: str = "") -> ApiError:
    msg = f"The request failed because it is missing one or multiple required parameters: `{param}`"
    return ApiError(400, "MissingParameter", msg + (f" ({detail})" if detail else ""), param)


@dataclass
class TaskRequest:
    """A validated create request, everything concrete (adaptive/defaults resolved)."""

    model: str
    spec: ModelSpec
    mode: str                                 # t2v | first_frame | first_last | references | draft_task
    prompt: str
    resolution: str
    ratio: str
    width: int
    height: int
    n_frames: int
    duration: int | None                      # echoed when the request used duration
    frames: int | None                        # echoed when the request used frames
    seed: int | None                          # None = pick a random one
    camera_fixed: bool
    watermark: bool
    generate_audio: bool | None               # None for models without audio
    draft: bool
    return_last_frame: bool
    service_tier: str
    execution_expires_after: int
    priority: int | None
    callback_url: str | None
    safety_identifier: str | None
    tools: list | None
    first_image: Image.Image | None = None
    last_image: Image.Image | None = None
    reference_images: list[Image.Image] = field(default_factory=list)
    n_reference_videos: int = 0
    reference_videos: list[str] = field(default_factory=list)          # local paths (own result URLs)
    reference_video_seconds: list[float] = field(default_factory=list)
    extend_index: int | None = None           # extension of reference video n (extend.py)
    n_reference_audio: int = 0
    draft_task_id: str | None = None
    output_format: str = "mp4"
    omni_reference_task_type: str | None = None


# ---- small typed getters ------------------------------------------------------------------------

def _given(body: dict, key: str) -> bool:
    return key in body and body[key] is not None      # null means "not given" (ark-api.md s2.1)


def _bool(body: dict, key: str) -> bool | None:
    if not _given(body, key):
        return None
    v = body[key]
    if not isinstance(v, bool):
        raise invalid(key, f"expected a boolean, got {json_type(v)}")
    return v


def _int(body: dict, key: str) -> int | None:
    if not _given(body, key):
        return None
    v = body[key]
    if isinstance(v, bool) or not isinstance(v, int):
        raise invalid(key, f"expected an integer, got {json_type(v)}")
    return v


def _str(body: dict, key: str) -> str | None:
    if not _given(body, key):
        return None
    v = body[key]
    if not isinstance(v, str):
        raise invalid(key, f"expected a string, got {json_type(v)}")
    return v


def json_type(v: Any) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


# ---- URLs -------------------------------------------------------------------------------------

_DATA_IMAGE = re.compile(r"^data:image/([A-Za-z0-9.+-]+);base64,(.*)$", re.S)


def decode_image(url: Any, param: str, spec: ModelSpec,
                 fetch_local: Callable[[str], bytes | None]) -> Image.Image:
    """Decode and check one image reference (ark-api.md s3 image limits)."""
    if not isinstance(url, str) or not url:
        raise invalid(param, "expected a non-empty URL string")
    formats = models.IMAGE_FORMATS_HEIC if spec.heic else models.IMAGE_FORMATS
    if url.startswith("data:"):
        m = _DATA_IMAGE.match(url)
        if not m:
            raise invalid(param, "a data URL must look like data:image/<format>;base64,<data>")
        fmt = m.group(1)
        if fmt != fmt.lower():
            raise invalid(param, f"the image format in the data URL must be lower case, got {fmt!r}")
        if fmt == "jpg":
            fmt = "jpeg"
        if fmt not in formats:
            raise invalid(param, f"image format {fmt!r} is not supported (allowed: {', '.join(formats)})")
        try:
            data = base64.b64decode(m.group(2), validate=True)
        except (binascii.Error, ValueError):
            raise invalid(param, "the base64 image data cannot be decoded") from None
    elif url.startswith("asset://"):
        raise invalid(param, "asset:// references are not available in the emulator (it has no asset library); "
                             "use a data: URL")
    elif url.startswith(("http://", "https://")):
        # The emulator has no internet access: it can only "download" its own result files.
        data = fetch_local(url)
        if data is None:
            raise invalid(param, "the image URL cannot be downloaded: the emulator has no internet access and "
                                 "serves only its own result URLs; send the image as a data: URL")
    else:
        raise invalid(param, "expected an http(s) URL or a data:image/...;base64 URL")
    if len(data) > models.IMAGE_MAX_BYTES:
        raise invalid(param, f"the image is {len(data)} bytes; the limit is 30 MB")
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except Exception:  # noqa: BLE001 - any decoder failure is a bad image
        raise invalid(param, "the image cannot be decoded") from None
    w, h = img.size
    if not (models.IMAGE_MIN_SIDE <= w <= models.IMAGE_MAX_SIDE and models.IMAGE_MIN_SIDE <= h <= models.IMAGE_MAX_SIDE):
        raise invalid(param, f"image size {w}x{h}: each side must be in [{models.IMAGE_MIN_SIDE}, {models.IMAGE_MAX_SIDE}] px")
    aspect = w / h
    if not (models.IMAGE_MIN_ASPECT <= aspect <= models.IMAGE_MAX_ASPECT):
        raise invalid(param, f"image aspect ratio {aspect:.3f} (W/H) must be in [0.4, 2.5]")
    return img.convert("RGB")


def check_callback_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid("callback_url", "expected an http(s) URL")
    # Emulator-only restriction: tests must never touch a non-loopback address.
    if not is_loopback_host(parts.hostname):
        raise invalid("callback_url", "the emulator only delivers callbacks to loopback addresses "
                                      "(127.0.0.1, ::1, localhost)")


# ---- the create body ----------------------------------------------------------------------------

def resolve_spec(model: Any, host: str = "ark") -> ModelSpec:
    """The spec for a model id as ``host`` knows it: only that host's raw ids (Ark answers 404 for
    a neutral name or another host's id)."""
    if not _is_nonempty_str(model):
        raise missing("model")
    entry = models.RAW_IDS.get(model)
    if entry is None or entry[0] != models.normalize_host(host):
        raise ApiError(404, "InvalidEndpointOrModel.NotFound",
                       f"The model or endpoint {model} does not exist or you do not have access to it",
                       "model")
    return entry[1]


def _is_nonempty_str(v: Any) -> bool:
    return isinstance(v, str) and bool(v.strip())


def validate_create(body: Any, *, fetch_local: Callable[[str], bytes | None] = lambda url: None,
                    fetch_local_path: Callable[[str], str | None] = lambda url: None,
                    lookup_draft: Callable[[str], TaskRequest | None] = lambda tid: None,
                    host: str = "ark") -> TaskRequest:
    """Validate a create body; raise :class:`ApiError` on the first problem."""
    if not isinstance(body, dict):
        raise ApiError(400, "InvalidParameter", "The request body must be a JSON object", "")
    spec = resolve_spec(body.get("model"), host)
    model = body["model"]

    content = body.get("content")
    if content is None:
        raise missing("content")
    if not isinstance(content, list) or not content:
        raise invalid("content", "expected a non-empty array of content items")

    texts: list[str] = []
    images: list[tuple[int, str | None, Any]] = []
    videos: list[tuple[int, Any]] = []
    audios: list[tuple[int, Any]] = []
    drafts: list[tuple[int, Any]] = []
    for i, item in enumerate(content):
        p = f"content[{i}]"
        if not isinstance(item, dict):
            raise invalid(p, "expected an object")
        typ = item.get("type")
        role = item.get("role")
        if typ == "text":
            if not isinstance(item.get("text"), str):
                raise invalid(f"{p}.text", "expected a string")
            if role is not None:
                raise invalid(f"{p}.role", "a text item takes no role")
            texts.append(item["text"])
        elif typ == "image_url":
            iu = item.get("image_url")
            if not isinstance(iu, dict) or "url" not in iu:
                raise missing(f"{p}.image_url.url")
            if role is not None and role not in ROLES_IMAGE:
                raise invalid(f"{p}.role", f"{role!r} is not an image role (allowed: {', '.join(ROLES_IMAGE)})")
            images.append((i, role, iu["url"]))
        elif typ == "video_url":
            vu = item.get("video_url")
            if not isinstance(vu, dict) or "url" not in vu:
                raise missing(f"{p}.video_url.url")
            if role != "reference_video":
                raise invalid(f"{p}.role", "a video_url item needs role reference_video")
            videos.append((i, vu["url"]))
        elif typ == "audio_url":
            au = item.get("audio_url")
            if not isinstance(au, dict) or "url" not in au:
                raise missing(f"{p}.audio_url.url")
            if role != "reference_audio":
                raise invalid(f"{p}.role", "an audio_url item needs role reference_audio")
            audios.append((i, au["url"]))
        elif typ == "draft_task":
            dt = item.get("draft_task")
            if not isinstance(dt, dict) or not _is_nonempty_str(dt.get("id")):
                raise missing(f"{p}.draft_task.id")
            drafts.append((i, dt["id"]))
        else:
            raise invalid(f"{p}.type", f"{typ!r} is not a content type "
                                       "(allowed: text, image_url, video_url, audio_url, draft_task)")
    if len(texts) > 1:
        # UNCONFIRMED: Ark documents one text item; we refuse several rather than guess how to join.
        raise invalid("content", "at most one text item is allowed")

    raw_text = texts[0] if texts else ""
    try:
        prompt, cmds = parse_text_commands(raw_text)
    except TextCommandError as exc:
        raise invalid(exc.field, str(exc)) from None

    # Merge text commands into the body. UNCONFIRMED precedence (ark-api.md s2.2): when both give a
    # value and they differ we refuse, so no client can depend on an unknown precedence rule.
    merged = dict(body)
    for key, value in cmds.items():
        if key == "framespersecond":
            if value != 24:
                raise invalid("framespersecond", f"--fps {value}: only 24 is supported")
            continue
        if _given(body, key) and body[key] != value:
            raise invalid(key, f"the body value {body[key]!r} conflicts with the text command value {value!r}")
        merged[key] = value
    body = merged

    # ---- mode ----------------------------------------------------------------------------------
    draft_src: TaskRequest | None = None
    total_video = 0.0
    first = last = None
    refs: list[Image.Image] = []
    video_paths: list[str] = []
    video_seconds: list[float] = []
    extend_index = None
    if drafts:
        if not spec.draft:
            raise invalid("content", f"draft_task content is not supported by {model}")
        if len(drafts) > 1 or images or videos or audios or texts:
            raise invalid("content", "a draft_task item must be the only content item")
        draft_src = lookup_draft(drafts[0][1])
        if draft_src is None:
            raise invalid(f"content[{drafts[0][0]}].draft_task.id",
                          f"{drafts[0][1]} is not a succeeded draft task of this account")
        mode = "draft_task"
        prompt = draft_src.prompt
        first, last = draft_src.first_image, draft_src.last_image
    else:
        ref_imgs = [x for x in images if x[1] == "reference_image"]
        frame_imgs = [x for x in images if x[1] != "reference_image"]
        if ref_imgs or videos or audios:
            if frame_imgs:
                raise invalid("content", "first/last-frame images cannot be mixed with reference media")
            mode = "references"
        elif any(r == "last_frame" for _, r, _ in frame_imgs):
            mode = "first_last"
            roles = sorted(str(r) for _, r, _ in frame_imgs)
            if roles != ["first_frame", "last_frame"]:
                raise invalid("content", "first+last-frame mode needs exactly two images with roles "
                                         "first_frame and last_frame (role is mandatory)")
        elif frame_imgs:
            mode = "first_frame"
            if len(frame_imgs) != 1:
                raise invalid("content", "first-frame mode takes exactly one image "
                                         "(give roles first_frame and last_frame for two)")
        else:
            mode = "t2v"
        if mode == "t2v" and not prompt.strip():
            raise missing("content", "a text prompt is required when no image is given")
        # what the model can do in this mode (the table's rules): before any image is decoded
        _raise_first(models.check_request(spec, mode, {}, n_images=len(ref_imgs),
                                          n_videos=len(videos), n_audio=len(audios)))
        for idx, role, url in images:
            img = decode_image(url, f"content[{idx}].image_url.url", spec, fetch_local)
            if role == "reference_image":
                refs.append(img)
            elif role == "last_frame":
                last = img
            else:
                first = img
        for idx, url in videos:
            p = f"content[{idx}].video_url.url"
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise invalid(p, "reference_video must be provided as a web url")
            path = fetch_local_path(url)
            if path is None:
                raise invalid(p, "the video URL cannot be downloaded: the emulator has no internet access and "
                                 "serves only its own result URLs")
            from ..media.probe import probe

            dur = probe(path).duration or 0.0
            lo, hi = spec.reference_video_seconds
            if not lo <= dur <= hi + 0.5:
                raise invalid(p, f"reference video duration {dur:.2f} s must be in [{lo:g}, {hi:g}] s")
            total_video += dur
            video_paths.append(path)
            video_seconds.append(dur)
        limit = spec.reference_video_total
        if limit is not None and total_video > limit + 0.5:
            raise invalid("content", f"reference videos total {total_video:.1f} s; the limit is {limit:g} s")
        from .extend import check_extension

        extend_index = check_extension(model, spec.family, prompt, len(videos))
        for idx, url in audios:
            p = f"content[{idx}].audio_url.url"
            if not isinstance(url, str) or not re.match(r"^data:audio/(wav|mp3|mpeg|x-wav);base64,", url):
                # remote URLs would need internet access; asset:// needs an asset library
                raise invalid(p, "the emulator accepts reference audio only as data:audio/wav|mp3;base64 URLs")
            try:
                raw = base64.b64decode(url.split(",", 1)[1], validate=True)
            except (binascii.Error, ValueError):
                raise invalid(p, "the base64 audio data cannot be decoded") from None
            if len(raw) > 15 * 1024 * 1024:
                raise invalid(p, "reference audio is limited to 15 MB")

    # ---- parameters: wire types here, model rules from the table -------------------------------
    draft = _bool(body, "draft")
    return_last_frame = _bool(body, "return_last_frame")
    service_tier = _str(body, "service_tier")
    expires = _int(body, "execution_expires_after")
    priority = _int(body, "priority")
    tools = body.get("tools")
    if tools is not None and (not isinstance(tools, list) or any(
            not isinstance(t, dict) or t.get("type") != "web_search" for t in tools)):
        raise invalid("tools", "only [{\"type\": \"web_search\"}] is supported")
    safety_identifier = _str(body, "safety_identifier")
    if safety_identifier is not None and len(safety_identifier) > 64:
        raise invalid("safety_identifier", "at most 64 characters")
    output_format = _str(body, "output_format")
    omni = _str(body, "omni_reference_task_type")
    callback_url = _str(body, "callback_url")
    if callback_url is not None:
        check_callback_url(callback_url)
    watermark = bool(_bool(body, "watermark"))
    camera_fixed = _bool(body, "camera_fixed")
    generate_audio = _bool(body, "generate_audio")
    seed = _int(body, "seed")
    resolution = _str(body, "resolution")
    if resolution is not None:
        resolution = resolution.lower()     # matched case-insensitively (TS-BP: "4K", "1080P")
    ratio = _str(body, "ratio")
    frames = _int(body, "frames")
    duration = _int(body, "duration")
    rule_mode = draft_src.mode if draft_src is not None else mode
    _raise_first(models.check_request(spec, rule_mode, {
        "draft": draft, "return_last_frame": return_last_frame, "service_tier": service_tier,
        "priority": priority, "tools": tools or None, "output_format": output_format,
        "omni_reference_task_type": omni, "camera_fixed": camera_fixed,
        "generate_audio": generate_audio, "seed": seed, "resolution": resolution, "ratio": ratio,
        "frames": frames, "duration": duration}))

    draft = bool(draft)
    return_last_frame = bool(return_last_frame)
    service_tier = service_tier or "default"
    lowest = EXPIRES_MIN if spec.expires_floor else 1   # TS-BP: no floor on the 2.0 family
    if expires is None:
        expires = EXPIRES_DEFAULT
    elif not lowest <= expires <= EXPIRES_MAX:
        raise invalid("execution_expires_after", f"{expires} is out of range [{lowest}, {EXPIRES_MAX}]")
    if priority is None:
        priority = 0
    if omni is not None and omni != "auto":
        _check_task_type(omni, mode, len(videos), duration, ratio)
    if spec.audio:
        generate_audio = spec.audio_default if generate_audio is None else generate_audio
    else:
        generate_audio = None
    if seed == -1:
        seed = None

    if draft:
        resolution = spec.draft_resolutions[0]
    if resolution is None:
        resolution = spec.default_resolution
    if ratio is None:
        ratio = spec.default_ratio("references" if mode == "references" else
                                   ("t2v" if mode == "t2v" else "first_frame"))
    if draft_src is not None and not _given(body, "ratio"):
        ratio = draft_src.ratio
    if ratio == "adaptive":
        anchor = first if first is not None else (refs[0] if refs else None)
        # UNCONFIRMED: t2v "adaptive" is the model's choice; we pick 16:9. For images: closest preset.
        ratio = models.closest_ratio(*anchor.size) if anchor is not None else "16:9"

    if frames is not None:
        n_frames, out_duration, out_frames = frames, None, frames
    else:
        if duration is None:
            duration = draft_src.duration if draft_src is not None and draft_src.duration \
                else spec.default_duration
        if duration == -1:
            duration = AUTO_DURATION
        n_frames, out_duration, out_frames = models.frames_for_duration(duration), duration, None

    if draft_src is not None:
        if seed is None and draft_src.seed is not None:
            seed = draft_src.seed
        if not _given(body, "generate_audio") and draft_src.generate_audio is not None:
            generate_audio = draft_src.generate_audio
        if camera_fixed is None:
            camera_fixed = draft_src.camera_fixed

    width, height = spec.pixels(resolution, ratio)
    return TaskRequest(
        model=model, spec=spec, mode=mode, prompt=prompt, resolution=resolution, ratio=ratio,
        width=width, height=height, n_frames=n_frames, duration=out_duration, frames=out_frames,
        seed=seed, camera_fixed=bool(camera_fixed), watermark=watermark, generate_audio=generate_audio,
        draft=draft, return_last_frame=return_last_frame, service_tier=service_tier,
        execution_expires_after=expires, priority=priority,
        output_format=output_format or "mp4", omni_reference_task_type=omni,
        callback_url=callback_url,
        safety_identifier=safety_identifier, tools=tools, first_image=first, last_image=last,
        reference_images=refs, n_reference_videos=len(videos), n_reference_audio=len(audios),
        reference_videos=video_paths, reference_video_seconds=video_seconds, extend_index=extend_index,
        draft_task_id=drafts[0][1] if drafts else None)


def _raise_first(violations: list) -> None:
    """The first table-rule violation as Ark's 400 (reference counts and modes name ``content``)."""
    if violations:
        v = violations[0]
        param = "content" if v.field == "content" or v.field.startswith("references") else v.field
        raise invalid(param, v.message, v.code)


def _check_task_type(kind: str, mode: str, n_videos: int, duration: int | None,
                     ratio: str | None) -> None:
    """2.5's explicit ``omni_reference_task_type`` must fit the content (hosts-2026.md s2: an
    explicit value gives a synchronous 400 InvalidParameter.TaskTypeConstraint). UNCONFIRMED
    details: reference needs reference media; edit/extend need a reference video; edit needs
    duration -1 and ratio adaptive (or neither given). Edit/extend output is not modelled: the
    clip is rendered like any reference clip."""
    code = "InvalidParameter.TaskTypeConstraint"
    if mode != "references":
        raise invalid("omni_reference_task_type", f"{kind} needs reference media content", code)
    if kind in ("edit", "extend") and n_videos == 0:
        raise invalid("omni_reference_task_type", f"{kind} needs a reference video", code)
    if kind == "edit":
        if duration not in (None, -1):
            raise invalid("duration", "edit requires duration -1", code)
        if ratio not in (None, "adaptive"):
            raise invalid("ratio", "edit requires ratio adaptive", code)
