"""Result downloads: streamed to a temp name, resumed with Range, verified by decoding, renamed.

A file only ever appears under its final name once it decoded completely, so a crash mid-download
leaves a ``.part`` file (resumed next time) and never a broken clip under ``clips/``.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from ..ark.errors import DownloadError


@dataclass
class VideoCheck:
    frames: int
    width: int
    height: int
    has_audio: bool


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_video(path: str | os.PathLike, *, expected_frames: int | None = None,
                 size: tuple[int, int] | None = None) -> VideoCheck:
    """Decode every frame of ``path``; raise :class:`DownloadError` if it is not a whole clip."""
    from ..media.ffmpeg import FFmpegError, decode_frames
    from ..media.probe import probe

    try:
        info = probe(path)
    except FFmpegError as exc:
        raise DownloadError(f"{Path(path).name}: not a readable video ({exc})") from None
    if info.video is None:
        raise DownloadError(f"{Path(path).name}: no video stream")
    try:
        n = sum(1 for _ in decode_frames(path, 16, 16, pix_fmt="gray", vf="scale=16:16"))
    except FFmpegError as exc:
        raise DownloadError(f"{Path(path).name}: does not decode ({exc})") from None
    if n == 0:
        raise DownloadError(f"{Path(path).name}: no decodable frames")
    if expected_frames and abs(n - expected_frames) > 1:
        raise DownloadError(f"{Path(path).name}: decoded {n} frames, expected {expected_frames} "
                            "(truncated download?)")
    if size and (info.video.width, info.video.height) != tuple(size):
        raise DownloadError(f"{Path(path).name}: {info.video.width}x{info.video.height}, "
                            f"expected {size[0]}x{size[1]}")
    return VideoCheck(n, info.video.width, info.video.height, info.audio is not None)


def verify_png(path: str | os.PathLike, *, size: tuple[int, int] | None = None) -> tuple[int, int]:
    """Decode an image fully; raise :class:`DownloadError` if it is truncated or the wrong size.
    The size is checked from the PNG header first: nothing is decoded from a file that claims
    another size (or a huge one)."""
    from PIL import Image

    from ..media.png import png_dimensions

    try:
        head = png_dimensions(path)
    except (OSError, ValueError) as exc:
        raise DownloadError(f"{Path(path).name}: not a PNG image ({exc})") from None
    if size and tuple(head) != tuple(size):
        raise DownloadError(f"{Path(path).name}: header says {head[0]}x{head[1]}, expected "
                            f"{size[0]}x{size[1]}; not decoded")
    try:
        with Image.open(path) as im:
            im.load()
            got = im.size
    except Exception as exc:  # noqa: BLE001 - any decoder complaint means a bad file
        raise DownloadError(f"{Path(path).name}: not a decodable image ({exc})") from None
    if size and tuple(got) != tuple(size):
        raise DownloadError(f"{Path(path).name}: {got[0]}x{got[1]}, expected {size[0]}x{size[1]}")
    return got


def fsync_dir(path: str | os.PathLike) -> None:
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


ASSUMED_URL_TTL = 86400.0        # Ark result URLs live 24 h (ark-api.md section 5.1)
URL_SAFETY_MARGIN = 1800.0       # do not hand out a URL that expires within 30 minutes


def url_expires_at(url: str) -> float | None:
    """Expiry (epoch seconds) when the signed URL says so (TOS / S3 / generic ``expires``)."""
    import calendar
    import time as _time
    from urllib.parse import parse_qs, urlsplit

    q = {k.lower(): v[-1] for k, v in parse_qs(urlsplit(url).query).items()}
    for date_key, ttl_key in (("x-tos-date", "x-tos-expires"), ("x-amz-date", "x-amz-expires")):
        if date_key in q and ttl_key in q:
            try:
                raw = q[date_key]
                start = float(raw) if raw.isdigit() else calendar.timegm(
                    _time.strptime(raw, "%Y%m%dT%H%M%SZ"))
                return start + float(q[ttl_key])
            except (ValueError, OverflowError):
                return None
    for key in ("expires", "expires_at", "exp", "e"):
        if key in q:
            try:
                value = float(q[key])
            except ValueError:
                continue
            return value if value > 1e9 else None
    return None


def url_fresh(url: str | None, fetched_at: float | None, now: float, *,
              ttl: float = ASSUMED_URL_TTL, margin: float = URL_SAFETY_MARGIN) -> bool:
    """Whether a result URL can still be handed to the provider (and fetched by it)."""
    if not url or fetched_at is None:
        return False
    exp = url_expires_at(url)
    if exp is None:
        exp = fetched_at + ttl
    return now + margin < exp
