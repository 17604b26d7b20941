"""The live display: fed events, rendered to a fixed-size console; what a user sees must fit."""
from __future__ import annotations

import io

from rich.console import Console

from chainer.run.progress import Display, PlainProgress, RichProgress, fmt_duration


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def _rows(n=30, seqs=3, expected=60.0, cost=0.32):
    return [{"id": f"shot-{i + 1:02d}", "sequence": i % seqs, "expected": expected, "cost": cost,
             "concurrency": 3, "currency": "CNY"} for i in range(n)]


def _screen(prog: RichProgress) -> list[str]:
    con = prog.console
    con.print(prog.renderable())
    text = con.file.getvalue()
    con.file.seek(0)
    con.file.truncate()
    return text.rstrip("\n").split("\n")


def _console(w=80, h=24):
    return Console(file=io.StringIO(), width=w, height=h, color_system=None, force_terminal=False)


def test_thirty_shots_fit_in_24_lines_with_summary_and_every_active_shot():
    clock = Clock()
    prog = RichProgress(_console(), clock=clock)
    prog.display.begin(_rows())
    ids = [f"shot-{i + 1:02d}" for i in range(30)]
    for k, sid in enumerate(ids[:19]):                       # 18 done, 1 failed, one at a time
        prog.shot(sid, "submitted", f"cgt-2026{k:04d}")
        clock.t += 5
        prog.shot(sid, "running", "")
        clock.t += 20
        if k == 4:
            prog.shot(sid, "failed", "InternalServiceError: the service is busy, try again later")
        else:
            prog.shot(sid, "done", f"task cgt-2026{k:04d}")
            prog.cost(sid, 0.30)
    for sid in ids[19:22]:
        prog.shot(sid, "running", "a detail far too long to fit on an eighty column terminal " * 2)
    for sid in ids[22:24]:
        prog.shot(sid, "queued", "")
    clock.t += 10
    lines = _screen(prog)
    assert len(lines) <= 24 - prog.reserve
    assert all(len(ln) <= 80 for ln in lines), [len(ln) for ln in lines]
    head = lines[0]
    assert head.startswith("18/30 done · 3 run · 2 q · 1 fail · 5.40/9.60 CNY · 8m05s · ETA ")
    # on a wider terminal, in words
    wide = prog.display.lines(width=120, height=24)[0][0]
    assert wide.startswith("18/30 done · 3 running · 2 queued · 1 failed · spent 5.40/9.60 CNY "
                           "· 8m05s elapsed · ETA ")
    body = "\n".join(lines[1:])
    for sid in ids[19:24]:                                   # every active shot is shown
        assert sid in body
    assert ids[18] in body and ids[0] not in body            # recent finished only, as fit
    # sequences numbered from 1
    row = next(ln for ln in lines if "shot-20" in ln)
    assert row.split()[0] == "2" and "running" in row and "/~" in row


def test_eta_from_expected_latencies_and_concurrency():
    clock = Clock()
    d = Display(clock)
    # 2 sequences of 3 shots, 60 s each: the longest sequence is 180 s; 6 shots over
    # concurrency 3 would be 120 s, so 180 s
    d.begin([{**r, "concurrency": 3} for r in _rows(6, seqs=2)])
    assert d.eta(clock()) == 180.0
    d.shot("shot-01", "running")
    d.shot("shot-02", "running")
    clock.t += 45
    assert d.eta(clock()) == 135.0                          # each: 15 s left of 60, then 2 x 60
    for sid in ("shot-01", "shot-03", "shot-05"):           # sequence 1 finishes
        d.shot(sid, "done")
    clock.t += 5
    assert d.eta(clock()) == 130.0                          # shot-02: 10 s + 2 x 60
    clock.t += 100                                          # shot-02 overruns: at least 1 s left
    assert d.eta(clock()) == 121.0
    # unknown expected latencies: learned from the shots already done
    d2 = Display(clock)
    d2.begin([{"id": "a", "sequence": 0, "expected": None}, {"id": "b", "sequence": 0,
                                                              "expected": None}])
    assert d2.eta(clock()) is None and "ETA ?" in d2.summary(clock())
    d2.shot("a", "running")
    clock.t += 30
    d2.shot("a", "done")
    assert d2.eta(clock()) == 30.0


def test_local_step_shows_progress_with_eta():
    clock = Clock()
    prog = RichProgress(_console(), clock=clock)
    prog.display.begin(_rows(2))
    for sid in ("shot-01", "shot-02"):
        prog.shot(sid, "done")
    prog.step("assembling", 0, 30, "clips")
    clock.t += 5
    prog.step("assembling", 10, 30, "clips")
    lines = _screen(prog)
    step = next(ln for ln in lines if ln.startswith("assembling"))
    assert "10/30 clips" in step and "ETA 10s" in step and "[" in step
    clock.t += 10
    prog.step("assembling", 30, 30, "clips")
    assert "done in 15s" in "\n".join(_screen(prog))
    clock.t += 5
    assert not any(ln.startswith("assembling") for ln in _screen(prog))


def test_more_active_shots_than_lines():
    clock = Clock()
    prog = RichProgress(_console(80, 12), clock=clock)
    prog.display.begin(_rows(30, seqs=30))
    for i in range(30):
        prog.shot(f"shot-{i + 1:02d}", "running")
    lines = _screen(prog)
    assert len(lines) == 12 - prog.reserve
    assert lines[-1].strip().startswith("…") and "more active" in lines[-1]
    assert lines[0].startswith("0/30 done · 30 running")


def test_narrow_terminal_shortens_the_summary():
    clock = Clock()
    d = Display(clock)
    d.begin(_rows())
    d.shot("shot-01", "failed")
    d.shot("shot-02", "running")
    text = d.lines(width=60, height=10)[0][0]
    assert len(text) <= 60 and "ETA" in text and "1 run" in text


def test_plain_step_lines_at_quarters():
    clock = Clock()
    out = io.StringIO()
    p = PlainProgress(out, clock=clock)
    p.step("review", 0, 8, "clips")
    for k in range(1, 9):
        clock.t += 1
        p.step("review", k, 8, "clips")
    lines = out.getvalue().splitlines()
    assert [ln.split("review: ")[1].split(" ·")[0] for ln in lines] == \
        ["0/8 clips", "2/8 clips", "4/8 clips", "6/8 clips", "8/8 clips"]
    assert lines[1].endswith("ETA 6s") and lines[-1].endswith("done in 8s")


def test_fmt_duration():
    assert [fmt_duration(x) for x in (0, 59.4, 61, 3599, 3700, None)] == \
        ["0s", "59s", "1m01s", "59m59s", "1h01m", "?"]


def test_provider_terminal_states_count_as_failed():
    clock = Clock()
    d = Display(clock)
    d.begin(_rows(4, seqs=4))
    d.shot("shot-01", "expired", "TaskExpired")
    d.shot("shot-02", "cancelled")
    d.shot("shot-03", "succeeded")
    d.shot("shot-04", "submitted")
    head = d.summary(clock(), 200)
    assert head.startswith("0/4 done · 1 running · 1 queued · 2 failed"), head
