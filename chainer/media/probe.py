"""Probing without ffprobe: parse what ``ffmpeg -i`` prints, and count what a copy pass sees.

imageio-ffmpeg ships ffmpeg only, so stream facts come from the input banner and exact counts
from a ``-c copy -f framecrc`` pass (one line per packet: no decoding, fast).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from fractions import Fraction

from .ffmpeg import FFmpegError, input_banner, run


@dataclass
class VideoInfo:
    codec: str
    profile: str | None
    width: int
    height: int
    pix_fmt: str | None
    fps: Fraction | None
    time_base: Fraction | None   # stream tbn, e.g. 1/12288


@dataclass
class AudioInfo:
    codec: str
    sample_rate: int
    channels: int
    layout: str


@dataclass
class Chapter:
    start: float
    end: float
    title: str | None


@dataclass
class MediaInfo:
    path: str
    format: str
    duration: float | None
    start: float | None
    video: VideoInfo | None
    audio: AudioInfo | None
    chapters: list[Chapter] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)


class ProbeError(FFmpegError):
    pass


_LAYOUT_CHANNELS = {"mono": 1, "stereo": 2, "2.1": 3, "3.0": 3, "quad": 4, "4.0": 4, "5.0": 5,
                    "5.1": 6, "6.1": 7, "7.1": 8}


def _frac(text: str) -> Fraction | None:
    text = text.strip()
    if not text:
        return None
    if text.endswith("k"):
        return Fraction(text[:-1]) * 1000
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None


def _hms(text: str) -> float:
    h, m, s = text.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def probe(path: str | os.PathLike) -> MediaInfo:
    """Stream facts of a media file; raises :class:`ProbeError` if ffmpeg cannot open it."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ProbeError(f"{path}: no such file")
    text = input_banner(path)
    m = re.search(r"Input #0, ([^,]+(?:,[^,]+)*?), from", text)
    if not m:
        raise ProbeError(f"{path}: not a readable media file ({text.strip().splitlines()[-1] if text.strip() else 'no output'})")
    info = MediaInfo(path=path, format=m.group(1), duration=None, start=None, video=None, audio=None)
    dm = re.search(r"Duration: (\d+:\d+:[\d.]+|N/A)(?:, start: (-?[\d.]+))?", text)
    if dm and dm.group(1) != "N/A":
        info.duration = _hms(dm.group(1))
    if dm and dm.group(2):
        info.start = float(dm.group(2))
    lines = text.splitlines()
    section = "input"
    for i, line in enumerate(lines):
        s = line.strip()
        cm = re.match(r"Chapter #\d+:\d+: start (-?[\d.]+), end (-?[\d.]+)", s)
        if cm:
            title = None
            for nxt in lines[i + 1:i + 4]:
                tm = re.match(r"\s*title\s*:\s?(.*)$", nxt)
                if tm:
                    title = tm.group(1)
                    break
            info.chapters.append(Chapter(float(cm.group(1)), float(cm.group(2)), title))
            section = "chapter"
            continue
        if s.startswith("Stream #"):
            section = "stream"
        if s == "Metadata:" and section == "input" and not info.metadata:
            for nxt in lines[i + 1:]:
                mm = re.match(r"\s{4}(\S[^:]*?)\s*:\s?(.*)$", nxt)
                if not mm or nxt.startswith("  Duration"):
                    break
                info.metadata[mm.group(1)] = mm.group(2)
        if info.video is None and re.match(r"Stream #0:\d+.*: Video:", s):
            info.video = _parse_video(s)
        elif info.audio is None and re.match(r"Stream #0:\d+.*: Audio:", s):
            info.audio = _parse_audio(s)
    return info


def _parse_video(s: str) -> VideoInfo:
    body = s.split("Video:", 1)[1].strip()
    cm = re.match(r"(\w+)(?: \(([^)]*)\))?", body)
    codec = cm.group(1) if cm else "unknown"
    profile = cm.group(2) if cm else None
    size = re.search(r"(?<![\dx])(\d{2,5})x(\d{2,5})(?![\dx])", body)
    width, height = (int(size.group(1)), int(size.group(2))) if size else (0, 0)
    # pixel format: the token after the codec part, e.g. "yuv420p(tv, progressive)"
    pf = re.search(r", (yuv\w+|rgb\w+|bgr\w+|gray\w*|nv12|pal8|gbrp\w*|rgba|argb|monob)[,( ]", body + " ")
    fps_m = re.search(r", ([\d.]+k?) fps", body) or re.search(r", ([\d.]+k?) tbr", body)
    tbn = re.search(r", ([\d.]+k?) tbn", body)
    fps = _frac(fps_m.group(1)) if fps_m else None
    if fps is not None and fps.denominator != 1:
        # "23.98 fps" is printed rounded; snap to the NTSC rate it stands for
        for cand in (Fraction(24000, 1001), Fraction(30000, 1001), Fraction(60000, 1001)):
            if abs(float(fps) - float(cand)) < 0.01:
                fps = cand
    time_base = None
    if tbn:
        t = _frac(tbn.group(1))
        time_base = 1 / t if t else None
    return VideoInfo(codec=codec, profile=profile, width=width, height=height,
                     pix_fmt=pf.group(1) if pf else None, fps=fps, time_base=time_base)


def _parse_audio(s: str) -> AudioInfo:
    body = s.split("Audio:", 1)[1].strip()
    codec = re.match(r"(\w+)", body).group(1)
    sr = re.search(r"(\d+) Hz", body)
    lay = re.search(r"Hz, ([^,]+)", body)
    layout = lay.group(1).strip() if lay else "mono"
    ch = _LAYOUT_CHANNELS.get(layout)
    if ch is None:
        cm = re.match(r"(\d+) channels", layout)
        ch = int(cm.group(1)) if cm else 1
    return AudioInfo(codec=codec, sample_rate=int(sr.group(1)) if sr else 0, channels=ch,
                     layout=layout)


@dataclass
class Packet:
    stream: int
    dts: int
    pts: int
    duration: int
    size: int
    keyframe: bool


def packets(path: str | os.PathLike, stream: str = "v:0") -> list[Packet]:
    """Every packet of one stream (in decode order) with timestamps in the stream time base.

    Uses the framecrc muxer on a stream copy: a line per packet, ``F=0x..`` when the flags are not
    exactly "keyframe".
    """
    proc = run(["-i", os.fspath(path), "-map", f"0:{stream}", "-c", "copy", "-f", "framecrc", "-"])
    return parse_framecrc(proc.stdout.decode())


def count_frames(path: str | os.PathLike) -> int:
    """Exact number of video packets (= frames for H.264 in MP4) without decoding."""
    return len(packets(path, "v:0"))


def count_audio_samples(path: str | os.PathLike) -> int:
    """Exact number of decoded audio samples per channel of the first audio stream."""
    from .ffmpeg import decode_audio

    return int(decode_audio(path).shape[0])


def parse_framecrc(text: str) -> list[Packet]:
    """Packets from framecrc text (as :func:`packets` reads it), e.g. from ``ffmpeg.scan_clip``."""
    out: list[Packet] = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split(",")]
        flags = None
        for p in parts[6:]:
            if p.startswith("F="):
                flags = int(p[2:], 16)
        out.append(Packet(stream=int(parts[0]), dts=int(parts[1]), pts=int(parts[2]),
                          duration=int(parts[3]), size=int(parts[4]),
                          keyframe=flags is None or bool(flags & 1)))
    return out


def parse_stream_kinds(banner: str) -> list[str]:
    """Stream kinds of input #0 in index order, from ffmpeg's input banner text."""
    head = banner.split("Output #0", 1)[0].split("Stream mapping:", 1)[0]
    return [m.group(1).lower() for m in
            re.finditer(r"Stream #0:\d+\S*: (Video|Audio|Subtitle|Data|Attachment):", head)]
