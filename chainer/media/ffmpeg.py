"""The one place that builds and runs ffmpeg command lines.

The binary is imageio-ffmpeg's bundled ffmpeg (no system ffmpeg, and no ffprobe: probing is in
:mod:`chainer.media.probe`, built on the helpers here). Every other module asks this one for a
decode, an encode or a run; none assembles ffmpeg arguments of its own.
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


def encode_video(out: str | os.PathLike, frames: Iterable[np.ndarray], *, width: int, height: int,
                 fps: int = 24, audio: np.ndarray | None = None, sample_rate: int = 48000,
                 crf: int = 18, preset: str = "medium", gop: int | None = None,
                 threads: int | None = 2, audio_bitrate: str = "128k",
                 extra_video_args: Sequence[str] = (), bitexact: bool = True) -> None:
    """Encode rgb24 frames (HxWx3 uint8) plus optional float audio into an H.264/AAC MP4.

    ``gop`` None keeps x264's default keyint (250: one keyframe for clips this short).
    """
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
        args += [*X264_DEFAULTS, "-preset", preset, "-crf", str(crf)]
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


# ---- colour grading (review/drift guard) --------------------------------------------------------

def grade_lut3d(src: str | os.PathLike, dst: str | os.PathLike, luts: Sequence[str | os.PathLike],
                *, ramp_seconds: float | None = None, crf: int = 16, preset: str = "medium",
                threads: int | None = 2, interp: str = "tetrahedral",
                timeout: float | None = None) -> None:
    """Re-encode ``src`` through one or two 3D LUTs (``.cube``) into ``dst``; audio is copied.

    One LUT: ``lut3d`` on every frame. Two LUTs: the first applies at the first frame, the second at
    the last, with a linear mix in between (``xfade`` fade over ``ramp_seconds``, offset 0: the
    output keeps every input frame). Video: x264 High yuv420p at ``crf`` (<= 18), frames passed
    through one to one. The LUT files are copied into a scratch directory and named plainly so no
    path ever needs filtergraph escaping.
    """
    import shutil

    if not 1 <= len(luts) <= 2:
        raise ValueError("grade_lut3d takes one or two LUTs")
    if crf > 18:
        raise ValueError("grade_lut3d: crf must be <= 18 (a grade must not cost visible quality)")
    src, dst = Path(src).resolve(), Path(dst).resolve()
    with tempfile.TemporaryDirectory(prefix="chainer-lut-") as tmp:
        names = []
        for i, lut in enumerate(luts):
            name = f"lut{i}.cube"
            shutil.copyfile(lut, Path(tmp) / name)
            names.append(name)
        args: list[str] = ["-i", str(src)]
        if len(names) == 1:
            args += ["-map", "0:v:0", "-vf", f"lut3d=file={names[0]}:interp={interp}"]
        else:
            if not ramp_seconds or ramp_seconds <= 0:
                raise ValueError("grade_lut3d: two LUTs need ramp_seconds > 0")
            graph = (f"[0:v:0]split=2[a][b];[a]lut3d=file={names[0]}:interp={interp}[a1];"
                     f"[b]lut3d=file={names[1]}:interp={interp}[b1];"
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
