"""Take scoring (review/takes.py) on clips the emulator's renderer makes: a stalled seam scores
worse than a continuous extension, a cut worse still, ranking puts the best join first, and a
bookend counts the last frame against the requested one."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image

from chainer.emulator import motion
from chainer.emulator.render import RenderSpec, render_clip
from chainer.review.takes import rank_takes, score_take
from emulator_util import image

W, H, N = 432, 240, 49
PROMPT = "boats on a lake, static camera"


def _render(d, name, **kw):
    spec = RenderSpec(width=W, height=H, n_frames=N, prompt=kw.pop("prompt", PROMPT), preset="ultrafast", **kw)
    return render_clip(spec, d / f"{name}.mp4", d / f"{name}.png")


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("takes")
    a = _render(d, "a", seed=3, first_image=image(W, H, seed=1))
    last = Image.open(a.last_frame_png).convert("RGB")
    bookend = image(W, H, seed=8)
    st = a.motion_end       # turned: every mover keeps its speed, heading turned by 90 degrees
    turned = dataclasses.replace(st, movers=tuple(dataclasses.replace(m, vx=-m.vy, vy=m.vx) for m in st.movers))
    out = {"dir": d, "a": a, "bookend": bookend,
           "stall": _render(d, "stall", seed=5, first_image=last, motion=motion.Start("stall", a.motion_end)),
           "extend": _render(d, "extend", seed=6, first_image=last, motion=motion.Start("continue", a.motion_end)),
           "turn": _render(d, "turn", seed=6, first_image=last, motion=motion.Start("continue", turned)),
           "cut": _render(d, "cut", seed=9, first_image=image(W, H, seed=2)),
           "fresh": _render(d, "fresh", seed=7, first_image=last),     # an unknown first frame
           "to_bookend": _render(d, "to_bookend", seed=5, first_image=last, last_image=bookend,
                                 motion=motion.Start("stall", a.motion_end))}
    return out


def test_stall_scores_worse_than_a_continuous_extension(clips):
    prev = clips["a"].video
    ext = score_take(clips["extend"].video, prev)
    stall = score_take(clips["stall"].video, prev)
    assert ext.measures["duplicate_first"] is False and stall.measures["duplicate_first"] is True
    assert ext.measures["motion_before"] >= 3.0                   # real motion, far above coding noise
    assert stall.measures["motion_seam"] < 0.3 * stall.measures["motion_before"]
    assert ext.components["jump"] < 0.35 and ext.components["continuity"] < 0.6, ext.to_dict()
    assert stall.components["jump"] > 1.0 and stall.components["continuity"] > 0.8, stall.to_dict()
    assert ext.score < stall.score - 1.0
    # full speed at once but in a new direction: no jump, but the motion does not carry on
    turn = score_take(clips["turn"].video, prev)
    assert turn.components["jump"] < 0.35 and turn.components["continuity"] > ext.components["continuity"] + 0.4
    assert ext.score < turn.score < stall.score
    # telling the scorer frame 0 is new content (it is not) makes the stall a full freeze: worse
    assert score_take(clips["stall"].video, prev, duplicate_first=False).components["jump"] > stall.components["jump"]


def test_rank_takes_puts_the_best_join_first(clips):
    prev = clips["a"].video
    takes = [("t1", clips["stall"].video), ("t2", clips["cut"].video), ("t3", clips["extend"].video),
             ("t4", clips["fresh"].video), ("t5", clips["turn"].video)]
    seen = []
    ranked = rank_takes(takes, prev, progress=lambda done, total, tid: seen.append((done, total, tid)))
    assert [r.take for r in ranked][0] == "t3", [r.to_dict() for r in ranked]
    assert seen == [(1, 5, "t1"), (2, 5, "t2"), (3, 5, "t3"), (4, 5, "t4"), (5, 5, "t5")]
    by = {r.take: r for r in ranked}
    assert by["t2"].components["jump"] > by["t3"].components["jump"] + 0.5      # a cut jumps
    assert by["t2"].components["colour"] > by["t3"].components["colour"]
    assert all(a.score <= b.score for a, b in zip(ranked, ranked[1:]))
    # paths alone work too (ids from file names), same order
    assert [r.take for r in rank_takes([p for _, p in takes], prev)] == [r.clip.rsplit("/", 1)[-1][:-4]
                                                                          for r in ranked]


def test_bookend_counts_the_last_frame_against_the_requested_one(clips):
    prev, bookend = clips["a"].video, np.asarray(clips["bookend"])
    hit = score_take(clips["to_bookend"].video, prev, last_image=bookend)
    miss = score_take(clips["stall"].video, prev, last_image=bookend)
    assert hit.measures["bookend_psnr"] > 35 and hit.components["bookend"] < 1.0
    assert miss.measures["bookend_psnr"] < 20 and miss.components["bookend"] > 3.0
    assert hit.score < miss.score
    assert score_take(clips["stall"].video, prev).components["bookend"] is None


def test_first_shot_has_no_seam(clips):
    s = score_take(clips["a"].video)
    assert s.components["jump"] == 0 and s.components["continuity"] == 0
    assert "motion_seam" not in s.measures
