"""Cues through the timeline, to the frame; SRT/VTT text; the validator's problems."""
from __future__ import annotations

from fractions import Fraction

from chainer.media import subtitles as S

from finishing_util import timeline

FPS = 24
# A: whole clip; B: entered by a 12-frame crossfade; C: chained, duplicate first frame dropped
ROWS = [("a", 121, 0, 0, "cut", 0), ("b", 121, 0, 0, "crossfade:0.5", 12),
        ("c", 121, 1, 0, "cut", 0)]


def _ms(frame, fps=FPS):
    # what the writer must print: the frame's time rounded to the millisecond
    return round(Fraction(frame, 1) * 1000 / fps)


def test_cues_follow_trims_and_crossfades_to_the_frame():
    tl = timeline(FPS, ROWS)
    assert [e.start for e in tl.entries] == [0, 109, 230]
    cues = S.film_cues(tl, {
        "a": ("Morning", None),
        "b": ([{"text": "Late", "at": 1.0, "until": 2.5}], None),
        "c": ([{"text": "Chained", "at": 0, "until": 1}], None),
    })
    # a whole-shot caption is the shot's chapter: up to where the crossfade into b begins
    # b: shot second 1.0 is clip frame 24, shown at 109 + 24; until 2.5 -> frame 60
    # c: clip frame 0 was trimmed (head 1), so the cue starts at the entry, ends at clip frame 24
    assert cues == [S.Cue(0, 109, "Morning"), S.Cue(133, 169, "Late"), S.Cue(230, 253, "Chained")]
    srt = S.to_srt(cues, FPS)
    assert "1\n00:00:00,000 --> 00:00:04,542\nMorning\n" in srt
    assert f"00:00:05,{_ms(133) - 5000:03d} --> 00:00:07,{_ms(169) - 7000:03d}" in srt
    assert "3\n00:00:09,583 --> 00:00:10,542\nChained" in srt
    vtt = S.to_vtt(cues, FPS, language="fr")
    assert vtt.startswith("WEBVTT\nLanguage: fr\n")
    assert "00:00:04.542" in vtt and "," not in vtt.split("\n\n", 1)[1].split("\n")[1]


def test_cues_clip_to_the_chapter_and_drop_trimmed_material():
    # the last shot's tail trim of 48 frames: a cue past it is cut at the film's end; one wholly
    # inside the trimmed tail disappears
    tl = timeline(FPS, [("a", 121, 0, 0, "cut", 0), ("b", 121, 0, 48, "cut", 0)])
    cues = S.film_cues(tl, {"b": ([{"text": "x", "at": 2.0, "until": 4.5},
                                   {"text": "gone", "at": 4.0, "until": 5.0}], None)})
    assert cues == [S.Cue(121 + 48, 121 + 73, "x")]
    assert tl.frames == 121 + 73


def test_fractional_rate_and_rounding():
    fps = Fraction(30000, 1001)
    tl = timeline(fps, [("a", 300, 0, 0, "cut", 0)])
    cues = S.film_cues(tl, {"a": ([{"text": "t", "at": 1.0, "until": 2.0}], None)})
    assert cues == [S.Cue(30, 60, "t")]          # 29.97 and 59.94 round to 30 and 60
    srt = S.to_srt(cues, fps)
    assert "00:00:01,001 --> 00:00:02,002" in srt


def test_dialogue_shares_the_shot_by_length_and_names_the_speaker():
    tl = timeline(FPS, [("a", 97, 0, 0, "cut", 0)])      # 97 frames: 4.0417 s
    cues = S.film_cues(tl, {"a": (None, ["Hello there.", {"speaker": "Mia", "text": "Hi!"}])})
    assert [c.text for c in cues] == ["Hello there.", "Mia: Hi!"]
    assert cues[0].start_frame == 0 and cues[-1].end_frame == 97
    assert cues[0].end_frame == cues[1].start_frame
    # 12 vs 8 characters
    assert cues[0].end_frame == round(97 * 12 / 20)


def test_writers_escape_and_number_from_one(tmp_path):
    cues = [S.Cue(0, 24, "a < b & c --> d"), S.Cue(24, 48, "two\nlines")]
    srt, vtt = S.write_subtitles(cues, FPS, tmp_path / "film.mp4", language="en")
    assert srt.name == "film.srt" and vtt.name == "film.vtt"
    v = vtt.read_text()
    assert "a &lt; b &amp; c --&gt; d" in v
    s = srt.read_text()
    assert s.startswith("1\n") and "\n2\n00:00:01,000 --> 00:00:02,000\ntwo\nlines\n" in s


def test_timed_segments_never_overlap():
    segs = S.timed_segments([S.Cue(0, 48, "cap"), S.Cue(24, 72, "line")])
    assert segs == [(0, 24, "cap"), (24, 48, "cap\nline"), (48, 72, "line")]
    segs = S.timed_segments([S.Cue(0, 10, "a"), S.Cue(20, 30, "b")])
    assert segs == [(0, 10, "a"), (10, 20, ""), (20, 30, "b")]


def test_check_captions_reports_times_and_reading_speed():
    probs = S.check_captions([{"text": "ok", "at": 1, "until": 6}, {"text": "x", "at": 3, "until": 2}],
                             None, duration=5)
    assert ("caption[0].until", "6 is outside the shot (0..5 s)") in [(p.path, p.message) for p in probs]
    assert any(p.path == "caption[1].until" and "after at" in p.message for p in probs)
    long = "This line is far too long to read in the half second it is given on screen"
    probs = S.check_captions(None, [{"text": long, "at": 0, "until": 0.5}], duration=5)
    assert len(probs) == 1 and probs[0].path == "dialogue[0]" and "per second" in probs[0].message
    assert S.check_captions("A short caption", ["Fine line.", "Another."], duration=5) == []
    assert S.check_captions("   ", None, duration=5)[0].message == "empty text"
