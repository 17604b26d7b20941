"""The assembly engine: seamless, audio-on stitching of chained clips at near-copy speed.

Per segment it picks the cheapest path that keeps every seam correct:

- ``copy``: the clip's packets go to the output untouched (nothing about it changes);
- ``smart``: a chained seam's duplicate frame is dropped from the PREVIOUS clip's end (it is the
  same picture as the next clip's first frame). The packets up to that clip's last reference-safe
  point (a decode-order prefix that is also display-contiguous) are copied and only the few frames
  after it are re-encoded, with an encoder setting whose SPS/PPS are byte-identical to the source's
  (learnt once by encoding two black frames), so copied and re-encoded parts form one valid stream;
- ``reencode``: the whole segment is re-encoded (conform of size/fps/pixel format/encoder, a
  transition into it, or a head trim that cannot move to the previous clip).

Codecs: H.264 (x264) and 10-bit HEVC (x265 Main10, hvc1; Seedance 2.5 1080p / 2.0 4k). When any
source is 10-bit HEVC the output is 10-bit HEVC (H.264 segments are re-encoded into it, so a
10-bit source never loses its depth); the same three paths apply, the "same parameter sets" being
hvcC's VPS/SPS/PPS (x265 presets tried in turn, ``ffmpeg.X265_CALIBRATION_PRESETS``).

If no encoder setting reproduces the source's parameter sets, every segment that needs any
re-encoding makes the whole output a single re-encode (correct, slower; reported in ``notes``).

Audio is decoded from every segment, trimmed to the video frames kept, joined with short
equal-power crossfades (silence for segments without audio) into one track and encoded once.

The finished edit is returned as ``StitchResult.timeline`` (:class:`chainer.timeline.Timeline`),
built once here from the segment plans; the MP4's chapters are read from it.

Size: this module is over 500 lines on purpose. The analysis, seam decisions, smart-render
pieces, audio job and mux share the per-segment plans and one thread pool in a single pass; split
across modules they would have to pass that mutable state around.
"""
from __future__ import annotations

import os
import tempfile
import time
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from ..errors import InputError
from ..timeline import Entry, Timeline
from . import ffmpeg as ff
from .audio import SEAM_FADE, AudioPiece, Join, assemble
from .chapters import write_ffmetadata
from .music import MusicBed, mix_music, music_spans
from .subtitles import film_cues, to_srt
from . import mp4
from .h264 import headers_from_nals, mp4_avcc_nals, parse_headers, parse_sps, x264_options
from .probe import ProbeError, parse_framecrc, parse_stream_kinds, probe
from .seams import PEEK_SIZE, compare_seam, frames_from_raw
from ..transitions import parse_transition
from .timeline import (SegPlan, Source, Target, conform_steps, converted_frames,
                       parse_target, tail_cut)

SEAM_MODES = ("auto", "dedupe", "keep")
MAX_CRF = 18


@dataclass
class Segment:
    path: str | os.PathLike
    shot_id: str
    chained: bool
    title: str | None = None
    transition: str | None = None     # how this segment is entered at a cut
    extends: bool = False             # continues the previous clip by extension: no transition,
    head_trim: int = 0                # no shared frame; ``head_trim`` held/repeated frames dropped


@dataclass
class SegmentResult:
    shot_id: str
    path: str
    frames_in: int
    frames_kept: int
    head_trim: int
    tail_trim: int
    start: float
    duration: float
    path_taken: str
    conform: list[str]
    transition_in: str | None
    chained: bool = False
    seam: dict | None = None
    audio: bool = True

    def to_dict(self) -> dict:
        return {"shot_id": self.shot_id, "path": self.path, "frames_in": self.frames_in,
                "frames_kept": self.frames_kept, "head_trim": self.head_trim,
                "tail_trim": self.tail_trim, "start": round(self.start, 6),
                "duration": round(self.duration, 6), "path_taken": self.path_taken,
                "conform": list(self.conform), "transition_in": self.transition_in,
                "chained": self.chained, "seam": self.seam, "audio": self.audio}


@dataclass
class StitchResult:
    output: str
    frames: int
    duration: float
    audio_duration: float
    timings: dict
    segments: list[SegmentResult] = field(default_factory=list)
    width: int = 0
    height: int = 0
    fps: float = 0.0
    seam: str = "auto"
    encoder: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timeline: Timeline | None = None   # the edit; paths as given (see Timeline.relative_to)

    def to_dict(self) -> dict:
        paths: dict[str, int] = {}
        for s in self.segments:
            paths[s.path_taken] = paths.get(s.path_taken, 0) + 1
        return {"output": self.output, "frames": self.frames, "duration": round(self.duration, 6),
                "audio_duration": round(self.audio_duration, 6), "width": self.width,
                "height": self.height, "fps": self.fps, "seam": self.seam,
                "paths": paths, "encoder": list(self.encoder), "notes": list(self.notes),
                "timings": {k: round(v, 3) for k, v in self.timings.items()},
                "segments": [s.to_dict() for s in self.segments]}


# ---- analysis -----------------------------------------------------------------------------------

def _analyse(path: str) -> Source:
    """Stream facts, every video packet's timestamps and the parameter sets: read from the MP4's
    sample tables (no process), or by two ffmpeg runs for anything else."""
    try:
        return _analyse_mp4(path)
    except (mp4.Mp4Error, ValueError):
        pass
    return _analyse_ffmpeg(path)


def _analyse_mp4(path: str) -> Source:
    """The MP4 fast path. Raises Mp4Error for anything it does not fully understand (the ffmpeg
    path then decides)."""
    movie = mp4.read(path)
    v = movie.first("vide")
    hevc = v is not None and v.codec == "hvc1" and bool(v.hvcc) and v.count > 0
    if v is None or not hevc and (v.codec not in ("avc1", "avc3") or not v.avcc or v.count == 0):
        raise mp4.Mp4Error("no H.264 or HEVC (hvc1) video track")
    if not v.is_sync(0):
        raise mp4.Mp4Error("video does not start with a keyframe")
    if v.matrix != mp4.IDENTITY_MATRIX:
        raise mp4.Mp4Error("rotated or transformed video")
    deltas = {b - a for a, b in zip(v.dts, v.dts[1:])}
    if len(deltas) > 1 or 0 in deltas:
        raise mp4.Mp4Error("variable frame rate")
    first_pts = min(v.pts)
    if v.elst:
        edits = [e for e in v.elst if e[1] >= 0]
        if len(v.elst) != 1 or not edits or edits[0][1] != first_pts or edits[0][2] != 1.0:
            raise mp4.Mp4Error("edit list trims or shifts the video")
    elif first_pts != 0:
        raise mp4.Mp4Error("video starts late")
    if hevc:
        return _source_hevc(path, movie, v, deltas, first_pts)
    nals = v.avcc_nals()
    sps = parse_sps(next(n for n in nals if n and n[0] & 0x1F == 7))
    if (sps.width, sps.height) != (v.width, v.height) or sps.pix_fmt is None:
        raise mp4.Mp4Error("sample entry and SPS disagree")
    first = mp4.read_samples(path, v, [0])[0]
    headers = headers_from_nals(nals + [n for n in mp4.sample_nals(first, v.nal_length_size)
                                        if n and n[0] & 0x1F == 6])
    fps, audio = _rate_and_audio(movie, v, deltas)
    return Source(path=str(path), width=v.width, height=v.height, fps=fps, pix_fmt=sps.pix_fmt,
                  codec="h264", timescale=v.timescale, frames=v.count, pts=v.pts, headers=headers,
                  video_first=movie.tracks[0] is v, audio=audio is not None,
                  sample_rate=audio.sample_rate if audio else None,
                  channels=audio.channels if audio else None, track=v)


def _rate_and_audio(movie, v, deltas: set) -> tuple[Fraction, object | None]:
    delta = next(iter(deltas)) if deltas else None
    fps = Fraction(v.timescale, delta) if delta else Fraction(24)
    for t in movie.tracks:
        if t.handler == "soun":
            if t.codec != "mp4a" or t.audio_object_type not in (1, 2) or not t.sample_rate \
                    or not t.channels:
                raise mp4.Mp4Error("audio other than AAC-LC")
            return fps, t
    return fps, None


def _source_hevc(path: str, movie, v, deltas: set, first_pts: int) -> Source:
    """An hvc1 track read from its sample tables: the pixel format from hvcC's chroma format and
    bit depth; the VPS/SPS/PPS are the key re-encoded pieces must reproduce to sit beside it."""
    h = v.hvcc
    if len(h) < 23:
        raise mp4.Mp4Error("unreadable hvcC")
    chroma, depth = h[16] & 3, (h[17] & 7) + 8
    if chroma != 1 or depth not in (8, 10):
        raise mp4.Mp4Error("HEVC other than 4:2:0 8/10-bit")
    fps, audio = _rate_and_audio(movie, v, deltas)
    return Source(path=str(path), width=v.width, height=v.height, fps=fps,
                  pix_fmt="yuv420p10le" if depth == 10 else "yuv420p", codec="hevc",
                  timescale=v.timescale, frames=v.count, pts=v.pts, headers=None,
                  video_first=movie.tracks[0] is v, audio=audio is not None,
                  sample_rate=audio.sample_rate if audio else None,
                  channels=audio.channels if audio else None, track=v,
                  param_key=("hevc", v.hvcc_param_sets()))


def _analyse_ffmpeg(path: str) -> Source:
    try:
        info = probe(path)
    except ProbeError as exc:
        raise InputError(f"{path}: cannot read this file as video ({exc})") from None
    if info.video is None:
        raise InputError(f"{path}: has no video stream")
    try:
        with tempfile.TemporaryDirectory(prefix="chainer-scan-") as tmp:
            crc, banner = ff.scan_clip(path, peek_out=Path(tmp) / "head.rgb", peek_size=PEEK_SIZE,
                                       peek_count=1)
    except ff.FFmpegError as exc:
        raise InputError(f"{path}: cannot decode the video ({exc})") from None
    pk = [p for p in parse_framecrc(crc) if p.stream == 0]
    if not pk:
        raise InputError(f"{path}: the video stream has no frames")
    v = info.video
    fps = v.fps
    tb = v.time_base
    if fps is None and tb and len(pk) > 1:
        fps = Fraction(1) / (Fraction(pk[1].dts - pk[0].dts) * tb)
    headers = None
    if v.codec == "h264":
        nals = mp4_avcc_nals(path)
        headers = headers_from_nals(nals) if nals else parse_headers(ff.h264_head_annexb(path))
    kinds = parse_stream_kinds(banner)
    param_key = None
    if v.codec == "hevc":
        try:
            hv = mp4.read(path).first("vide")
            param_key = ("hevc", hv.hvcc_param_sets()) if hv is not None and hv.hvcc else None
        except (mp4.Mp4Error, ValueError, OSError):
            param_key = None
    return Source(path=str(path), width=v.width, height=v.height, fps=Fraction(fps or 24),
                  pix_fmt=v.pix_fmt, codec=v.codec,
                  timescale=int(round(1 / tb)) if tb else None, frames=len(pk),
                  pts=[p.pts for p in pk], headers=headers,
                  video_first=bool(kinds) and kinds[0] == "video",
                  audio=info.audio is not None,
                  sample_rate=info.audio.sample_rate if info.audio else None,
                  channels=info.audio.channels if info.audio else None, param_key=param_key)


def _encoder_candidates(src: Source | None) -> list[list[str]]:
    """x264 settings to try, fastest first. The PPS's initial QP is x264's integer CRF, so the crf
    is taken from there; B-frame/reference settings that shape the SPS/PPS are pinned."""
    qp = src.headers.pic_init_qp if src and src.headers and src.headers.pic_init_qp else MAX_CRF
    opts = x264_options(src.headers.x264_options) if src and src.headers else {}
    crf = str(qp) if 0 < qp <= 51 else str(MAX_CRF)
    base = [*ff.X264_DEFAULTS, "-crf", crf]
    pyramid = {"0": "none", "1": "strict", "2": "normal"}.get(opts.get("b_pyramid", "2"), "normal")
    pinned = (f"ref={opts.get('ref', '3')}:bframes={opts.get('bframes', '3')}:b-pyramid={pyramid}"
              f":weightp={opts.get('weightp', '2')}:8x8dct={opts.get('8x8dct', '1')}"
              f":cabac={opts.get('cabac', '1')}")
    if src and src.headers and src.headers.chroma_qp_offset is not None:
        # x264 lowers the chroma offset by 2 itself only when psy-rd is active (slower presets);
        # the fast candidate states the source's value directly.
        pinned += f":chroma-qp-offset={src.headers.chroma_qp_offset}"
    return [[*base, "-preset", "veryfast", "-x264-params", pinned],
            [*base, "-preset", "medium"],
            [*base, "-preset", "veryfast"]]


@dataclass(frozen=True)
class Encoder:
    args: tuple[str, ...]
    sar: str = "0"            # "0": sample aspect ratio left unset, "1": square pixels signalled


def _calibrate(tgt: Target, ref: Source | None, work: Path) -> tuple[Encoder, tuple | None]:
    """Pick the encoder whose parameter sets equal the reference's. Returns (encoder, key); key is
    None when no candidate matches (smart render impossible)."""
    if tgt.codec == "hevc":
        return _calibrate_hevc(tgt, ref, work)
    if ref is not None and ref.headers is not None and ref.headers.x264_options is None:
        # x264's options SEI sits in the first access unit, not in avcC
        full = parse_headers(ff.h264_head_annexb(ref.path))
        if full.key == ref.headers.key:
            ref.headers = full
    cands = _encoder_candidates(ref)
    ref_key = ref.headers.key if ref and ref.headers else None
    k = 0
    for sar in ("0", "1"):
        for args in cands:
            enc = Encoder(tuple(args), sar)
            out = work / f"calib{k}.mp4"
            k += 1
            try:
                ff.encode_blank(out, width=tgt.width, height=tgt.height, fps=tgt.fps, frames=3,
                                encoder=enc.args, timescale=tgt.timescale, sar=sar)
            except ff.FFmpegError:
                continue
            key = _piece_key(out)
            if ref_key is None or key == ref_key:
                return enc, key
    return Encoder((*ff.X264_DEFAULTS, "-crf", str(MAX_CRF), "-preset", "veryfast")), None


def _calibrate_hevc(tgt: Target, ref: Source | None, work: Path) -> tuple[Encoder, tuple | None]:
    """10-bit HEVC output: x265 Main10 at the first preset whose parameter sets equal the
    reference clip's. Key None when none does (re-encoded and copied pieces cannot then share one
    hvcC: segments that need any re-encoding make the whole output a re-encode)."""
    ref_key = ref.param_key if ref is not None else None
    first = None
    for k, preset in enumerate(ff.X265_CALIBRATION_PRESETS):
        enc = Encoder(tuple(ff.x265_10bit_args(preset=preset)))
        first = first or enc
        out = work / f"calib-hevc{k}.mp4"
        try:
            ff.encode_blank(out, width=tgt.width, height=tgt.height, fps=tgt.fps, frames=3,
                            encoder=enc.args, timescale=tgt.timescale, sar=enc.sar)
            key = _piece_key(out)
        except (ff.FFmpegError, mp4.Mp4Error):
            continue
        if ref_key is None or key == ref_key:
            return enc, key
    return first, None


# ---- the engine ---------------------------------------------------------------------------------

def stitch(segments: Sequence[Segment], out: str | os.PathLike, *, seam: str = "auto",
           transition: str | None = None, loudness: float | None = -16.0, chapters: bool = True,
           target=None, workdir: str | os.PathLike | None = None,
           workers: int | None = None, captions: Mapping[str, tuple] | None = None,
           subtitle_language: str | None = None, music: MusicBed | None = None,
           music_modes: Mapping[str, str] | None = None,
           progress: Callable[[int, int], None] | None = None) -> StitchResult:
    """Assemble ``segments`` into ``out`` (MP4, H.264 or 10-bit HEVC + AAC). See the module
    docstring."""
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    if not segments:
        raise InputError("stitch: no segments given")
    if seam not in SEAM_MODES:
        raise InputError(f"seam: {seam!r} is not allowed; use one of {', '.join(SEAM_MODES)}")
    default_tr = parse_transition(transition, where="transition")
    seg_tr = [parse_transition(s.transition, where=f"segments[{i}].transition") if s.transition
              else default_tr for i, s in enumerate(segments)]
    for s in segments:
        if not Path(s.path).is_file():
            raise InputError(f"{s.path}: no such file")
    out = Path(out)
    if out.suffix.lower() not in (".mp4", ".m4v", ".mov"):
        raise InputError(f"{out}: output must be an .mp4 (or .m4v/.mov) file")
    out.parent.mkdir(parents=True, exist_ok=True)
    nworkers = workers or min(2, os.cpu_count() or 1) or 1
    if workdir is not None:
        Path(workdir).mkdir(parents=True, exist_ok=True)
    # always a fresh scratch directory (inside ``workdir`` when given), removed afterwards
    tmp_ctx = tempfile.TemporaryDirectory(prefix="chainer-stitch-",
                                          dir=str(workdir) if workdir is not None else None)
    work = Path(tmp_ctx.name)
    notes: list[str] = []
    try:
        with ThreadPoolExecutor(max_workers=nworkers) as pool:
            # 1. analysis ---------------------------------------------------------------------
            t = time.perf_counter()
            sources = list(pool.map(_analyse, [str(s.path) for s in segments]))
            tgt = parse_target(target, sources[0])
            if any(s.codec == "hevc" and s.ten_bit for s in sources):
                # keep 10-bit where a source is 10-bit: the output is HEVC Main10 (H.264 segments
                # are re-encoded into it)
                tgt.codec, tgt.pix_fmt = "hevc", "yuv420p10le"
            audio_fmt = _audio_format(sources)
            if music is not None and audio_fmt is None:
                audio_fmt = (48000, 2)            # a music bed under silent clips
            ref = next((s for s in sources if (s.width, s.height, s.fps) ==
                        (tgt.width, tgt.height, tgt.fps) and s.codec == tgt.codec
                        and (s.pix_fmt or tgt.pix_fmt) == tgt.pix_fmt), None)
            if tgt.codec == "h264" and ref is not sources[0]:
                ref = None
            if tgt.timescale is None:
                tgt.timescale = _timescale_for(tgt.fps)
            ref_key = None if ref is None else \
                ref.headers.key if ref.headers is not None else ref.param_key
            needs_encoder = (ref_key is None or any(s.transition for s in segments)
                             or default_tr.kind != "cut"
                             or (seam != "keep" and any(s.chained for s in segments[1:]))
                             or any(conform_steps(s, tgt, ref_key) for s in sources))
            encoder, smart_ok = Encoder((*ff.X264_DEFAULTS, "-crf", str(MAX_CRF), "-preset", "veryfast")), True
            if tgt.codec == "hevc":
                encoder = Encoder(tuple(ff.x265_10bit_args()))
            if needs_encoder:
                t_cal = time.perf_counter()
                encoder, calib_key = _calibrate(tgt, ref, work)
                timings["calibrate"] = time.perf_counter() - t_cal
                smart_ok = calib_key is not None
                ref_key = ref_key or calib_key
            if not smart_ok:
                notes.append(f"no {'x265' if tgt.codec == 'hevc' else 'x264'} setting reproduces "
                             "the source's parameter sets: segments "
                             "that need any re-encoding make the whole output a re-encode")
            plans: list[SegPlan] = []
            for i, (seg, src) in enumerate(zip(segments, sources)):
                chained = bool(seg.chained) and i > 0
                extends = bool(seg.extends) and i > 0
                tr = None if (i == 0 or chained or extends) else seg_tr[i]
                p = SegPlan(index=i, source=src, shot_id=str(seg.shot_id),
                            title=seg.title or str(seg.shot_id), chained=chained, transition_in=tr)
                p.conform = conform_steps(src, tgt, ref_key)
                if src.timescale != tgt.timescale and not p.conform:
                    p.conform.append(f"timebase 1/{src.timescale}->1/{tgt.timescale} (remux)")
                p.full = any(not c.startswith("timebase") for c in p.conform) or \
                    (tr is not None and tr.kind != "cut")
                if extends and seg.head_trim > 0:
                    p.head_trim = min(int(seg.head_trim), max(0, src.frames - 1))
                    p.full = True
                    p.conform.append(f"head trim {p.head_trim} (frames repeating the extended clip)")
                plans.append(p)
            # transition frame counts (at cuts)
            for i, p in enumerate(plans[1:], start=1):
                tr = p.transition_in
                if tr is None or tr.kind == "cut":
                    continue
                prev = plans[i - 1]
                n = max(1, int(round(tr.seconds * float(tgt.fps))))
                if tr.kind == "crossfade":
                    prev.xfade_out = n
                else:
                    half = max(1, n // 2)
                    prev.fade_out, p.fade_in = half, half
            timings["analyse"] = time.perf_counter() - t

            # 2. seams: compare decoded pixels; speculative smart tails ------------------------
            # One decode per clip: its first frames (for the seam before it), its last frames and
            # speculative smart tail (for the seam after it) and its audio. Seams are decided in
            # order as their clips finish; the audio track is assembled and encoded alongside,
            # each segment as soon as both its seams are decided.
            t = time.perf_counter()
            spec_tails: dict[int, tuple[Path, int]] = {}
            jobs: dict[int, Future] = {}
            n_seg = len(plans)
            if seam != "keep":
                for i, p in enumerate(plans):
                    need_head = p.chained
                    need_tail = i + 1 < n_seg and plans[i + 1].chained
                    if not (need_head or need_tail):
                        continue
                    jobs[i] = pool.submit(_clip_frames, p, work, encoder, tgt, need_head, need_tail,
                                          need_tail and smart_ok and not p.full,
                                          audio_fmt)
            timeline = _Timeline(plans, tgt)
            audio_job = _AudioJob(plans, timeline, tgt, work, audio_fmt, jobs, loudness,
                                  raw=music is not None)
            try:
                for i, p in enumerate(plans):
                    if p.chained and seam != "keep":
                        prev = plans[i - 1]
                        before, this = jobs[i - 1].result(), jobs[i].result()
                        tail_frames, spec, head_frames = before.tail, before.spec, this.head
                        before.tail = this.head = None   # (memory stays flat with the clip count)
                        if not tail_frames or not head_frames:
                            raise InputError(f"{prev.source.path} / {p.source.path}: could not "
                                             "decode frames at the seam")
                        match = compare_seam(tail_frames, head_frames)
                        p.seam = match.to_dict()
                        if match.duplicate:
                            prev.tail_trim = 1       # same picture: drop it where it is cheapest
                            if spec is not None:
                                spec_tails[i - 1] = spec
                        elif seam == "auto":
                            db = "identical" if match.psnr == float("inf") else f"{match.psnr:.1f} dB"
                            notes.append(f"seam {prev.shot_id} -> {p.shot_id}: expected chained, "
                                         f"but {p.shot_id}'s first frame does not repeat "
                                         f"{prev.shot_id}'s last frame (PSNR {db}); both kept")
                        elif seam == "dedupe":
                            p.head_trim = 1
                            p.full = True
                            p.conform.append("head trim (first frame differs from the previous last)")
                    if i:
                        timeline.final(i - 1)        # both seams of segment i-1 are decided
                        if progress is not None:
                            progress(i - 1, n_seg)    # segments decided (the mux is the last)
                timeline.final(n_seg - 1)
                for fut in jobs.values():
                    fut.result()
            except BaseException:
                timeline.abort()
                audio_job.abort()
                raise
            timings["seams"] = time.perf_counter() - t

            # 3. paths and the output timeline ------------------------------------------------
            for p in plans:
                if p.full or not smart_ok:
                    continue
                change = p.src_end - p.xfade_out - p.fade_out
                if change >= p.source.frames:
                    continue                      # copy as is
                k = tail_cut(p.source.pts, change)
                if k <= 0:
                    p.full = True
                else:
                    p.cut_at = k
            if not smart_ok and any(p.full or p.tail_trim or p.head_trim or p.xfade_out or p.fade_out
                                    for p in plans):
                for p in plans:
                    p.full, p.cut_at = True, None
            total_frames = timeline.total_frames      # (kept/start were set as seams were decided)

            # 4. video pieces (in the pool) while the audio finishes ------------------------
            # ``direct``: every source was read as MP4, so copied packets need no ffmpeg run: the
            # final file is written here from the sample tables (one pass, moov first).
            t = time.perf_counter()
            direct = all(p.source.track is not None for p in plans) and \
                (tgt.timescale * tgt.fps.denominator) % tgt.fps.numerator == 0
            pieces = _video_pieces(plans, tgt, spec_tails)
            futures = []
            try:
                for k, pc in enumerate(pieces):
                    futures.append(pool.submit(_make_piece, pc, k, work, encoder, tgt,
                                               1 if len(pieces) > 1 else 2, direct))
                t_audio = time.perf_counter()
                audio_m4a, audio_stats = audio_job.result()
                edit = _edit(plans, tgt, total_frames, out, audio_fmt is not None)
                if music is not None and audio_m4a is not None:
                    # the bed is mixed under the assembled shot audio, normalised, encoded once
                    mixed = work / "mixed.f32"
                    audio_stats["music"] = mix_music(
                        audio_m4a, mixed, bed=music, spans=music_spans(edit, music_modes),
                        sample_rate=audio_fmt[0], channels=audio_fmt[1], loudness=loudness,
                        workdir=work)
                    audio_m4a = work / "audio.m4a"
                    ff.encode_audio_track(mixed, audio_m4a, sample_rate=audio_fmt[0],
                                          channels=audio_fmt[1], loudness=None)
                timings["audio_wait"] = time.perf_counter() - t_audio
                made = [f.result() for f in futures]
            except BaseException:
                audio_job.abort()
                raise
            timings["audio"] = audio_job.seconds
            timings["video"] = time.perf_counter() - t
            mismatched = [m for m in made if m[2] is not None and ref_key is not None and m[2] != ref_key]
            if mismatched and smart_ok:
                notes.append("a re-encoded piece did not reproduce the source's parameter sets: "
                             "fell back to one full re-encode")
                t = time.perf_counter()
                for p in plans:
                    p.full, p.cut_at = True, None
                pieces = _video_pieces(plans, tgt, {})
                # every piece: full re-encodes of cut-joined segments are separate pieces
                made = [_make_piece(pc, k, work, encoder, tgt, 2, direct)
                        for k, pc in enumerate(pieces)]
                timings["video_fallback"] = time.perf_counter() - t

            # 5. mux ----------------------------------------------------------------------------
            t = time.perf_counter()
            cues = film_cues(edit, captions) if captions else []
            marks = [(float(a), float(b), title) for a, b, title in edit.chapters()] \
                if chapters else []
            tmp_out = out.with_name(f".{out.stem}.part-{os.getpid()}{out.suffix}")
            try:
                written = False
                if direct:
                    try:
                        _write_direct(tmp_out, made, tgt, audio_m4a, marks, cues,
                                      subtitle_language)
                        written = True
                    except mp4.Mp4Error as exc:
                        notes.append(f"direct MP4 write not possible ({exc}): muxed by ffmpeg")
                        made = [m if m[3] is None else
                                _make_piece(pc, k, work, encoder, tgt, 1, False)
                                for k, (m, pc) in enumerate(zip(made, pieces))]
                if not written:
                    _mux_ffmpeg(tmp_out, made, tgt, work, audio_m4a, marks, cues,
                                subtitle_language)
                os.replace(tmp_out, out)
            finally:
                if tmp_out.exists():
                    tmp_out.unlink()
            timings["mux"] = time.perf_counter() - t
            if progress is not None:
                progress(n_seg, n_seg)
    finally:
        tmp_ctx.cleanup()
    timings["total"] = time.perf_counter() - t_start
    fps = float(tgt.fps)
    results = []
    for p in plans:
        results.append(SegmentResult(
            shot_id=p.shot_id, path=p.source.path, frames_in=p.source.frames, frames_kept=p.kept,
            head_trim=p.head_trim, tail_trim=p.tail_trim, start=p.start, duration=p.kept / fps,
            path_taken=p.path_taken, conform=list(p.conform),
            transition_in=str(p.transition_in) if p.transition_in else None, chained=p.chained,
            seam=p.seam, audio=p.source.audio))
    return StitchResult(output=str(out), frames=total_frames, duration=total_frames / fps,
                        audio_duration=audio_stats.get("duration", 0.0) if audio_stats else 0.0,
                        timings=timings, segments=results, width=tgt.width, height=tgt.height,
                        fps=fps, seam=seam, encoder=list(encoder.args), notes=notes,
                        timeline=edit)


def _edit(plans: list[SegPlan], tgt: Target, total_frames: int, out: Path,
          audio: bool) -> Timeline:
    """The one :class:`~chainer.timeline.Timeline` of this assembly (paths as given)."""
    entries = []
    for i, p in enumerate(plans):
        src = p.source
        entries.append(Entry(
            shot_id=p.shot_id, title=p.title, clip=str(src.path), frames_in=src.frames,
            head=p.head_trim, tail=p.tail_trim, kept=p.kept, start=p.start_frame,
            transition_in=str(p.transition_in) if p.transition_in else "cut",
            overlap=plans[i - 1].xfade_out if i else 0, audio=bool(src.audio),
            width=src.width, height=src.height, chained=p.chained,
            seam=dict(p.seam) if p.seam else None))
    return Timeline(fps=Fraction(tgt.fps), frames=int(total_frames), width=tgt.width,
                    height=tgt.height, output=str(out), audio=audio, entries=tuple(entries))


def _timescale_for(fps: Fraction) -> int:
    """What the MP4 muxer would pick: a multiple of the rate's denominator-free base >= 10000."""
    base = Fraction(fps).numerator
    ts = base
    while ts < 10000:
        ts *= 2
    return ts


def _audio_format(sources: list[Source]) -> tuple[int, int] | None:
    """(sample rate, channels) of the output track: the first segment with audio (<= stereo)."""
    for s in sources:
        if s.audio:
            return s.sample_rate or 48000, min(s.channels or 1, 2)
    return None


def _audio_dump(work: Path, index: int) -> Path:
    return work / f"audio{index:04d}.f32"


def _clip_frames(p: SegPlan, work: Path, encoder: Encoder, tgt: Target, need_head: bool,
                 need_tail: bool, speculative: bool, audio_fmt: tuple[int, int] | None):
    """One single-threaded decode of a clip: its first two frames (``need_head``), its last two
    (``need_tail``), and when ``speculative`` its smart-render tail without its last frame (used
    if the seam after it is a duplicate). The decoder is fed only what those need: non-reference
    pictures no output uses are dropped before it, and a head-only pass stops after the few
    packets that display first. The clip's audio is dumped for the assembly on the way.
    Returns a :class:`_ClipPass`."""
    src = p.source
    n = src.frames
    order = sorted(range(n), key=lambda j: src.pts[j])
    rank = [0] * n
    for r, j in enumerate(order):
        rank[j] = r
    k = tail_cut(src.pts, n - 1) if speculative else 0
    if speculative and not (k > 0 and n - 1 - k > 0):
        speculative, k = False, 0
    keep_packets = None
    if not need_tail:
        # the shortest decode-order prefix that holds display frames 0 and 1 (any decode-order
        # prefix is reference-closed, so it decodes on its own)
        needed = {0, 1} & set(range(n))
        for j in range(n):
            needed.discard(rank[j])
            if not needed:
                keep_packets = j + 1
                break
    drop: list[int] = []
    if src.track is not None and n > 4:
        lo = 2 if need_head else 0                 # display frames that must stay
        hi = min(k if speculative else n, n - 2 if need_tail else n)
        if keep_packets is not None:
            hi = 0
        if hi > lo:
            refs = mp4.reference_flags(src.path, src.track)
            drop = [j for j in range(n) if not refs[j] and lo <= rank[j] < hi
                    and (not speculative or j < k)]
    dropped = len(drop)
    n_out = (keep_packets if keep_packets is not None else n) - dropped
    peek = set()
    if need_head:
        peek |= {0, 1} & set(range(n_out))
    if need_tail:
        peek |= {n_out - 2, n_out - 1} & set(range(n_out))
    audio_kw = {}
    if audio_fmt and src.audio:
        audio_kw = {"audio_out": _audio_dump(work, p.index), "sample_rate": audio_fmt[0],
                    "channels": audio_fmt[1]}
    peek_raw = work / f"peek{p.index:04d}.rgb"
    tail = work / f"tail{p.index:04d}.mp4" if speculative else None
    ff.clip_pass(src.path, drop=drop, keep_packets=keep_packets, peek_out=peek_raw,
                 peek_frames=sorted(peek), peek_size=PEEK_SIZE, tail_out=tail,
                 tail_start=k - dropped, tail_end=n - 1 - dropped, fps=tgt.fps,
                 encoder=encoder.args, timescale=tgt.timescale, sar=encoder.sar, **audio_kw)
    frames = frames_from_raw(peek_raw.read_bytes())
    idx = sorted(peek)
    if len(frames) != len(idx):
        raise InputError(f"{src.path}: could not decode frames at the seams")
    by = dict(zip(idx, frames))
    head = [by[x].copy() for x in (0, 1) if x in by] if need_head else []
    tail_frames = [by[x].copy() for x in (n_out - 2, n_out - 1) if x in by] if need_tail else []
    return _ClipPass(head, tail_frames, (tail, k) if speculative else None)


@dataclass
class _ClipPass:
    head: list | None               # first two frames (peek size), for the seam before the clip
    tail: list | None               # last two frames, for the seam after it
    spec: tuple[Path, int] | None   # (smart tail without the last frame, cut) when rendered


@dataclass
class _Piece:
    kind: str                 # "file" (use as is), "remux", "prefix", "render", "ready"
    path: str | None = None
    frames: int = 0
    packets: int | None = None
    items: list[dict] = field(default_factory=list)


def _video_pieces(plans: list[SegPlan], tgt: Target, spec_tails: dict[int, tuple[Path, int]]) -> list[_Piece]:
    pieces: list[_Piece] = []
    run: list[dict] = []

    def flush():
        if run:
            frames = sum(it["frames"] for it in run) - sum(it.get("xfade", 0) for it in run[:-1])
            pieces.append(_Piece("render", frames=frames, items=list(run)))
            run.clear()

    for p in plans:
        src = p.source
        if p.full:
            run.append({"path": src.path, "start": p.head_trim, "end": p.src_end,
                        "scale": (src.width, src.height) != (tgt.width, tgt.height),
                        "frames": p.kept, "fade_in": p.fade_in, "fade_out": p.fade_out,
                        "xfade": p.xfade_out})
            if not p.xfade_out:
                flush()
            continue
        flush()
        if p.cut_at is None:
            direct = src.video_first and src.timescale == tgt.timescale
            pieces.append(_Piece("file" if direct else "remux", path=src.path, frames=src.frames))
            continue
        pieces.append(_Piece("prefix", path=src.path, frames=p.cut_at, packets=p.cut_at))
        spec = spec_tails.get(p.index)
        tail_frames = p.src_end - p.cut_at
        if tail_frames <= 0:
            continue                       # the decodable prefix already ends where we cut
        if (spec is not None and spec[1] == p.cut_at and p.tail_trim == 1 and not p.xfade_out
                and not p.fade_out):
            pieces.append(_Piece("ready", path=str(spec[0]), frames=tail_frames))
            continue
        run.append({"path": src.path, "start": p.cut_at, "end": p.src_end, "scale": False,
                    "frames": tail_frames, "fade_in": 0, "fade_out": p.fade_out,
                    "xfade": p.xfade_out})
        if not p.xfade_out:
            flush()
    flush()
    return pieces


def _make_piece(pc: _Piece, k: int, work: Path, encoder: Encoder, tgt: Target,
                threads: int, direct: bool = False) -> tuple:
    """Produce one piece; returns (path, frames, parameter-set key or None for copied pieces,
    packets to take from ``path`` when it is used in place (direct mode), else None)."""
    if pc.kind == "file":
        return pc.path, pc.frames, None, (pc.frames if direct else None)
    out = work / f"piece{k:04d}.mp4"
    if pc.kind in ("remux", "prefix") and direct:
        return pc.path, pc.frames, None, pc.packets if pc.packets is not None else pc.frames
    if pc.kind == "remux":
        ff.remux_video(pc.path, out, timescale=tgt.timescale)
        return str(out), pc.frames, None, None
    if pc.kind == "prefix":
        ff.remux_video(pc.path, out, packets=pc.packets, timescale=tgt.timescale)
        return str(out), pc.frames, None, None
    if pc.kind == "ready":
        return pc.path, pc.frames, _piece_key(pc.path), None
    ff.render_items(out, pc.items, width=tgt.width, height=tgt.height, fps=tgt.fps,
                    encoder=encoder.args, timescale=tgt.timescale, threads=threads, sar=encoder.sar)
    return str(out), pc.frames, _piece_key(out), None


def _write_direct(out: Path, made: list[tuple], tgt: Target, audio_m4a: Path | None,
                  marks: list[tuple[float, float, str]], cues=(),
                  subtitle_language: str | None = None) -> None:
    vp = []
    for path, frames, _key, packets in made:
        tr = mp4.read(path).first("vide")
        if tr is None:
            raise mp4.Mp4Error(f"{path}: no video track")
        if vp and tr.codec != vp[0].track.codec:
            raise mp4.Mp4Error(f"{path}: {tr.codec} beside {vp[0].track.codec}")
        count = packets if packets is not None else tr.count
        if count != frames:
            raise mp4.Mp4Error(f"{path}: {tr.count} samples, {frames} frames expected")
        vp.append(mp4.VideoPiece(str(path), tr, count))
    audio = None
    audio_ts = 1000
    if audio_m4a is not None:
        am = mp4.read(audio_m4a)
        at = am.first("soun")
        if at is None:
            raise mp4.Mp4Error("encoded audio has no track")
        audio, audio_ts = (str(audio_m4a), at), am.timescale
    mp4.write_stitched(out, vp, fps_num=tgt.fps.numerator, fps_den=tgt.fps.denominator,
                       timescale=tgt.timescale, audio=audio, audio_movie_ts=audio_ts, chapters=marks,
                       subtitles=cues, subtitle_language=subtitle_language)


def _mux_ffmpeg(out: Path, made: list[tuple], tgt: Target, work: Path, audio_m4a: Path | None,
                marks, cues=(), subtitle_language: str | None = None) -> None:
    entries = []
    cum = Fraction(0)
    for path, frames, _key, _packets in made:
        a = round(cum / tgt.fps * 1_000_000)
        cum += frames
        b = round(cum / tgt.fps * 1_000_000)
        entries.append((str(path), (b - a) / 1_000_000))
    concat_list = work / "video.ffconcat"
    ff.write_concat_list(concat_list, entries)
    meta = write_ffmetadata(work / "chapters.ffmeta", marks) if marks else None
    ff.mux_stitched(out, concat_list=concat_list, audio_encoded=audio_m4a, metadata=meta,
                    timescale=tgt.timescale)
    if cues:
        srt = work / "captions.srt"
        srt.write_text(to_srt(cues, tgt.fps), encoding="utf-8")
        subbed = work / f"subbed{out.suffix}"
        ff.add_subtitle_track(out, srt, subbed, language=mp4.language_code(subtitle_language))
        os.replace(subbed, out)


def _piece_key(path) -> tuple:
    v = mp4.read(path).first("vide")
    if v is not None and v.hvcc:
        return ("hevc", v.hvcc_param_sets())
    nals = mp4_avcc_nals(path)
    return (headers_from_nals(nals) if nals else parse_headers(ff.h264_head_annexb(path))).key


class _Timeline:
    """Where each segment lands in the output, filled in order as seams are decided. ``final(i)``
    says segment i's trims are known; ``piece(i)`` (another thread) waits for that."""

    def __init__(self, plans: list[SegPlan], tgt: Target):
        self.plans, self.tgt = plans, tgt
        self.ready = [threading.Event() for _ in plans]
        self.pos = Fraction(0)
        self.done = 0
        self.aborted = False

    def final(self, i: int) -> None:
        while self.done <= i:
            p = self.plans[self.done]
            p.kept = converted_frames(p.src_end - p.head_trim, p.source.fps, self.tgt.fps)
            p.start = float(self.pos / self.tgt.fps)
            p.start_frame = int(self.pos)
            self.pos += p.kept - p.xfade_out
            self.ready[self.done].set()
            self.done += 1

    @property
    def total_frames(self) -> int:
        return int(self.pos)

    def wait(self, i: int) -> SegPlan:
        self.ready[i].wait()
        if self.aborted:
            raise _Aborted()
        return self.plans[i]

    def abort(self) -> None:
        self.aborted = True
        for e in self.ready:
            e.set()


class _Aborted(Exception):
    pass


class _LazyPieces:
    """The audio pieces, each known once its segment's timeline is final."""

    def __init__(self, timeline: _Timeline):
        self.timeline = timeline
        self.paths = [str(i) if p.source.audio else None for i, p in enumerate(timeline.plans)]

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> AudioPiece:
        if i < 0:
            i += len(self)
        p = self.timeline.wait(i)
        return AudioPiece(path=self.paths[i], src_start=p.head_trim / float(p.source.fps),
                          out_start=p.start, out_dur=p.kept / float(self.timeline.tgt.fps))


class _AudioJob:
    """The output audio track: assembled (audio.assemble) in a thread of its own while the seams are
    decided, and piped into one AAC encode. ``result()`` -> (m4a path or None, stats)."""

    def __init__(self, plans: list[SegPlan], timeline: _Timeline, tgt: Target, work: Path,
                 audio_fmt: tuple[int, int] | None, jobs: dict[int, Future],
                 loudness: float | None, raw: bool = False):
        """``raw``: write the assembled track as f32le PCM (``result()`` gives its path) for the
        music bed to be mixed under it before the one encode."""
        self.seconds = 0.0
        self.encoder: ff.PipeEncoder | None = None
        self.thread_pool = None
        self.future: Future | None = None
        if audio_fmt is None:
            return
        sr, ch = audio_fmt
        for p in plans:
            s = p.source
            if s.audio and s.sample_rate != sr:
                p.conform.append(f"sample rate {s.sample_rate}->{sr}")
            if s.audio and min(s.channels or 1, 2) != ch:
                p.conform.append(f"channels {s.channels}->{ch}")
            if not s.audio:
                p.conform.append("silence (no audio)")
        fps = float(tgt.fps)
        joins = []
        for i, p in enumerate(plans[1:], start=1):
            tr = p.transition_in
            if tr is not None and tr.kind == "crossfade":
                joins.append(Join("crossfade", plans[i - 1].xfade_out / fps))
            elif tr is not None and tr.kind == "fade":
                joins.append(Join("fade", (p.fade_in + plans[i - 1].fade_out) / fps))
            else:
                joins.append(Join("seam", SEAM_FADE))

        # segments no decode pass reads: their audio is decoded in batches (fewer processes)
        self.batch_pool = ThreadPoolExecutor(max_workers=2)
        batches: dict[int, Future] = {}
        todo = [i for i, p in enumerate(plans) if p.source.audio and i not in jobs]
        for k in range(0, len(todo), 8):
            group = todo[k:k + 8]
            fut = self.batch_pool.submit(ff.decode_audio_files, [plans[i].source.path for i in group],
                                         [_audio_dump(work, i) for i in group], sample_rate=sr,
                                         channels=ch)
            for i in group:
                batches[i] = fut

        def decode(key: str):
            i = int(key)
            if i in jobs:
                jobs[i].result()                 # its decode pass dumps the audio
            elif i in batches:
                batches[i].result()
            dump = _audio_dump(work, i)
            if dump.exists():
                return np.fromfile(dump, dtype="<f4").reshape(-1, ch)
            return ff.decode_audio(plans[i].source.path, sample_rate=sr, channels=ch)

        if raw:
            self.out = work / "shots.f32"
        else:
            self.out = work / "audio.m4a"
            self.encoder = ff.audio_track_encoder(self.out, sample_rate=sr, channels=ch,
                                                  loudness=loudness)

        def run():
            t = time.perf_counter()
            sink = self.encoder if self.encoder is not None else self.out
            try:
                stats = assemble(_LazyPieces(timeline), joins, sink, sample_rate=sr,
                                 channels=ch, decode=decode)
            except BaseException:
                if self.encoder is not None:
                    self.encoder.kill()
                raise
            if self.encoder is not None:
                self.encoder.close()
            self.seconds = time.perf_counter() - t
            return stats

        self.thread_pool = ThreadPoolExecutor(max_workers=1)
        self.future = self.thread_pool.submit(run)

    def result(self):
        if self.future is None:
            return None, None
        try:
            stats = self.future.result()
        finally:
            self.thread_pool.shutdown(wait=True)
            self.batch_pool.shutdown(wait=True)
        return self.out, stats

    def abort(self) -> None:
        if self.encoder is not None:
            self.encoder.kill()
        if self.thread_pool is not None:
            self.thread_pool.shutdown(wait=True)
            self.batch_pool.shutdown(wait=True, cancel_futures=True)
