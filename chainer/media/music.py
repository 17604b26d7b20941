"""The music bed (``output.music``): one track under the whole film, mixed into the assembled shot
audio once, then loudness-normalised, before the film's one audio encode.

    bed = MusicBed(file="score.mp3", gain_db=-18, fade_in=2, fade_out=3, duck_db=12, loop=True)
    spans = music_spans(timeline, {"intro": "full", "credits": "off"})   # others: "duck"
    stats = mix_music(dialogue_raw, mixed_raw, bed=bed, spans=spans, sample_rate=48000,
                      channels=2, loudness=-16.0)

- the bed is decoded once (looped or padded, trimmed to the film, at ``gain_db`` relative to the
  file, faded in at the start and out at the end: :func:`ffmpeg.music_bed_pcm`);
- per shot ``music: off|duck|full``: ``off`` silences the bed under that shot, ``full`` plays it
  at ``gain_db`` whatever the shot's audio, ``duck`` (the default) lowers it by ``duck_db`` while
  the shot's own audio is sounding: a sidechain ducker keyed on the shot audio (10 ms detection
  hops, a soft 10 dB knee above ``threshold_db``, fast attack, a hold bridging the gaps between
  words, slow release). It reduces by a set depth rather than a ratio because users set how much
  quieter the music gets under speech; a ratio compressor (ffmpeg's ``sidechaincompress``) ducks
  quiet and loud speech by different amounts and cannot promise ``duck_db``;
- the mix is then normalised to ``loudness`` LUFS with loudnorm's two passes (one linear gain,
  so the bed keeps its set level relative to the shots); the caller encodes the result without
  normalising again.

Works in blocks: memory does not grow with the film's length.
"""
from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from . import ffmpeg as ff

MODES = ("off", "duck", "full")
HOP = 0.010           # detection hop (s)
BLOCK_HOPS = 1000     # hops per processing block (10 s)


@dataclass(frozen=True)
class MusicBed:
    file: str
    gain_db: float = -18.0
    fade_in: float = 2.0
    fade_out: float = 3.0
    duck_db: float = 12.0
    loop: bool = True
    threshold_db: float = -50.0      # shot audio above this (dBFS, RMS over 10 ms) ducks the bed
    attack: float = 0.030            # s
    hold: float = 0.200              # s
    release: float = 0.400           # s


@dataclass(frozen=True)
class Span:
    start: float          # seconds in the film
    end: float
    mode: str = "duck"    # off | duck | full


def music_spans(timeline, modes: Mapping[str, str] | None = None) -> list[Span]:
    """One span per timeline entry, from where it begins to where the next begins (its chapter),
    with the shot's ``music:`` mode (default ``duck``)."""
    modes = modes or {}
    fps = Fraction(timeline.fps)
    entries = list(timeline.entries)
    out = []
    for i, e in enumerate(entries):
        end = entries[i + 1].start if i + 1 < len(entries) else timeline.frames
        mode = modes.get(e.shot_id) or "duck"
        if mode not in MODES:
            raise ValueError(f"music mode {mode!r} for shot {e.shot_id!r}: use off, duck or full")
        out.append(Span(float(e.start / fps), float(end / fps), mode))
    return out


def _read_pcm(src: str | os.PathLike | np.ndarray, channels: int, sample_rate: int,
              work: Path) -> np.ndarray:
    """The dialogue as float32 (n, channels): an array, a WAV (any), or raw f32le (memory-mapped)."""
    if isinstance(src, np.ndarray):
        x = np.asarray(src, np.float32)
        return x.reshape(-1, channels) if x.ndim == 1 or x.shape[1] != channels else x
    p = Path(src)
    if p.suffix.lower() not in (".f32", ".raw", ".pcm"):
        raw = work / "dialogue.f32"
        ff.decode_audio_files([p], [raw], sample_rate=sample_rate, channels=channels)
        p = raw
    if p.stat().st_size == 0:
        return np.zeros((0, channels), np.float32)
    return np.memmap(p, dtype="<f4", mode="r").reshape(-1, channels)


def _mode_per_hop(spans: Sequence[Span], n_hops: int, hop: int,
                  sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Per hop (by its centre): the mode (0 off, 1 duck, 2 full; "duck" outside every span) and
    the index of the span it is in (-1 outside)."""
    codes = np.ones(n_hops, np.int8)
    shot = np.full(n_hops, -1, np.int32)
    centres = (np.arange(n_hops) * hop + hop / 2) / sr
    for k, s in enumerate(spans):
        sel = (centres >= s.start) & (centres < s.end)
        codes[sel] = MODES.index(s.mode)
        shot[sel] = k
    return codes, shot


def duck_gains(key_db: np.ndarray, modes: np.ndarray, bed: MusicBed, hop_s: float = HOP,
               state: dict | None = None, shots: np.ndarray | None = None) -> np.ndarray:
    """Per-hop linear gain of the bed. ``key_db``: the shot audio's level per hop (dBFS);
    ``modes``: 0 off / 1 duck / 2 full; ``shots``: which shot each hop is in (at a cut the bed
    follows the picture: a new shot without sound gets the bed back at once, not after the slow
    release). ``state`` carries the detector between blocks."""
    st = state if state is not None else {}
    red = st.get("red", 0.0)          # current reduction, dB (0 = none)
    mute = st.get("mute", 0.0)        # 0..1, 1 = silenced ("off")
    held = st.get("held", 0)          # hops left in the hold
    shot = st.get("shot")             # the shot of the previous hop
    cut = st.get("cut", False)        # since the last cut, no sound yet: release fast
    a_att = 1.0 - math.exp(-hop_s / bed.attack)
    a_rel = 1.0 - math.exp(-hop_s / bed.release)
    a_mute = 1.0 - math.exp(-hop_s / 0.050)
    hold_hops = int(round(bed.hold / hop_s))
    depth = abs(bed.duck_db)
    out = np.empty(len(key_db), np.float64)
    for k in range(len(key_db)):
        m = modes[k]
        if shots is not None and shots[k] != shot:
            shot, cut, held = shots[k], True, 0
        want = 0.0
        if m == 1:
            over = min(1.0, max(0.0, (key_db[k] - bed.threshold_db) / 10.0))
            want = depth * over
        if m == 1 and want > 0 and want >= red:
            held, cut = hold_hops, False
            red += (want - red) * a_att
        elif held > 0 and m == 1:
            held -= 1
        else:
            held = 0
            # into a "full"/"off" shot, or a new shot still silent, the bed follows the cut
            # (50 ms); within a shot it comes back with the slow release
            red += (want - red) * (a_mute if m != 1 or cut else a_rel)
        if abs(want - red) < 0.01:     # arrive (a one-pole alone only approaches its target)
            red = want
        mute += ((1.0 if m == 0 else 0.0) - mute) * a_mute
        if mute < 1e-4 or mute > 1 - 1e-4:
            mute = float(round(mute))
        out[k] = 10 ** (-red / 20.0) * (1.0 - mute)
    st.update(red=red, mute=mute, held=held, shot=shot, cut=cut)
    return out


def mix_music(dialogue: str | os.PathLike | np.ndarray, out_raw: str | os.PathLike, *,
              bed: MusicBed, spans: Sequence[Span], sample_rate: int, channels: int,
              loudness: float | None = -16.0, true_peak: float = -1.5,
              workdir: str | os.PathLike | None = None) -> dict:
    """Mix the bed under ``dialogue`` (the assembled shot audio: raw f32le path, a WAV/any audio
    file, or an (n, channels) array) and write ``out_raw`` (f32le, the same number of samples),
    loudness-normalised to ``loudness`` LUFS unless None. Returns stats: ``samples``,
    ``duck_hops`` (hops ducked), ``loudness`` (the first pass's measurement), ``gain_db`` (the
    normalising gain)."""
    sr, ch = int(sample_rate), int(channels)
    with tempfile.TemporaryDirectory(prefix="chainer-music-", dir=workdir) as tmp:
        work = Path(tmp)
        x = _read_pcm(dialogue, ch, sr, work)
        n = x.shape[0]
        music_raw = work / "bed.f32"
        mixed = work / "mixed.f32" if loudness is not None else Path(out_raw)
        stats: dict = {"samples": n, "duck_hops": 0, "loudness": None, "gain_db": 0.0}
        if n == 0:
            Path(out_raw).write_bytes(b"")
            return stats
        ff.music_bed_pcm(bed.file, music_raw, samples=n, sample_rate=sr, channels=ch,
                         loop=bed.loop, gain_db=bed.gain_db, fade_in=bed.fade_in,
                         fade_out=bed.fade_out)
        size = music_raw.stat().st_size
        m = (np.memmap(music_raw, dtype="<f4", mode="r").reshape(-1, ch) if size
             else np.zeros((0, ch), np.float32))
        hop = max(1, int(round(HOP * sr)))
        n_hops = -(-n // hop)
        modes, shots = _mode_per_hop(spans, n_hops, hop, sr)
        state: dict = {}
        prev_gain = None
        with open(mixed, "wb") as fh:
            for h0 in range(0, n_hops, BLOCK_HOPS):
                h1 = min(n_hops, h0 + BLOCK_HOPS)
                a, b = h0 * hop, min(n, h1 * hop)
                d = np.asarray(x[a:b], np.float32)
                pad = (h1 - h0) * hop - d.shape[0]
                dp = np.concatenate([d, np.zeros((pad, ch), np.float32)]) if pad else d
                rms = np.sqrt(np.mean(dp.reshape(h1 - h0, hop, ch).astype(np.float64) ** 2,
                                      axis=(1, 2)))
                key_db = 20 * np.log10(np.maximum(rms, 1e-10))
                g = duck_gains(key_db, modes[h0:h1], bed, HOP, state, shots[h0:h1])
                stats["duck_hops"] += int(np.sum(g < 10 ** (-abs(bed.duck_db) / 40.0)))
                # per-sample gain: linear between hop centres (continuous across blocks)
                centres = np.arange(h0, h1) * hop + hop / 2
                xs = np.arange(a, b)
                if prev_gain is not None:
                    centres = np.concatenate([[prev_gain[0]], centres])
                    g_i = np.concatenate([[prev_gain[1]], g])
                else:
                    g_i = g
                gs = np.interp(xs, centres, g_i).astype(np.float32)[:, None]
                prev_gain = (centres[-1], g[-1])
                mus = np.zeros((b - a, ch), np.float32)
                got = np.asarray(m[a:min(b, m.shape[0])], np.float32)
                mus[:got.shape[0]] = got
                fh.write(np.ascontiguousarray(d + mus * gs, dtype="<f4").tobytes())
        if loudness is not None:
            meas = ff.loudnorm_measure(mixed, sample_rate=sr, channels=ch, target=loudness,
                                       true_peak=true_peak)
            stats["loudness"] = meas["input_i"]
            if math.isfinite(meas["input_i"]) and meas["input_i"] > -70:
                stats["gain_db"] = loudness - meas["input_i"]
                ff.loudnorm_apply(mixed, out_raw, meas, sample_rate=sr, channels=ch,
                                  target=loudness, true_peak=true_peak)
            else:                                      # silence: nothing to normalise
                os.replace(mixed, out_raw)
        return stats
