"""The music bed: its level under a silent shot, under speech (ducked), per-shot off/full, looped
to length, faded, and the film's loudness after the one normalisation."""
from __future__ import annotations

import numpy as np
import pytest

from chainer.media import ffmpeg as ff
from chainer.media import music as M
from finishing_util import timeline

SR, CH, FPS = 48000, 2, 24
SHOT = 3.0                        # seconds per shot
F_MUSIC, F_SPEECH = 220.0, 1000.0


def _tone_level(x, a, b, f):
    """dBFS amplitude of the f Hz component of channel 0 over [a, b) seconds (lock-in)."""
    seg = x[int(a * SR):int(b * SR), 0].astype(np.float64)
    t = (np.arange(seg.shape[0]) + int(a * SR)) / SR
    amp = 2 * abs(np.mean(seg * np.exp(-2j * np.pi * f * t)))
    return 20 * np.log10(max(amp, 1e-12))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("music")
    # the score: a 5 s 220 Hz tone at amplitude 0.25 (-12 dBFS): shorter than the film, so looped
    t = np.arange(int(5 * SR)) / SR
    ff.write_wav(d / "score.wav", np.repeat((0.25 * np.sin(2 * np.pi * F_MUSIC * t))[:, None], 2, 1), SR)
    # the assembled shot audio: a silent, b speech-like (a 1 kHz voice in syllables with gaps),
    # c speech-like again (music: full), d silent (music: off)
    n = int(4 * SHOT * SR)
    tt = np.arange(n) / SR
    env = np.clip(np.sin(2 * np.pi * 3.3 * tt), 0, 1) ** 0.5
    voice = 0.3 * env * np.sin(2 * np.pi * F_SPEECH * tt)
    voice[(tt < SHOT) | (tt >= 3 * SHOT)] = 0
    dia = np.repeat(voice[:, None], CH, 1).astype(np.float32)
    raw = d / "dialogue.f32"
    dia.astype("<f4").tofile(raw)
    rows = [(s, int(SHOT * FPS), 0, 0, "cut", 0) for s in "abcd"]
    tl = timeline(FPS, rows)
    return d, raw, dia, tl


def test_bed_gain_ducking_modes_and_loudness(world):
    d, raw, dia, tl = world
    bed = M.MusicBed(file=str(d / "score.wav"), gain_db=-18, fade_in=0.5, fade_out=0.5,
                     duck_db=12, loop=True)
    spans = M.music_spans(tl, {"c": "full", "d": "off"})
    assert [(s.start, s.end, s.mode) for s in spans] == [
        (0.0, 3.0, "duck"), (3.0, 6.0, "duck"), (6.0, 9.0, "full"), (9.0, 12.0, "off")]
    out = d / "mixed.f32"
    stats = M.mix_music(raw, out, bed=bed, spans=spans, sample_rate=SR, channels=CH,
                        loudness=-16.0)
    y = np.fromfile(out, dtype="<f4").reshape(-1, CH)
    assert y.shape == dia.shape                                  # not a sample more or less
    # the normalising gain, measured on the voice itself (one linear gain for the whole film)
    norm = _tone_level(y, 6.5, 8.5, F_SPEECH) - _tone_level(dia, 6.5, 8.5, F_SPEECH)
    assert abs(norm - stats["gain_db"]) < 0.5
    set_level = -12.0 - 18.0 + norm                              # the file's level + gain_db
    silent = _tone_level(y, 0.7, 2.7, F_MUSIC)
    under_speech = _tone_level(y, 3.7, 5.7, F_MUSIC)
    full = _tone_level(y, 6.5, 8.5, F_MUSIC)
    off = _tone_level(y, 9.7, 11.3, F_MUSIC)
    assert abs(silent - set_level) < 0.5, (silent, set_level)
    # at least duck_db lower (0.05 dB: what the lock-in and loudnorm's resampling can blur)
    assert under_speech <= silent - 12.0 + 0.05, (under_speech, silent)
    assert under_speech >= silent - 12.0 - 1.5                    # and by the set depth, not more
    assert abs(full - set_level) < 0.5                            # full: not ducked
    assert off < set_level - 40                                   # off: gone
    # faded in from silence, looped past the 5 s file without a gap
    assert _tone_level(y, 0.0, 0.05, F_MUSIC) < silent - 10
    assert min(_tone_level(y, a, a + 0.25, F_MUSIC) for a in (4.75, 4.9, 5.0)) > under_speech - 2
    # the encoded film meets its loudness target (the stitcher's one encode, not normalising again)
    m4a = d / "mixed.m4a"
    ff.encode_audio_track(out, m4a, sample_rate=SR, channels=CH, loudness=None)
    lufs = ff.loudness_stats(m4a)["integrated"]
    assert abs(lufs - (-16.0)) <= 1.0


def test_no_loop_pads_with_silence_and_no_clicks_at_mode_changes(world):
    d, raw, dia, tl = world
    bed = M.MusicBed(file=str(d / "score.wav"), gain_db=-6, fade_in=0, fade_out=0, loop=False)
    spans = M.music_spans(tl, {"a": "off", "b": "full"})
    out = d / "noloop.f32"
    M.mix_music(raw, out, bed=bed, spans=spans, sample_rate=SR, channels=CH, loudness=None)
    y = np.fromfile(out, dtype="<f4").reshape(-1, CH)
    music = y - dia
    assert np.abs(music[int(5.05 * SR):]).max() < 1e-6          # the 5 s file ran out: silence
    assert _tone_level(music, 3.5, 4.5, F_MUSIC) == pytest.approx(-18.0, abs=0.3)
    # "off" -> "full" at 3 s is a ramp, not a step: no sample-to-sample jump beyond the tone's own
    tone_step = 2 * np.pi * F_MUSIC / SR * 0.25 * 10 ** (-6 / 20)
    assert np.abs(np.diff(music[int(2.9 * SR):int(3.2 * SR), 0])).max() <= tone_step * 1.05


def test_bad_mode_is_refused(world):
    _, _, _, tl = world
    with pytest.raises(ValueError, match="off, duck or full"):
        M.music_spans(tl, {"a": "loud"})


def test_loudness_curve_follows_the_shots(world):
    d, raw, dia, tl = world
    # the voice alone: silent, speech, speech, silent (3 s each); momentary loudness follows it
    m4a = d / "voice.m4a"
    ff.encode_audio_track(raw, m4a, sample_rate=SR, channels=CH, loudness=None)
    curve = ff.loudness_curve(m4a)
    assert 115 <= len(curve) <= 125                     # every 100 ms over 12 s
    assert all(b[0] > a[0] for a, b in zip(curve, curve[1:]))
    at = {round(t, 1): m for t, m, _ in curve}
    assert at[1.5] < -70 and at[10.5] < -70
    assert -30 < at[4.5] < -5 and -30 < at[7.5] < -5


def test_bed_returns_with_the_cut_into_a_silent_shot(world):
    d, raw, dia, tl = world
    # speech in shot b, then c made silent here: after the cut the bed is back within ~0.2 s
    quiet = dia.copy()
    quiet[int(2 * SHOT * SR):] = 0
    bed = M.MusicBed(file=str(d / "score.wav"), gain_db=-12, fade_in=0, fade_out=0, duck_db=12)
    out = d / "cut.f32"
    M.mix_music(quiet, out, bed=bed, spans=M.music_spans(tl), sample_rate=SR, channels=CH,
                loudness=None)
    y = np.fromfile(out, dtype="<f4").reshape(-1, CH)
    full = _tone_level(y, 0.7, 2.7, F_MUSIC)
    assert _tone_level(y, 4.0, 5.5, F_MUSIC) <= full - 12 + 0.05
    assert abs(_tone_level(y, 6.2, 8.5, F_MUSIC) - full) < 0.1        # c: the bed at its gain
    # within a shot, a pause in the speech keeps the bed down (hold), no pumping between words
    env = M.duck_gains(np.array([-20.0] * 30 + [-120.0] * 15 + [-20.0] * 30), np.ones(75, np.int8),
                       bed, shots=np.zeros(75, np.int32))
    assert env[29] == pytest.approx(10 ** (-12 / 20)) and env[44] == pytest.approx(10 ** (-12 / 20))


def test_loudness_chart_beside_the_shots(world):
    import io

    from PIL import Image

    from chainer.review.loudness import FLOOR, MOMENTARY, SHORT, TARGET, loudness_chart

    d, raw, dia, tl = world
    m4a = d / "voice-chart.m4a"
    ff.encode_audio_track(raw, m4a, sample_rate=SR, channels=CH, loudness=None)
    png = loudness_chart(ff.loudness_curve(m4a), tl, target=-16.0, width=480, height=200)
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert img.shape == (200, 480, 3)
    left, pw = 44, 480 - 44 - 10

    def col(t):
        return left + int(round(t / 12.0 * (pw - 1)))

    def has(colour, x):
        return bool(np.all(img[:, x] == colour, axis=1).any())
    # speech in shots b and c (3..9 s): loudness drawn; silence in a and d: nothing above the floor
    assert has(SHORT, col(4.5)) and has(MOMENTARY, col(7.5))
    assert not has(MOMENTARY, col(1.5)) and not has(MOMENTARY, col(10.5))
    # the dashed target line, across the plot at -16 LUFS
    top, ph = 22, 200 - 22 - 20
    row = top + round((0 - -16.0) / (0 - FLOOR) * (ph - 1))
    assert np.all(img[row] == TARGET, axis=1).sum() > pw / 3
