"""The one place that builds and runs ffmpeg command lines.

The binary is imageio-ffmpeg's bundled ffmpeg (no system ffmpeg, and no ffprobe: probing is in
:mod:`chainer.media.probe`, built on the helpers here). Every other module asks this one for a
decode, an encode or a run; none assembles ffmpeg arguments of its own.

Longer than ~500 lines on purpose: the house rule puts every ffmpeg command line in this one
module (decode, encode, stitch mux, grading, subtitles burn-in, the music bed, loudness).
"""
from __future__ import annotations

import functools
import os
import subprocess
import tempfile
import wave
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from ..errors import ChainerError


class FFmpegError(ChainerError):
    """ffmpeg exited non-zero; the message carries the tail of its stderr."""


@functools.lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary (``CHAINER_FFMPEG`` overrides imageio-ffmpeg's bundled one)."""
    override = os.environ.get("CHAINER_FFMPEG")
    if override:
        return override
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _tail(stderr: bytes | str, lines: int = 6) -> str:
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def run(args: Sequence[str | os.PathLike], *, input: bytes | None = None,
        timeout: float | None = None, check: bool = True,
        loglevel: str = "error") -> subprocess.CompletedProcess:
    """Run ``ffmpeg -hide_banner -loglevel LEVEL <args>``; capture stdout and stderr as bytes."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", loglevel]
    if input is None:
        cmd.append("-nostdin")
    cmd += [str(a) for a in args]
    proc = subprocess.run(cmd, input=input, capture_output=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise FFmpegError(f"ffmpeg failed ({proc.returncode}): {_tail(proc.stderr)}")
    return proc


def stream_stdout(args: Sequence[str | os.PathLike], chunk: int) -> Iterator[bytes]:
    """Run ffmpeg writing raw data to stdout and yield exact ``chunk``-sized pieces."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", *[str(a) for a in args]]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
        try:
            assert proc.stdout is not None
            while True:
                buf = proc.stdout.read(chunk)
                if not buf or len(buf) < chunk:
                    break
                yield buf
        finally:
            if proc.stdout:
                proc.stdout.close()
            if proc.poll() is None:
                proc.kill()
            rc = proc.wait()
        if rc not in (0, -9):
            err.seek(0)
            raise FFmpegError(f"ffmpeg failed ({rc}): {_tail(err.read())}")


# ---- decoding -----------------------------------------------------------------------------------

def decode_frames(path: str | os.PathLike, width: int, height: int, *, pix_fmt: str = "rgb24",
                  start_frame: int = 0, max_frames: int | None = None,
                  vf: str | None = None) -> Iterator[np.ndarray]:
    """Decode video frames as HxWxC uint8 arrays (rgb24) in presentation order.

    ``start_frame`` skips that many decoded frames exactly (frame-accurate, decodes from 0).
    ``width``/``height`` are the decoded size (after ``vf`` if one scales).
    """
    channels = {"rgb24": 3, "gray": 1, "rgba": 4}[pix_fmt]
    filters = []
    if start_frame:
        filters.append(f"select=gte(n\\,{int(start_frame)})")
    if vf:
        filters.append(vf)
    args: list[str] = ["-i", str(path), "-map", "0:v:0"]
    if filters:
        args += ["-vf", ",".join(filters)]
    args += ["-fps_mode", "passthrough"]
    if max_frames is not None:
        args += ["-frames:v", str(int(max_frames))]
    args += ["-f", "rawvideo", "-pix_fmt", pix_fmt, "-"]
    size = width * height * channels
    for buf in stream_stdout(args, size):
        arr = np.frombuffer(buf, dtype=np.uint8).reshape(height, width, channels)
        yield arr if channels != 1 else arr[:, :, 0]


def decode_audio(path: str | os.PathLike, *, sample_rate: int | None = None,
                 channels: int | None = None) -> np.ndarray:
    """Decode the first audio stream as float32 samples shaped (n, channels)."""
    args: list[str] = ["-i", str(path), "-map", "0:a:0"]
    if sample_rate:
        args += ["-ar", str(sample_rate)]
    if channels:
        args += ["-ac", str(channels)]
    args += ["-f", "f32le", "-acodec", "pcm_f32le", "-"]
    proc = run(args)
    data = np.frombuffer(proc.stdout, dtype=np.float32)
    ch = channels
    if ch is None:
        from .probe import probe

        info = probe(path)
        ch = info.audio.channels if info.audio else 1
    return data.reshape(-1, ch)


def write_wav(path: str | os.PathLike, samples: np.ndarray, sample_rate: int) -> None:
    """Write float samples in [-1, 1] shaped (n,) or (n, ch) as 16-bit PCM WAV."""
    data = np.asarray(samples, dtype=np.float32)
    if data.ndim == 1:
        data = data[:, None]
    pcm = (np.clip(data, -1.0, 1.0) * 32767.0).round().astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(pcm.shape[1])
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())


# ---- encoding -----------------------------------------------------------------------------------

# How a typical provider clip is encoded (and what chainer uses when it must re-encode): x264 High,
# yuv420p, AAC 48 kHz. ``bitexact`` keeps output byte-identical for identical input.
X264_DEFAULTS = ("-c:v", "libx264", "-profile:v", "high", "-pix_fmt", "yuv420p")
# 10-bit HEVC as Ark delivers 2.5 1080p and 2.0 4k (hosts-2026.md s1c/s8b); hvc1 tag for players
X265_10BIT_DEFAULTS = ("-c:v", "libx265", "-profile:v", "main10", "-pix_fmt", "yuv420p10le",
                       "-tag:v", "hvc1", "-x265-params", "log-level=error")
VIDEO_CODECS = {"h264": X264_DEFAULTS, "hevc10": X265_10BIT_DEFAULTS}


def x265_10bit_args(*, crf: int = 18, preset: str = "medium") -> list[str]:
    """The stitcher's re-encode settings for a 10-bit HEVC output: the emulator's (and, as far as
    we can tell, the host's) Main10 settings, so re-encoded pieces carry the same parameter sets
    (hvcC) as the copied ones. UNCONFIRMED for real Ark clips: calibration checks it and falls back
    to one full re-encode when they differ."""
    return [*X265_10BIT_DEFAULTS, "-preset", preset, "-crf", str(crf)]


# x265 presets the stitcher tries, in order, to reproduce a source's VPS/SPS/PPS (the emulator's
# and, UNCONFIRMED, the host's clips are "medium"); slices from any preset whose parameter sets
# are byte-identical decode with the source's hvcC.
X265_CALIBRATION_PRESETS = ("medium", "fast", "faster", "veryfast", "superfast", "ultrafast", "slow")


def _format_filter(encoder: Sequence[str]) -> str:
    """The filter that hands frames to ``encoder`` in its pixel format. For x265 the chroma
    location is left unspecified: decoded frames carry "left", which x265 would write into the
    SPS VUI, and the host's clips (the emulator's: encoded from RGB) leave it out; one SPS bit
    of difference and re-encoded pieces can no longer sit beside copied ones. UNCONFIRMED for real
    Ark clips: the stitcher compares parameter sets and falls back to a full re-encode."""
    f = f"format={encoder_pix_fmt(encoder)}"
    if "libx265" in encoder:
        f += ",setparams=chroma_location=unspecified"
    return f


def encoder_pix_fmt(encoder: Sequence[str]) -> str:
    """The pixel format an encoder argument list asks for (yuv420p when it names none)."""
    enc = list(encoder)
    for i, a in enumerate(enc[:-1]):
        if a == "-pix_fmt":
            return enc[i + 1]
    return "yuv420p"


def encode_video(out: str | os.PathLike, frames: Iterable[np.ndarray], *, width: int, height: int,
                 fps: int = 24, audio: np.ndarray | None = None, sample_rate: int = 48000,
                 crf: int = 18, preset: str = "medium", gop: int | None = None,
                 threads: int | None = 2, audio_bitrate: str = "128k",
                 extra_video_args: Sequence[str] = (), bitexact: bool = True,
                 codec: str = "h264") -> None:
    """Encode rgb24 frames (HxWx3 uint8) plus optional float audio into an H.264/AAC MP4
    (``codec="hevc10"``: 10-bit HEVC Main10 instead, tagged hvc1).

    ``gop`` None keeps the encoder's default keyint (250: one keyframe for clips this short).
    """
    if codec not in VIDEO_CODECS:
        raise ValueError(f"codec {codec!r}: one of {', '.join(VIDEO_CODECS)}")
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="chainer-enc-") as tmp:
        args: list[str] = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
                           "-r", str(fps), "-i", "-"]
        if audio is not None:
            wav = Path(tmp) / "a.wav"
            write_wav(wav, audio, sample_rate)
            args += ["-i", str(wav)]
        args += ["-map", "0:v:0"]
        if audio is not None:
            args += ["-map", "1:a:0"]
        args += [*VIDEO_CODECS[codec], "-preset", preset, "-crf", str(crf)]
        if gop is not None:
            args += ["-g", str(gop)]
        if threads:
            args += ["-threads", str(threads)]
        args += list(extra_video_args)
        if audio is not None:
            args += ["-c:a", "aac", "-b:a", audio_bitrate, "-ar", str(sample_rate)]
        if bitexact:
            args += ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
                     "-map_metadata", "-1"]
        args += ["-movflags", "+faststart", "-y", str(out)]
        cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", *args]
        with tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=err)
            assert proc.stdin is not None
            try:
                for frame in frames:
                    arr = np.ascontiguousarray(frame, dtype=np.uint8)
                    if arr.shape != (height, width, 3):
                        raise ValueError(f"frame shape {arr.shape} != {(height, width, 3)}")
                    proc.stdin.write(arr.tobytes())
                proc.stdin.close()
            except BrokenPipeError:
                pass
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            rc = proc.wait()
            if rc != 0:
                err.seek(0)
                raise FFmpegError(f"ffmpeg encode failed ({rc}): {_tail(err.read())}")


def extract_frame_png(src: str | os.PathLike, out: str | os.PathLike, *, frame_index: int | None = None,
                      last: bool = False) -> None:
    """Write one decoded frame of ``src`` as PNG (the last one when ``last``)."""
    if last:
        run(["-sseof", "-1", "-i", str(src), "-map", "0:v:0", "-update", "1", "-fps_mode",
             "passthrough", "-y", str(out)])
    else:
        idx = int(frame_index or 0)
        run(["-i", str(src), "-map", "0:v:0", "-vf", f"select=eq(n\\,{idx})", "-frames:v", "1",
             "-fps_mode", "passthrough", "-y", str(out)])



def last_frame_png8(src: str | os.PathLike, out: str | os.PathLike) -> None:
    """Write the exact last decoded frame of ``src`` as an 8-bit RGB PNG.

    Decodes the whole video stream (no seeking: a seek near the end can land on the wrong frame
    with B-frames or edit lists) and keeps overwriting ``out`` with each frame, so the file holds
    the final one. ``-pix_fmt rgb24`` forces 8 bits per channel even from 10-bit HEVC (the PNG
    encoder would otherwise pick rgb48), through the same conversion :func:`decode_frames` uses.
    """
    run(["-i", str(src), "-map", "0:v:0", "-fps_mode", "passthrough", "-update", "1",
         "-pix_fmt", "rgb24", "-c:v", "png", "-f", "image2", "-y", str(out)])

# ---- colour grading (review/drift guard) --------------------------------------------------------

def grade_lut3d(src: str | os.PathLike, dst: str | os.PathLike, luts: Sequence[str | os.PathLike | None],
                *, ramp_seconds: float | None = None, crf: int = 16, preset: str = "medium",
                threads: int | None = 2, interp: str = "tetrahedral",
                timeout: float | None = None) -> None:
    """Re-encode ``src`` through one or two 3D LUTs (``.cube``) into ``dst``; audio is copied.

    One LUT: ``lut3d`` on every frame. Two LUTs: the first applies at the first frame, the second at
    the last, with a linear mix in between (``xfade`` fade over ``ramp_seconds``, offset 0: the
    output keeps every input frame). Video: x264 High yuv420p at ``crf`` (<= 18), frames passed
    through one to one. The LUT files are copied into a scratch directory and named plainly so no
    path ever needs filtergraph escaping.

    In the two-LUT form either one may be None: that end is the source picture itself, untouched
    (the mix then runs in yuv420p), so a frame that must not move (a requested last frame) leaves
    exactly as decoded rather than through an RGB round trip (~1-2 dB on saturated detail).
    """
    import shutil

    if not 1 <= len(luts) <= 2 or all(lut is None for lut in luts) or (len(luts) == 1 and luts[0] is None):
        raise ValueError("grade_lut3d takes one or two LUTs (in the two-LUT form one may be None)")
    if crf > 18:
        raise ValueError("grade_lut3d: crf must be <= 18 (a grade must not cost visible quality)")
    src, dst = Path(src).resolve(), Path(dst).resolve()
    with tempfile.TemporaryDirectory(prefix="chainer-lut-") as tmp:
        names: list[str | None] = []
        for i, lut in enumerate(luts):
            if lut is None:
                names.append(None)
                continue
            name = f"lut{i}.cube"
            shutil.copyfile(lut, Path(tmp) / name)
            names.append(name)
        args: list[str] = ["-i", str(src)]
        if len(names) == 1:
            args += ["-map", "0:v:0", "-vf", f"lut3d=file={names[0]}:interp={interp}"]
        else:
            if not ramp_seconds or ramp_seconds <= 0:
                raise ValueError("grade_lut3d: two LUTs need ramp_seconds > 0")
            if None in names:
                a1, b1 = (f"lut3d=file={n}:interp={interp},format=yuv420p" if n else "format=yuv420p"
                          for n in names)
            else:
                a1, b1 = (f"lut3d=file={n}:interp={interp}" for n in names)
            graph = (f"[0:v:0]split=2[a][b];[a]{a1}[a1];[b]{b1}[b1];"
                     f"[a1][b1]xfade=transition=fade:duration={ramp_seconds:.6f}:offset=0[v]")
            args += ["-filter_complex", graph, "-map", "[v]"]
        args += ["-map", "0:a?", *X264_DEFAULTS, "-preset", preset, "-crf", str(crf)]
        if threads:
            args += ["-threads", str(threads)]
        args += ["-c:a", "copy", "-fps_mode", "passthrough", "-map_metadata", "0",
                 "-movflags", "+faststart", "-y", str(dst)]
        cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", *args]
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout, cwd=tmp)
        if proc.returncode != 0:
            raise FFmpegError(f"ffmpeg grade failed ({proc.returncode}): {_tail(proc.stderr)}")


# ---- stitching (media/stitch.py and friends) ----------------------------------------------------

def h264_head_annexb(path: str | os.PathLike) -> bytes:
    """The first video access unit of an MP4's H.264 stream in Annex B form (SPS/PPS inserted)."""
    return run(["-i", str(path), "-map", "0:v:0", "-c:v", "copy", "-bsf:v", "h264_mp4toannexb",
                "-frames:v", "1", "-f", "h264", "-"]).stdout


def _x264_args(encoder: Sequence[str], threads: int | None) -> list[str]:
    args = list(encoder)
    if threads:
        args += ["-threads", str(threads)]
    return args


def _fps_text(fps) -> str:
    from fractions import Fraction

    f = Fraction(fps)
    return f"{f.numerator}/{f.denominator}"


def encode_blank(out: str | os.PathLike, *, width: int, height: int, fps, frames: int,
                 encoder: Sequence[str], timescale: int | None = None, sar: str = "0") -> None:
    """A few black frames through ``encoder`` (used to learn which parameter sets it writes).
    ``sar`` "0" leaves the sample aspect ratio unset (as most provider clips do)."""
    from fractions import Fraction

    tb = _fps_text(1 / Fraction(fps))
    args = ["-f", "lavfi", "-i", f"color=c=black:s={width}x{height}:r={_fps_text(fps)}",
            "-frames:v", str(frames), "-vf", f"setsar={sar},{_format_filter(encoder)},settb=expr={tb}",
            *_x264_args(encoder, 1)]
    if timescale:
        args += ["-video_track_timescale", str(timescale)]
    run([*args, "-an", "-y", str(out)])


def peek_frames(src: str | os.PathLike, *, count: int, size: tuple[int, int],
                from_end: bool = False) -> bytes:
    """Raw rgb24 bytes of the first ``count`` frames (or of the last ones when ``from_end``),
    scaled to ``size``; frames are whole decodes (exact pixels, not seeks)."""
    pw, ph = size
    vf = f"scale={pw}:{ph}:flags=area,format=rgb24"
    args: list[str] = ["-i", str(src), "-map", "0:v:0", "-vf", vf, "-fps_mode", "passthrough"]
    if not from_end:
        args += ["-frames:v", str(count)]
    data = run([*args, "-f", "rawvideo", "-"]).stdout
    if from_end:
        fsize = pw * ph * 3
        data = data[-count * fsize:]
    return data


def remux_video(src: str | os.PathLike, out: str | os.PathLike, *, packets: int | None = None,
                timescale: int | None = None) -> None:
    """Copy the video stream (no audio) into a new MP4, optionally only the first ``packets``
    packets in decode order (a decodable prefix when the caller picked a reference-safe cut)."""
    args: list[str] = ["-i", str(src), "-map", "0:v:0", "-c:v", "copy", "-an"]
    if packets is not None:
        args += ["-frames:v", str(int(packets))]
    if timescale:
        args += ["-video_track_timescale", str(timescale)]
    run([*args, "-y", str(out)])


def render_items(out: str | os.PathLike, items: Sequence[dict], *, width: int, height: int, fps,
                 encoder: Sequence[str], timescale: int | None = None,
                 threads: int | None = 2, sar: str = "0") -> None:
    """Re-encode a run of source ranges into one video-only MP4.

    Each item: ``path``, ``start``/``end`` (source frame indices, end exclusive), ``conform``
    (scale with letterbox + frame-rate conversion to ``fps``), ``frames`` (frame count after
    conform), ``fade_in``/``fade_out`` (frames, through black) and ``xfade`` (frames overlapped
    with the NEXT item by a crossfade; 0 = plain concatenation).
    """
    from fractions import Fraction

    fr = Fraction(fps)
    tb = _fps_text(1 / fr)
    args: list[str] = []
    chains = []
    for k, it in enumerate(items):
        args += ["-i", str(it["path"])]
        f = [f"[{k}:v:0]trim=start_frame={int(it['start'])}:end_frame={int(it['end'])}",
             "setpts=PTS-STARTPTS"]
        if it.get("scale"):
            f.append(f"scale={width}:{height}:force_original_aspect_ratio=decrease:flags=lanczos")
            f.append(f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=black")
        f.append(f"setsar={sar}")
        f.append(f"fps={_fps_text(fr)}")
        n = int(it["frames"])
        f.append(f"trim=end_frame={n}")
        f.append(_format_filter(encoder))
        if it.get("fade_in"):
            f.append(f"fade=t=in:s=0:n={int(it['fade_in'])}")
        if it.get("fade_out"):
            # the last frame is fully black (fade holds black after s+n)
            fo = int(it["fade_out"])
            f.append(f"fade=t=out:s={n - fo}:n={max(1, fo - 1)}")
        f.append(f"settb=expr={tb}")
        chains.append(",".join(f) + f"[v{k}]")
    cur, cur_frames = "[v0]", int(items[0]["frames"])
    for k in range(1, len(items)):
        ov = int(items[k - 1].get("xfade") or 0)
        nxt = f"[v{k}]"
        lab = f"[j{k}]"
        if ov:
            off = (cur_frames - ov) / fr
            chains.append(f"{cur}{nxt}xfade=transition=fade:duration={float(ov / fr):.6f}:"
                          f"offset={float(off):.6f}{lab}")
            cur_frames += int(items[k]["frames"]) - ov
        else:
            chains.append(f"{cur}{nxt}concat=n=2:v=1:a=0{lab}")
            cur_frames += int(items[k]["frames"])
        cur = lab
    args += ["-filter_complex", ";".join(chains), "-map", cur, "-fps_mode", "passthrough",
             "-frames:v", str(cur_frames), *_x264_args(encoder, threads), "-an"]
    if timescale:
        args += ["-video_track_timescale", str(timescale)]
    run([*args, "-y", str(out)])


def write_concat_list(path: str | os.PathLike, entries: Sequence[tuple[str, float]]) -> None:
    """An ffconcat script: each entry (file, duration in seconds, exact to the microsecond)."""
    lines = ["ffconcat version 1.0"]
    for file, dur in entries:
        esc = str(Path(file).resolve()).replace("'", "'\\''")
        lines.append(f"file '{esc}'")
        lines.append(f"duration {dur:.6f}")
    Path(path).write_text("\n".join(lines) + "\n")


def mux_stitched(out: str | os.PathLike, *, concat_list: str | os.PathLike,
                 audio_raw: str | os.PathLike | None = None, sample_rate: int = 48000,
                 channels: int = 1, metadata: str | os.PathLike | None = None,
                 loudness: float | None = None, true_peak: float = -1.5,
                 audio_bitrate: str = "160k", timescale: int | None = None,
                 faststart: bool = True, audio_encoded: str | os.PathLike | None = None) -> None:
    """Final assembly: the concatenated video stream copied, the float PCM track encoded to AAC
    once (optionally loudness-normalised), chapters/metadata from an ffmetadata file.
    ``audio_encoded``: an already encoded audio file, copied (instead of ``audio_raw``)."""
    args: list[str] = ["-f", "concat", "-safe", "0", "-i", str(concat_list)]
    nin = 1
    a_idx = m_idx = None
    if audio_encoded is not None:
        args += ["-i", str(audio_encoded)]
        a_idx, nin = nin, nin + 1
    elif audio_raw is not None:
        args += ["-f", "f32le", "-ar", str(sample_rate), "-ac", str(channels), "-i", str(audio_raw)]
        a_idx, nin = nin, nin + 1
    if metadata is not None:
        args += ["-f", "ffmetadata", "-i", str(metadata)]
        m_idx, nin = nin, nin + 1
    args += ["-map", "0:v:0"]
    if a_idx is not None:
        args += ["-map", f"{a_idx}:a:0"]
    args += ["-c:v", "copy"]
    if timescale:
        args += ["-video_track_timescale", str(timescale)]
    if audio_encoded is not None:
        args += ["-c:a", "copy"]
    elif a_idx is not None:
        if loudness is not None:
            args += ["-af", f"loudnorm=I={loudness}:TP={true_peak}:LRA=11,"
                            f"aresample={sample_rate}"]
        args += ["-c:a", "aac", "-aac_coder", "fast", "-b:a", audio_bitrate, "-ar", str(sample_rate)]
    if m_idx is not None:
        args += ["-map_metadata", str(m_idx), "-map_chapters", str(m_idx)]
    else:
        args += ["-map_metadata", "-1", "-map_chapters", "-1"]
    if faststart:
        args += ["-movflags", "+faststart"]
    run([*args, "-f", "mp4", "-y", str(out)])


def loudness_stats(path: str | os.PathLike) -> dict:
    """Integrated loudness (LUFS) and true peak (dBTP) of the first audio stream (EBU R128)."""
    import re

    proc = run(["-nostats", "-i", str(path), "-map", "0:a:0", "-af", "ebur128=peak=true",
                "-f", "null", "-"], loglevel="info")
    text = proc.stderr.decode("utf-8", "replace")
    summary = text[text.rfind("Summary:"):]
    i = re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", summary)
    tp = re.search(r"True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS", summary)
    return {"integrated": float(i.group(1)) if i else None,
            "true_peak": float(tp.group(1)) if tp else None}


def decode_check(path: str | os.PathLike) -> str:
    """Decode every stream fully; return what ffmpeg reports at warning level (empty = clean)."""
    proc = run(["-i", str(path), "-f", "null", "-"], loglevel="warning", check=False)
    text = proc.stderr.decode("utf-8", "replace").strip()
    if proc.returncode != 0 and not text:
        text = f"ffmpeg exited {proc.returncode}"
    return text


def scan_clip(path: str | os.PathLike, *, peek_out: str | os.PathLike, peek_size: tuple[int, int],
              peek_count: int = 2) -> tuple[str, str]:
    """One ffmpeg run over a clip: the video stream's packets as framecrc lines (returned stdout
    text, parse with :func:`chainer.media.probe.parse_framecrc`), its first ``peek_count`` decoded
    frames scaled to ``peek_size`` as rgb24 in ``peek_out``, and the input banner (stderr text)."""
    pw, ph = peek_size
    proc = run(["-nostats", "-i", str(path),
                "-map", "0:v:0", "-c", "copy", "-f", "framecrc", "-",
                "-map", "0:v:0", "-vf", f"scale={pw}:{ph}:flags=area,format=rgb24",
                "-frames:v", str(int(peek_count)), "-fps_mode", "passthrough", "-f", "rawvideo",
                "-y", str(peek_out)], loglevel="info")
    return proc.stdout.decode("ascii", "replace"), proc.stderr.decode("utf-8", "replace")


def clip_pass(src: str | os.PathLike, *, drop: Sequence[int] = (), keep_packets: int | None = None,
              peek_out: str | os.PathLike | None, peek_frames: Sequence[int] = (),
              peek_size: tuple[int, int] = (256, 144), tail_out: str | os.PathLike | None = None,
              tail_start: int = 0, tail_end: int = 0, fps=24, encoder: Sequence[str] = (),
              timescale: int | None = None, sar: str = "0",
              audio_out: str | os.PathLike | None = None, sample_rate: int = 48000,
              channels: int = 1) -> None:
    """One single-threaded decode of ``src`` serving up to three outputs.

    The video packets with decode-order indices in ``drop`` (non-reference pictures nobody needs)
    and from ``keep_packets`` on are dropped before the decoder, so frame indices below count the
    frames that remain, in display order. ``peek_out``: frames ``peek_frames`` as raw rgb24 scaled
    to ``peek_size`` (seam comparison). ``tail_out``: frames ``[tail_start, tail_end)`` encoded
    with ``encoder`` (a smart-render tail). ``audio_out``: the whole audio stream as f32le.
    """
    from fractions import Fraction

    terms = [f"eq(n\\,{int(j)})" for j in sorted(drop)]
    if keep_packets is not None:
        terms.append(f"gte(n\\,{int(keep_packets)})")
    args: list[str] = ["-threads", "1"]
    if terms:
        args += ["-bsf:v", "noise=drop=" + "+".join(terms)]
    args += ["-i", str(src), "-filter_complex_threads", "1"]
    graph = []
    outs = []
    if tail_out is not None:
        outs.append("t")
    if peek_out is not None and peek_frames:
        outs.append("p")
    if outs:
        tb = _fps_text(1 / Fraction(fps))
        if len(outs) > 1:
            graph.append("[0:v:0]split=2" + "".join(f"[{o}0]" for o in outs))
        for o in outs:
            lead = f"[{o}0]" if len(outs) > 1 else "[0:v:0]"
            if o == "t":
                graph.append(f"{lead}trim=start_frame={int(tail_start)}:end_frame={int(tail_end)},"
                             f"setpts=PTS-STARTPTS,setsar={sar},{_format_filter(encoder)},"
                             f"settb=expr={tb}[t]")
            else:
                pw, ph = peek_size
                sel = "+".join(f"eq(n\\,{int(k)})" for k in sorted(set(peek_frames)))
                graph.append(f"{lead}select={sel},scale={pw}:{ph}:flags=area,format=rgb24[p]")
        args += ["-filter_complex", ";".join(graph)]
    if tail_out is not None:
        args += ["-map", "[t]", *_x264_args(encoder, 1), "-an"]
        if timescale:
            args += ["-video_track_timescale", str(timescale)]
        args += ["-y", str(tail_out)]
    if "p" in outs:
        args += ["-map", "[p]", "-fps_mode", "passthrough", "-f", "rawvideo", "-y", str(peek_out)]
    if audio_out is not None:
        args += ["-map", "0:a:0", "-ar", str(sample_rate), "-ac", str(channels), "-c:a", "pcm_f32le",
                 "-f", "f32le", "-y", str(audio_out)]
    run(args)


def encode_audio_track(raw: str | os.PathLike, out: str | os.PathLike, *, sample_rate: int,
                       channels: int, loudness: float | None = None, true_peak: float = -1.5,
                       audio_bitrate: str = "160k") -> None:
    """Float PCM (f32le interleaved) to an AAC-in-MP4 audio file, optionally loudness-normalised
    (the stitched output's audio track, encoded once)."""
    args: list[str] = ["-f", "f32le", "-ar", str(sample_rate), "-ac", str(channels), "-i", str(raw),
                       "-map", "0:a:0"]
    if loudness is not None:
        args += ["-af", f"loudnorm=I={loudness}:TP={true_peak}:LRA=11,aresample={sample_rate}"]
    args += ["-c:a", "aac", "-aac_coder", "fast", "-b:a", audio_bitrate, "-ar", str(sample_rate),
             "-map_metadata", "-1", "-f", "mp4", "-y", str(out)]
    run(args)


class PipeEncoder:
    """An ffmpeg process reading raw data on stdin (``write``); ``close`` waits for it and raises
    :class:`FFmpegError` if it failed; ``kill`` stops it."""

    def __init__(self, args: Sequence[str | os.PathLike]):
        self._err = tempfile.TemporaryFile()
        cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", *[str(a) for a in args]]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=self._err)

    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(data)
        except BrokenPipeError:
            self.close()
            raise FFmpegError("ffmpeg stopped reading its input") from None

    def close(self) -> None:
        try:
            if self.proc.stdin and not self.proc.stdin.closed:
                try:
                    self.proc.stdin.close()
                except BrokenPipeError:
                    pass
            rc = self.proc.wait()
            if rc != 0:
                self._err.seek(0)
                raise FFmpegError(f"ffmpeg failed ({rc}): {_tail(self._err.read())}")
        finally:
            self._err.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        self._err.close()


def audio_track_encoder(out: str | os.PathLike, *, sample_rate: int, channels: int,
                        loudness: float | None = None, true_peak: float = -1.5,
                        audio_bitrate: str = "160k") -> PipeEncoder:
    """Like :func:`encode_audio_track`, fed f32le PCM through ``write`` while it is produced."""
    args: list[str] = ["-f", "f32le", "-ar", str(sample_rate), "-ac", str(channels), "-i", "-",
                       "-map", "0:a:0"]
    if loudness is not None:
        args += ["-af", f"loudnorm=I={loudness}:TP={true_peak}:LRA=11,aresample={sample_rate}"]
    args += ["-c:a", "aac", "-aac_coder", "fast", "-b:a", audio_bitrate, "-ar", str(sample_rate),
             "-map_metadata", "-1", "-f", "mp4", "-y", str(out)]
    return PipeEncoder(args)


def decode_audio_files(srcs: Sequence[str | os.PathLike], outs: Sequence[str | os.PathLike], *,
                       sample_rate: int, channels: int) -> None:
    """Decode the first audio stream of each of ``srcs`` to f32le files ``outs`` (resampled to
    ``sample_rate``/``channels``) in one ffmpeg run (each exactly as :func:`decode_audio`)."""
    args: list[str] = []
    for src in srcs:
        args += ["-vn", "-i", str(src)]
    for k, out in enumerate(outs):
        args += ["-map", f"{k}:a:0", "-ar", str(sample_rate), "-ac", str(channels),
                 "-c:a", "pcm_f32le", "-f", "f32le", "-y", str(out)]
    run(args)


def _select_args(path, drop: Sequence[int], select: Sequence[int], vf: str | None,
                 threads: int) -> list[str]:
    args: list[str] = ["-threads", str(int(threads))]
    if drop:
        args += ["-bsf:v", "noise=drop=" + "+".join(f"eq(n\\,{int(j)})" for j in sorted(drop))]
    args += ["-i", str(path), "-map", "0:v:0", "-filter_threads", "1"]
    filters = []
    if select:
        filters.append("select=" + "+".join(f"eq(n\\,{int(k)})" for k in sorted(set(select))))
    if vf:
        filters.append(vf)
    if filters:
        args += ["-vf", ",".join(filters)]
    args += ["-fps_mode", "passthrough"]
    if select:
        args += ["-frames:v", str(len(set(select)))]
    return args + ["-f", "rawvideo", "-pix_fmt", "rgb24"]


def decode_frames_dropping(path: str | os.PathLike, width: int, height: int, *,
                           drop: Sequence[int] = (), select: Sequence[int] = (),
                           vf: str | None = None, threads: int = 1) -> Iterator[np.ndarray]:
    """Decode only some frames of a clip as rgb24 HxWx3 arrays, in display order (review).

    ``drop``: decode-order indices of video packets discarded before the decoder (non-reference
    pictures nobody needs: the rest decodes exactly). ``select``: which of the frames that remain
    (display order, counted after the drop) leave the filter graph; ``vf`` (e.g. a scale) runs on
    those only; ``width``/``height`` are the size after ``vf``. Single-threaded by default so
    several clips can decode side by side."""
    for buf in stream_stdout([*_select_args(path, drop, select, vf, threads), "-"],
                             width * height * 3):
        yield np.frombuffer(buf, dtype=np.uint8).reshape(height, width, 3)


def select_frames_raw(path: str | os.PathLike, out: str | os.PathLike, *,
                      drop: Sequence[int] = (), select: Sequence[int] = (),
                      vf: str | None = None, threads: int = 1) -> None:
    """:func:`decode_frames_dropping` into a raw rgb24 file (runs to completion; no frame passes
    through Python, so a thread can wait on it while another reads the previous file)."""
    run([*_select_args(path, drop, select, vf, threads), "-y", str(out)])


# ---- subtitles burn-in (output.subtitles: burn) ---------------------------------------------------

def _filter_path(path: str | os.PathLike) -> str:
    """A path as a filter option value inside a filtergraph: escaped for the option parser, then
    for the graph parser (so quotes, colons, commas and brackets in a run dir's name are safe)."""
    p = str(Path(path).resolve())
    for ch in ("\\", "'", ":"):
        p = p.replace(ch, "\\" + ch)
    for ch in ("\\", "'", "[", "]", ",", ";"):
        p = p.replace(ch, "\\" + ch)
    return p


def subtitles_burn_filter(ass_path: str | os.PathLike,
                          fonts_dir: str | os.PathLike | None = None) -> str:
    """The video filter that draws an ASS script (``subtitles.to_ass``) onto the frames with
    libass; add it to a re-encode's ``-vf`` chain."""
    f = f"ass=filename={_filter_path(ass_path)}"
    if fonts_dir is not None:
        f += f":fontsdir={_filter_path(fonts_dir)}"
    return f


def burn_subtitles(src: str | os.PathLike, ass_path: str | os.PathLike,
                   out: str | os.PathLike, *, encoder: Sequence[str] = X264_DEFAULTS,
                   crf: int = 18, preset: str = "medium", threads: int | None = 2,
                   timescale: int | None = None,
                   fonts_dir: str | os.PathLike | None = None) -> None:
    """Re-encode ``src``'s video with the ASS script drawn on it; audio, subtitle streams,
    chapters and metadata are copied (the film's one audio encode is kept as it is)."""
    args: list[str] = ["-i", str(src), "-map", "0:v:0", "-map", "0:a?", "-map", "0:s?",
                       "-vf", subtitles_burn_filter(ass_path, fonts_dir),
                       *_x264_args([*encoder, "-preset", preset, "-crf", str(crf)], threads),
                       "-c:a", "copy", "-c:s", "copy", "-map_chapters", "0"]
    if timescale:
        args += ["-video_track_timescale", str(timescale)]
    run([*args, "-movflags", "+faststart", "-f", "mp4", "-y", str(out)])


# ---- music bed (output.music) ---------------------------------------------------------------------

def music_bed_pcm(src: str | os.PathLike, out: str | os.PathLike, *, samples: int,
                  sample_rate: int, channels: int, loop: bool = True, gain_db: float = 0.0,
                  fade_in: float = 0.0, fade_out: float = 0.0) -> None:
    """``src``'s first audio stream as exactly ``samples`` f32le samples (``out``): looped (or
    padded with silence) to length and trimmed, at ``gain_db``, faded in at the start and out at
    the end."""
    dur = samples / sample_rate
    chain = [f"aresample={sample_rate}", f"volume={gain_db:.4f}dB", "apad",
             f"atrim=end_sample={int(samples)}"]
    if fade_in > 0:
        chain.append(f"afade=t=in:st=0:d={min(fade_in, dur):.6f}:curve=qsin")
    if fade_out > 0:
        d = min(fade_out, dur)
        chain.append(f"afade=t=out:st={max(0.0, dur - d):.6f}:d={d:.6f}:curve=qsin")
    args: list[str] = []
    if loop:
        args += ["-stream_loop", "-1"]
    args += ["-vn", "-i", str(src), "-map", "0:a:0", "-af", ",".join(chain), "-ac", str(channels),
             "-c:a", "pcm_f32le", "-f", "f32le", "-y", str(out)]
    run(args)


def _loudnorm(target: float, true_peak: float, lra: float) -> str:
    return f"loudnorm=I={target}:TP={true_peak}:LRA={lra}"


def loudnorm_measure(raw: str | os.PathLike, *, sample_rate: int, channels: int,
                     target: float = -16.0, true_peak: float = -1.5, lra: float = 11.0) -> dict:
    """loudnorm's first pass over f32le PCM: ``input_i``, ``input_tp``, ``input_lra``,
    ``input_thresh``, ``target_offset`` (floats)."""
    import json
    import re

    proc = run(["-nostats", "-f", "f32le", "-ar", str(sample_rate), "-ac", str(channels),
                "-i", str(raw), "-af", _loudnorm(target, true_peak, lra) + ":print_format=json",
                "-f", "null", "-"], loglevel="info")
    text = proc.stderr.decode("utf-8", "replace")
    m = re.search(r"\{[^{}]*\"input_i\"[^{}]*\}", text)
    if not m:
        raise FFmpegError("loudnorm printed no measurement")
    data = json.loads(m.group(0))
    return {k: float(data[k]) for k in ("input_i", "input_tp", "input_lra", "input_thresh",
                                         "target_offset")}


def loudnorm_apply(raw: str | os.PathLike, out: str | os.PathLike, measured: dict, *,
                   sample_rate: int, channels: int, target: float = -16.0,
                   true_peak: float = -1.5, lra: float = 11.0) -> None:
    """loudnorm's second pass: one linear gain to ``target`` (loudnorm falls back to its dynamic
    mode only if the true-peak limit would be crossed); f32le in and out, same length."""
    m = measured
    af = (f"{_loudnorm(target, true_peak, lra)}:measured_I={m['input_i']}:"
          f"measured_TP={m['input_tp']}:measured_LRA={m['input_lra']}:"
          f"measured_thresh={m['input_thresh']}:offset={m['target_offset']}:linear=true,"
          f"aresample={sample_rate}")
    run(["-f", "f32le", "-ar", str(sample_rate), "-ac", str(channels), "-i", str(raw),
         "-af", af, "-c:a", "pcm_f32le", "-f", "f32le", "-y", str(out)])


def thumbnail_png(src: str | os.PathLike, out: str | os.PathLike, *, frame_index: int = 0,
                  width: int = 320) -> None:
    """Frame ``frame_index`` of ``src`` as a PNG ``width`` pixels wide (height kept in proportion,
    even)."""
    idx = int(frame_index)
    run(["-i", str(src), "-map", "0:v:0", "-vf", f"select=eq(n\\,{idx}),scale={int(width)}:-2",
         "-frames:v", "1", "-fps_mode", "passthrough", "-y", str(out)])


def add_subtitle_track(src: str | os.PathLike, subtitles: str | os.PathLike,
                       out: str | os.PathLike, *, language: str = "und") -> None:
    """``src`` with every stream copied plus ``subtitles`` (SRT/VTT) as a mov_text track tagged
    ``language`` (ISO 639-2); chapters and metadata kept. For films the MP4 writer did not write
    (the ffmpeg mux path); the writer adds the track itself otherwise."""
    run(["-i", str(src), "-i", str(subtitles), "-map", "0:v", "-map", "0:a?", "-map", "1:s:0",
         "-c:v", "copy", "-c:a", "copy", "-c:s", "mov_text",
         "-metadata:s:s:0", f"language={language}", "-map_chapters", "0", "-map_metadata", "0",
         "-movflags", "+faststart", "-f", "mp4", "-y", str(out)])


def loudness_curve(path: str | os.PathLike) -> list[tuple[float, float, float]]:
    """The first audio stream's loudness over time (EBU R128, every 100 ms):
    ``(t seconds, momentary LUFS, short-term LUFS)``; -120.7 means silence. For the report's
    loudness-over-time chart beside the shots."""
    import re

    proc = run(["-nostats", "-i", str(path), "-map", "0:a:0", "-af", "ebur128", "-f", "null", "-"],
               loglevel="info")
    out = []
    for m in re.finditer(r"t:\s*([\d.]+)\s+TARGET:.*?M:\s*(-?[\d.]+|-inf)\s+S:\s*(-?[\d.]+|-inf)",
                         proc.stderr.decode("utf-8", "replace")):
        t, mom, short = (float(x) for x in m.groups())
        out.append((t, mom, short))
    return out


def input_banner(path: str | os.PathLike) -> str:
    """What ``ffmpeg -i PATH`` prints about an input (its streams, duration, chapters and
    metadata), for :func:`chainer.media.probe.probe`; ffmpeg exits non-zero here by design (no
    output was named), so the exit code says nothing."""
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", os.fspath(path)],
                          capture_output=True)
    return proc.stderr.decode("utf-8", "replace")
