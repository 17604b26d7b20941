"""Storyboard fields for captions, dialogue, the music bed and subtitles: accepted shapes and the
exact problem lines `chainer validate` prints before anything is paid for."""
from __future__ import annotations

import numpy as np

from chainer.media import ffmpeg as ff
from chainer.storyboard import load_storyboard
from storyboard_util import PROFAST, problems, write

HEAD = f"""
model: {PROFAST}
defaults: {{resolution: 480p, ratio: "16:9", duration: 4}}
"""


def test_finishing_fields_load(tmp_path):
    t = np.arange(48000) / 48000
    ff.write_wav(tmp_path / "score.wav", 0.1 * np.sin(2 * np.pi * 220 * t), 48000)
    sb = load_storyboard(write(tmp_path, HEAD + """
output:
  music: {file: score.wav, gain_db: -20, duck_db: 10}
  subtitles: burn
  language: pt-BR
shots:
  - prompt: a lake
    caption: Morning
    music: full
  - prompt: a cabin
    caption: [{text: Inside, at: 0.5, until: 2}]
    dialogue: ["Hello.", {speaker: Mia, text: "Hi!", at: 2, until: 3.5}]
"""))
    assert sb.output.subtitles == "burn" and sb.output.language == "pt-BR"
    assert sb.output.music.file == "score.wav" and sb.output.music.duck_db == 10
    assert sb.output.music.loop is True and sb.output.music.fade_in == 2.0
    assert sb.shots[0].caption == "Morning" and sb.shots[0].music == "full"
    assert sb.shots[1].caption[0].until == 2 and sb.shots[1].dialogue[1].speaker == "Mia"
    assert sb.shots[1].music is None
    # defaults: soft subtitles, no music
    sb = load_storyboard(write(tmp_path, HEAD + "shots:\n  - prompt: a lake\n", "plain.yaml"))
    assert sb.output.subtitles == "soft" and sb.output.music is None


def test_finishing_problems(tmp_path):
    (tmp_path / "notes.txt").write_text("not audio")
    path = write(tmp_path, HEAD + """
output:
  music: {file: notes.txt, duck_db: 100}
  language: "english!"
shots:
  - prompt: a lake
    caption: [{text: Late, at: 3, until: 6}]
  - prompt: a cabin
    dialogue: [{text: "This line is far too long to be read in one second", at: 0, until: 1}]
  - prompt: a fire
    music: loud
""")
    assert problems(path) == [
        "F:5:17: output.music.file: notes.txt has no audio stream ffmpeg can decode: give an "
        "audio file (wav, mp3, m4a, flac...)",
        "F:5:37: output.music.duck_db: Input should be less than or equal to 60",
        "F:6:13: output.language: 'english!' is not a language code: use ISO 639 "
        "(en, fr, zh, pt-BR...)",
        "F:9:42: shots[0].caption[0].until: 6 is outside the shot (0..4 s)",
        "F:11:16: shots[1].dialogue[0]: 'This line is far too long to…': 39 characters in "
        "1.00 s is 39 per second (at most 20 can be read)",
        "F:13:12: shots[2].music: 'loud' is not allowed: use one of off, duck, full",
    ]


def test_music_file_checked(tmp_path):
    (tmp_path / "notes.txt").write_text("not audio")
    got = problems(write(tmp_path, HEAD + "output: {music: {file: notes.txt}}\nshots:\n"
                                          "  - prompt: a lake\n"))
    assert len(got) == 1 and "output.music.file: notes.txt has no audio stream" in got[0], got
    got = problems(write(tmp_path, HEAD + "output: {music: {file: gone.mp3}}\nshots:\n"
                                          "  - prompt: a lake\n", "b.yaml"))
    assert len(got) == 1 and "output.music.file: gone.mp3 not found" in got[0], got


def test_unquoted_off_means_off(tmp_path):
    # YAML 1.1 reads `off` as false
    sb = load_storyboard(write(tmp_path, HEAD + "output: {subtitles: off}\nshots:\n"
                                                "  - {prompt: a lake, music: off}\n"))
    assert sb.output.subtitles == "off" and sb.shots[0].music == "off"


def test_dialogue_in_the_prompt(tmp_path):
    from chainer.storyboard_finishing import prompt_with_dialogue

    sb = load_storyboard(write(tmp_path, HEAD + """
shots:
  - prompt: An old man by the fire
    dialogue: ["We leave at dawn.", {speaker: The girl, text: 'Why "dawn"?'}]
  - prompt: A lake
"""))
    assert prompt_with_dialogue(sb.shots[0].prompt, sb.shots[0].dialogue) == (
        'An old man by the fire. A voice says: "We leave at dawn." '
        'The girl says: "Why \'dawn\'?"')
    assert prompt_with_dialogue(sb.shots[1].prompt, sb.shots[1].dialogue) == "A lake"
    assert prompt_with_dialogue("Rain!", "Run.") == 'Rain! A voice says: "Run."'
