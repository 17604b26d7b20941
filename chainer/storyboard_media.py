"""Local media inputs of a storyboard: image/audio inspection against Ark's input limits, and
inlining as ``data:`` URLs for a request body. No network: URLs are accepted unchecked."""
from __future__ import annotations

import base64
import os
import stat
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from . import models as M

AUDIO_FORMATS = {".wav": "wav", ".mp3": "mp3"}
AUDIO_MAX_BYTES = 15 * 1024 * 1024


@dataclass(frozen=True)
class ImageInfo:
    format: str   # lowercase Pillow format name as Ark wants it in data: URLs (jpeg, png, ...)
    width: int
    height: int
    size: int     # bytes on disk


class MediaError(ValueError):
    """A local media file that cannot be used; the message is meant for the user."""


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def regular_file(path: str) -> os.stat_result:
    """``os.stat`` of ``path`` when it is a regular file; MediaError otherwise (missing, a NUL
    byte in the name, a directory, FIFO, device or socket: reading those could block forever or
    never end)."""
    if "\0" in str(path):
        raise MediaError("the path contains a NUL byte")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise MediaError("file not found") from None
    except (OSError, ValueError) as exc:
        raise MediaError(f"cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        what = next((name for test, name in _KINDS if test(st.st_mode)), "not a regular file")
        raise MediaError(f"is {what}, not a regular file")
    return st


def read_regular(path: str, limit: int) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` (MediaError beyond): opened
    non-blocking and checked on the open descriptor, so a FIFO swapped in after the check is
    never waited on."""
    regular_file(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise MediaError(f"cannot read ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise MediaError("is not a regular file")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise MediaError(f"is larger than {limit // 1048576} MB")
    return data


def _stat_key(path: str) -> tuple[str, float, int]:
    st = regular_file(path)
    return path, st.st_mtime, st.st_size


def image_info(path: str) -> ImageInfo:
    """Format and size of a local image (header read + integrity check). Raises MediaError."""
    return _image_info(*_stat_key(path))


# Largest local image read for inspection or inlining: well above Ark's 30 MB request limit (the
# size itself is reported as a problem by image_problems), bounded all the same.
IMAGE_READ_LIMIT = 64 * 1024 * 1024


@lru_cache(maxsize=256)
def _image_info(path: str, _mtime: float, size: int) -> ImageInfo:
    import io

    from PIL import Image, UnidentifiedImageError

    data = read_regular(path, IMAGE_READ_LIMIT)
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = (img.format or "").lower()
            width, height = img.size
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise MediaError(f"not a readable image ({type(exc).__name__})") from None
    if fmt == "mpo":  # multi-picture JPEG from cameras: still a JPEG for Ark
        fmt = "jpeg"
    return ImageInfo(fmt, width, height, size)


def image_problems(info: ImageInfo, spec: M.ModelSpec) -> list[str]:
    """Messages for every Ark input limit the image breaks on ``spec``."""
    out = []
    allowed = M.IMAGE_FORMATS_HEIC if spec.heic else M.IMAGE_FORMATS
    if info.format not in allowed:
        out.append(f"image format {info.format or 'unknown'} is not accepted by {spec.id} "
                   f"(allowed: {', '.join(allowed)})")
    w, h = info.width, info.height
    if not (M.IMAGE_MIN_SIDE <= w <= M.IMAGE_MAX_SIDE and M.IMAGE_MIN_SIDE <= h <= M.IMAGE_MAX_SIDE):
        out.append(f"image is {w}x{h}; each side must be {M.IMAGE_MIN_SIDE}..{M.IMAGE_MAX_SIDE} px")
    aspect = w / h if h else 0.0
    if not (M.IMAGE_MIN_ASPECT <= aspect <= M.IMAGE_MAX_ASPECT):
        out.append(f"image aspect {w}x{h} = {aspect:.2f} is outside "
                   f"{M.IMAGE_MIN_ASPECT}..{M.IMAGE_MAX_ASPECT} (width / height)")
    if info.size > M.IMAGE_MAX_BYTES:
        out.append(f"image is {info.size / 1048576:.1f} MB; the limit is "
                   f"{M.IMAGE_MAX_BYTES // 1048576} MB")
    return out


def audio_problems(path: str) -> list[str]:
    try:
        size = regular_file(path).st_size
    except MediaError as exc:
        return [str(exc)]
    fmt = AUDIO_FORMATS.get(Path(path).suffix.lower())
    out = []
    if fmt is None:
        out.append("audio must be wav or mp3")
    if size > AUDIO_MAX_BYTES:
        out.append(f"audio is {size / 1048576:.1f} MB; the limit is 15 MB")
    return out


def base64_size(n_bytes: int) -> int:
    return 4 * ((n_bytes + 2) // 3)


def data_url(path: str, kind: str = "image") -> str:
    """Inline a local file as ``data:image/<fmt>;base64,...`` (or ``data:audio/<fmt>``)."""
    if kind == "image":
        fmt = image_info(path).format
    else:
        fmt = AUDIO_FORMATS.get(Path(path).suffix.lower(), "wav")
    limit = IMAGE_READ_LIMIT if kind == "image" else AUDIO_MAX_BYTES
    payload = base64.b64encode(read_regular(path, limit)).decode("ascii")
    return f"data:{kind}/{fmt};base64,{payload}"
