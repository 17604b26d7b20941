"""The one transition grammar: whatever the storyboard accepts, the stitcher accepts (issue 11)."""
from __future__ import annotations

import json

import pytest

from chainer import transitions as T
from chainer.errors import InputError
from chainer.media import stitch as stitcher
from chainer.plan import build_plan
from chainer.storyboard import storyboard_json_schema
from storyboard_util import EXAMPLES, V2, problems, write


def _schema_transition_limits() -> list[dict]:
    """Every ``x-chainer-transition`` block in the storyboard JSON schema (generated and shipped)."""
    found: list[dict] = []

    def walk(node):
        if isinstance(node, dict):
            if "x-chainer-transition" in node:
                found.append(node["x-chainer-transition"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    schema = storyboard_json_schema()
    assert schema == json.loads((EXAMPLES / "storyboard.schema.json").read_text())
    walk(schema)
    return found


def _values_inside(limits: dict) -> list[str]:
    lo, hi = limits["exclusiveMinimumSeconds"], limits["maximumSeconds"]
    out = []
    for kind in limits["kinds"]:
        if kind == "cut":
            out.append("cut")
            continue
        for sec in (lo + 0.001, lo + 1 / 24, (lo + hi) / 2, hi - 0.001, hi):
            out.append(T.format_transition(T.Transition(kind, round(sec, 6))))
    return out


def _values_outside(limits: dict) -> list[str]:
    lo, hi = limits["exclusiveMinimumSeconds"], limits["maximumSeconds"]
    return [f"{k}:{v:g}" for k in limits["kinds"] if k != "cut" for v in (lo, hi + 0.5, hi + 2)]


def test_schema_limits_are_the_grammar_limits():
    limits = _schema_transition_limits()
    assert len(limits) == 2          # storyboard default + per-shot
    for lim in limits:
        assert lim == {"kinds": list(T.KINDS), "exclusiveMinimumSeconds": T.MIN_SECONDS,
                       "maximumSeconds": T.MAX_SECONDS}


def test_every_transition_the_schema_allows_is_accepted_by_the_stitcher_and_the_storyboard(tmp_path):
    lim = _schema_transition_limits()[0]
    for text in _values_inside(lim):
        tr = stitcher.parse_transition(text, where="transition")      # what assembly parses with
        assert tr.kind == text.split(":")[0]
        # the storyboard (15 s clips, longer than any allowed transition) accepts it too, as the
        # default transition and as a shot's own
        path = write(tmp_path, f"""
            model: {V2}
            transition: {text}
            defaults: {{duration: 15}}
            shots:
              - prompt: a
              - prompt: b
                cut: true
              - prompt: c
                cut: true
                transition: {text}
            """)
        assert problems(path) == [], text
        plan = build_plan(path)
        assert plan.shots[1].transition == plan.shots[2].transition == str(tr)
        assert stitcher.parse_transition(plan.shots[1].transition) == tr


def test_outside_the_limits_the_storyboard_refuses_before_anything_is_paid(tmp_path):
    lim = _schema_transition_limits()[0]
    for text in _values_outside(lim):
        path = write(tmp_path, f"""
            model: {V2}
            defaults: {{duration: 15}}
            shots:
              - prompt: a
              - prompt: b
                cut: true
                transition: {text}
            """)
        got = problems(path)
        assert len(got) == 1 and got[0].startswith("F:7:17: shots[1].transition: "), got
        assert "> 0 and <= 10 seconds" in got[0]
        with pytest.raises(InputError):
            stitcher.parse_transition(text)


def test_crossfade_12_on_15s_clips_is_refused_at_validation(tmp_path):
    # the defect: it validated (clips are 15 s), was paid for, then refused at assembly
    path = write(tmp_path, f"""
        model: {V2}
        transition: crossfade:12
        defaults: {{duration: 15}}
        shots:
          - prompt: a
          - prompt: b
            cut: true
        """)
    assert problems(path) == ["F:2:13: transition: 'crossfade:12': the length must be > 0 and <= 10 seconds"]


@pytest.mark.parametrize("text,kind,sec", [("cut", "cut", 0.0), (None, "cut", 0.0), ("", "cut", 0.0),
                                           ("crossfade:0.5", "crossfade", 0.5), (" fade:2 ", "fade", 2.0),
                                           ("fade:10", "fade", 10.0), ("crossfade:0.000001", "crossfade", 1e-6)])
def test_parse_and_format_round_trip(text, kind, sec):
    t = T.parse_transition(text)
    assert (t.kind, t.seconds) == (kind, sec)
    assert T.parse_transition(T.format_transition(t)) == t
    assert str(t) == T.format_transition(t)


@pytest.mark.parametrize("text", ["dissolve", "crossfade", "cut:1", "fade:", "fade:-1", "fade:0",
                                  "crossfade:10.5", "fade:1.1234567", "crossfade:1e1"])
def test_parse_rejects_with_one_line_naming_the_field(text):
    with pytest.raises(T.TransitionError) as info:
        T.parse_transition(text, where="shots[2].transition")
    msg = str(info.value)
    assert msg.startswith("shots[2].transition: ") and "\n" not in msg
    assert isinstance(info.value, InputError) and info.value.exit_code == 2


def test_assembly_accepts_the_schema_limits(tmp_path):
    """Not just the grammar: the stitcher assembles clips joined at the extreme lengths the
    storyboard allows (longest crossfade and fade, shortest crossfade)."""
    from chainer.media import ffmpeg as ff
    from chainer.media.stitch import Segment, stitch
    from stitch_util import ClipSpec, make_chain

    lim = _schema_transition_limits()[0]
    hi, lo = lim["maximumSeconds"], lim["exclusiveMinimumSeconds"] + 0.001
    n = int(hi * 24) + 13                    # clips longer than the longest transition
    a, b, c, d = make_chain(tmp_path / "clips", [ClipSpec(frames=n, width=64, height=64)] * 4,
                            preset="ultrafast")
    segs = [Segment(a, "a", False),
            Segment(b, "b", False, transition=T.format_transition(T.Transition("crossfade", hi))),
            Segment(c, "c", False, transition=T.format_transition(T.Transition("fade", hi))),
            Segment(d, "d", False, transition=T.format_transition(T.Transition("crossfade", lo)))]
    out = tmp_path / "out.mp4"
    res = stitch(segs, out, loudness=None)
    overlap = int(round(hi * 24)) + 1            # crossfade:10 overlaps 240 frames, 0.001 s one
    assert res.frames == 4 * n - overlap
    assert ff.decode_check(out) == ""
    assert [str(s.transition_in) for s in res.segments[1:]] == ["crossfade:10", "fade:10",
                                                               "crossfade:0.001"]
