"""A render with captions, dialogue, a crossfade and a music bed, through the product (emulator):
NAME.srt and NAME.vtt beside the film, a subtitle track in its language whose cues sit on the
timeline's chapters, the music under the film, loudness on target."""
from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

from chainer.emulator import Emulator, EmulatorConfig
from chainer.media import ffmpeg as ff
from chainer.run.orchestrator import PollPolicy, render
from chainer.timeline import Timeline
from render_util import write_storyboard



def test_render_with_captions_and_music(tmp_path):
    t = np.arange(3 * 48000) / 48000
    ff.write_wav(tmp_path / "bed.wav", 0.2 * np.sin(2 * np.pi * 220 * t), 48000)
    shots = [{"id": "a", "prompt": "A lake at dawn", "caption": "Dawn"},
             {"id": "b", "prompt": "A cabin", "cut": True, "transition": "crossfade:0.5",
              "caption": [{"text": "Later", "at": 0.5}]},
             {"id": "c", "prompt": "Inside", "dialogue": ["Hello there."], "music": "full"}]
    sb = write_storyboard(tmp_path / "sb.yaml", shots,
                          output={"file": "film.mp4", "language": "fr",
                                  "music": {"file": "bed.wav", "gain_db": -6, "fade_in": 0.2,
                                            "fade_out": 0.2}})
    with Emulator(EmulatorConfig(x264_preset="veryfast", latency=0.2)) as emu:
        res = render(sb, run_dir=tmp_path / "run", provider="ark", base_url=emu.base_url,
                     api_key="sk-finishing-test", yes=True, poll=PollPolicy.fast(0.05),
                     progress=False)
    assert res.ok, res.problems
    run = res.run_dir
    film = run / "film.mp4"
    assert (run / "film.srt").exists() and (run / "film.vtt").exists()
    tl = Timeline.load(run)
    fps = tl.fps
    starts = [Fraction(e.start) / fps for e in tl.entries]
    with av.open(str(film)) as c:
        st = c.streams.subtitles[0]
        assert st.metadata.get("language") == "fra"
        cues = [(p.pts * st.time_base, bytes(p)[2:].decode()) for p in c.demux(st)
                if p.pts is not None and len(bytes(p)) > 2]
    assert [x for _, x in cues] == ["Dawn", "Later", "Hello there."]
    one = 1 / fps
    assert abs(cues[0][0] - starts[0]) <= one
    assert abs(cues[1][0] - (starts[1] + Fraction(1, 2))) <= one
    assert abs(cues[2][0] - starts[2]) <= one
    assert abs(ff.loudness_stats(film)["integrated"] - (-16.0)) <= 1.0
    y = ff.decode_audio(film, sample_rate=48000, channels=1)[:, 0].astype(np.float64)
    seg = y[int(0.5 * 48000):int(1.5 * 48000)]
    tt = np.arange(seg.shape[0]) / 48000 + 0.5
    assert 2 * abs(np.mean(seg * np.exp(-2j * np.pi * 220 * tt))) > 0.01      # the bed is there
