"""Review outputs of a run: contact sheet, report, chapters.txt, OTIO export, `chainer review`."""
from __future__ import annotations

import base64
import io
import json
import math
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
import yaml
from PIL import Image

from chainer.media.ffmpeg import decode_frames
from chainer.media.probe import count_frames, probe
from chainer.review.chapters import format_timestamp
from chainer.review.colour import psnr
from chainer.review.contact_sheet import Seam, render_contact_sheet
from chainer.review.frames import read_frame
from chainer.timeline import Entry, Timeline

from cli_util import chainer, cwd

IDS = ["a", "b", "c", "d", "e", "f"]
MODEL = "doubao-seedance-2-0-260128"
FPS = 24


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A real render (emulator, relative run dir from a temporary cwd): two sequences (a-b-c-d,
    e-f) with a crossfade into e and ``drift_guard: match``, then `chainer review` with 2 seams
    per contact-sheet page."""
    root = tmp_path_factory.mktemp("run")
    shots = [{"id": s, "prompt": f"prompt for {s} <&>, slow dolly forward"} for s in IDS]
    shots[4].update(cut=True, transition="crossfade:0.5")
    doc = {"title": "Lake & morning", "model": MODEL, "drift_guard": "match",
           "defaults": {"resolution": "480p", "ratio": "16:9", "duration": 4,
                        "generate_audio": True, "watermark": False},
           "output": {"file": "final.mp4"}, "shots": shots}
    (root / "lake.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    with cwd(root):
        r = chainer("render", "lake.yaml", "-o", "renders/lake", "--yes", "--provider", "emulator",
                    "--progress", "off", "--poll-interval", "0.1", "--emulator-latency", "0.2")
        assert r.exit_code == 0, r.output
        r = chainer("review", "renders/lake", "--seams-per-page", "2", "--json")
        assert r.exit_code == 0, r.output
    d = root / "renders" / "lake"
    written = {k: d / Path(v).relative_to("renders/lake") for k, v in json.loads(r.output).items()}
    return {"dir": d, "written": written, "report": json.loads((d / "report.json").read_text()),
            "summary": json.loads((d / "summary.json").read_text()), "timeline": Timeline.load(d)}


def test_every_output_is_written(run):
    w = run["written"]
    for key in ("contact_sheet", "contact_sheet_2", "contact_sheet_3", "report_html", "report_json",
                "chapters", "otio", "fcpxml", "edl"):
        assert w[key].exists() and w[key].stat().st_size > 0, key
    assert "contact_sheet_4" not in w
    assert w["contact_sheet"].name == "contact-sheet.png"
    assert w["contact_sheet_3"].name == "contact-sheet-3.png"


def test_report_json_has_every_shot_and_seam(run):
    r, summary = run["report"], run["summary"]
    assert [s["id"] for s in r["shots"]] == IDS
    assert [(s["from"], s["to"]) for s in r["seams"]] == list(zip(IDS, IDS[1:]))
    kinds = {s["to"]: s["kind"] for s in r["seams"]}
    assert kinds == {"b": "chained", "c": "chained", "d": "chained", "e": "crossfade", "f": "chained"}
    for i, (s, src) in enumerate(zip(r["shots"], summary["shots"])):
        assert s["task_id"] == src["task_id"] and s["task_id"].startswith("cgt-")
        assert s["seed"] == src["seed"] is not None
        assert s["prompt"] and s["model"] == MODEL and s["params"]["resolution"] == "480p"
        for k in ("queued_s", "running_s", "download_s", "total_s"):
            assert s["times"][k] is not None and s["times"][k] >= 0, (s["id"], k)
        assert s["tokens"] == src["tokens"]
        assert s["cost"]["actual"] == pytest.approx(src["cost"]["actual"], abs=1e-4)
        assert (s["seam_in"] is None) == (i == 0)
        assert s["drift"]["before"]["last"]["drift"] >= 0 and s["drift"]["after"] is not None
    for s in r["seams"]:
        assert s["psnr_db"] is not None and 0 < s["ssim"] <= 1
        if s["kind"] == "chained":
            assert s["verdict"] == "seamless", s
        else:
            assert s["verdict"] == "crossfade"
    assert r["totals"]["max_drift_after"] < r["totals"]["max_drift_before"]
    assert r["totals"]["shots"] == 6 and r["totals"]["seams"] == 5
    assert r["totals"]["tokens_actual"] == summary["totals"]["tokens_actual"]
    # the critical path is the chain that finished last, and the shots say so
    assert r["critical_path"] in (["a", "b", "c", "d"], ["e", "f"])
    assert [s["critical_path"] for s in r["shots"]] == [s in r["critical_path"] for s in IDS]
    assert r["drift_guard"] == "match"
    assert r["output"]["frames"] == count_frames(run["dir"] / "final.mp4") == run["timeline"].frames
    assert r["output"]["path"] == "final.mp4"


def test_report_html_is_self_contained(run):
    html = (run["dir"] / "report.html").read_text()
    for sid in IDS:
        assert f"<b>{sid}</b>" in html
    assert "prompt for a &lt;&amp;&gt;" in html and "<&>" not in html   # escaped
    assert "Lake &amp; morning" in html
    assert not re.search(r"(src|href)=['\"]https?:", html)            # nothing fetched
    assert "<link" not in html and "<script" not in html
    pngs = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", html)
    assert len(pngs) == 3                                   # loudness + drift + time line
    sizes = [Image.open(io.BytesIO(base64.b64decode(p))).size for p in pngs]
    assert all(w >= 900 and h >= 150 for w, h in sizes)
    timeline_png = np.asarray(Image.open(io.BytesIO(base64.b64decode(pngs[2]))).convert("RGB"))
    # the critical path outline (red) is drawn
    red = (timeline_png[..., 0] > 200) & (timeline_png[..., 1] < 60) & (timeline_png[..., 2] < 60)
    assert red.sum() > 100


def test_contact_sheet_shows_the_real_seam_frames(run):
    d, tl = run["dir"], run["timeline"]
    pages = [Image.open(run["written"][k]) for k in ("contact_sheet", "contact_sheet_2",
                                                     "contact_sheet_3")]
    assert len({p.width for p in pages}) == 1
    # first cell of page 1: last kept frame of a | first kept frame of b
    a, b = tl.entries[0], tl.entries[1]
    tw, th = 280, round(280 * a.height / a.width)
    last_a = read_frame(d / a.clip, a.last_kept)
    first_b = read_frame(d / b.clip, b.first_kept)
    sheet = np.asarray(pages[0].convert("RGB")).astype(float)
    x0, y0 = 16, 58 + 38
    for img, dx in ((last_a, 0), (first_b, tw + 6)):
        want = np.asarray(Image.fromarray(img).resize((tw, th), Image.LANCZOS)).astype(float)
        got = sheet[y0:y0 + th, x0 + dx:x0 + dx + tw]
        assert np.abs(got - want).mean() < 2.0
    # and they are the frames either side of the cut in the film (not any other two frames)
    film = list(decode_frames(d / "final.mp4", tl.width, tl.height, max_frames=b.start + 1))
    assert psnr(film[b.start - 1], last_a) > 30 and psnr(film[b.start], first_b) > 30
    second = read_frame(d / a.clip, max(0, a.last_kept - 24))
    want2 = np.asarray(Image.fromarray(second).resize((tw, th), Image.LANCZOS)).astype(float)
    assert np.abs(sheet[y0:y0 + th, x0:x0 + tw] - want2).mean() > 2.0


def _fake_timeline(n_shots: int) -> tuple[Timeline, list[Seam], dict]:
    """An in-memory Timeline (the product's type) with flat-colour frames: contact-sheet paging
    only, no media involved."""
    entries, frames = [], {}
    for i in range(n_shots):
        sid = f"shot-{i:02d}"
        entries.append(Entry(sid, sid, f"clips/{sid}.mp4", 49, 1 if i else 0, 0, 48, i * 48,
                             chained=bool(i), width=128, height=72))
        col = np.full((72, 128, 3), (i * 8) % 256, np.uint8)
        frames[sid] = {"first": col, "last": col, "mid": col}
    seams = [Seam(i, entries[i].shot_id, entries[i + 1].shot_id, "chained", (i + 1) * 2.0, 40.0,
                  0.99, 41.0) for i in range(n_shots - 1)]
    return Timeline(Fraction(24), n_shots * 48, 128, 72, None, False, tuple(entries)), seams, frames


@pytest.mark.parametrize("n_shots,per_page,pages", [(1, 12, 1), (2, 12, 1), (13, 12, 1),
                                                    (31, 12, 3), (40, 10, 4)])
def test_contact_sheet_pages_scale_with_seams(tmp_path, n_shots, per_page, pages):
    tl, seams, frames = _fake_timeline(n_shots)
    paths = render_contact_sheet(tl, seams, frames, tmp_path, seams_per_page=per_page)
    assert [p.name for p in paths] == ["contact-sheet.png"] + [f"contact-sheet-{k}.png"
                                                              for k in range(2, pages + 1)]
    heights = [Image.open(p).height for p in paths]
    widths = {Image.open(p).width for p in paths}
    assert len(widths) == 1
    if pages > 1 and len(seams) % per_page:
        assert heights[-1] < heights[0]
    # a later, shorter run removes the pages it no longer has
    tl2, seams2, frames2 = _fake_timeline(2)
    assert len(render_contact_sheet(tl2, seams2, frames2, tmp_path)) == 1
    assert sorted(p.name for p in tmp_path.glob("contact-sheet*.png")) == ["contact-sheet.png"]


def test_contact_sheet_rows_grow_with_seams(tmp_path):
    heights = []
    for n in (4, 7, 13):          # 1, 2 and 4 rows of 3 seams
        out = tmp_path / str(n)
        out.mkdir()
        heights.append(Image.open(render_contact_sheet(*_fake_timeline(n), out)[0]).height)
    assert heights[0] < heights[1] < heights[2]


def test_chapters_txt_matches_the_mp4_chapters(run):
    d, tl = run["dir"], run["timeline"]
    lines = (d / "chapters.txt").read_text().splitlines()
    assert len(lines) == 6 and lines[0] == "0:00 a"
    chapters = probe(d / "final.mp4").chapters          # written by the stitcher, same timeline
    assert len(chapters) == 6
    for line, sid, e, ch in zip(lines, IDS, tl.entries, chapters):
        m = re.fullmatch(r"(\d+):(\d{2}) (.+)", line)
        assert m, line
        start = int(m.group(1)) * 60 + int(m.group(2))
        assert start == math.floor(e.start / FPS + 1e-9) == math.floor(ch.start + 1e-6)
        assert m.group(3) == sid == ch.title
    assert run["report"]["chapters"] == lines
    assert format_timestamp(0) == "0:00" and format_timestamp(65.9) == "1:05"
    assert format_timestamp(3725) == "1:02:05" and format_timestamp(5, hours=True) == "0:00:05"


def test_otio_durations_sum_to_the_video_and_trims_are_right(run):
    d, timeline = run["dir"], run["timeline"]
    tl = otio.adapters.read_from_file(str(d / "timeline.otio"))
    final_frames = count_frames(d / "final.mp4")
    video = tl.video_tracks()[0]
    clips = [c for c in video if isinstance(c, otio.schema.Clip)]
    transitions = [t for t in video if isinstance(t, otio.schema.Transition)]
    assert [c.name for c in clips] == IDS
    total = sum((c.source_range.duration for c in clips), otio.opentime.RationalTime(0, FPS))
    assert total == otio.opentime.RationalTime(final_frames, FPS)
    assert video.duration() == otio.opentime.RationalTime(final_frames, FPS)
    assert len(transitions) == 1
    t = transitions[0]
    assert t.transition_type == otio.schema.TransitionTypes.SMPTE_Dissolve
    assert (t.in_offset + t.out_offset).to_frames() == 12          # crossfade:0.5 at 24 fps
    assert video.index(t) == video.index(clips[4]) - 1              # between d and e
    for c, e in zip(clips, timeline.entries):
        ref_path = Path(otio.url_utils.filepath_from_url(c.media_reference.target_url))
        assert ref_path == (d / e.clip).resolve()                   # what the assembly read
        avail = c.media_reference.available_range
        assert avail.duration.to_frames() == count_frames(ref_path)
        assert c.source_range.start_time >= avail.start_time
        assert c.source_range.end_time_exclusive() <= avail.end_time_exclusive()
    assert any(e.original for e in timeline.entries)                # drift-matched copies used
    audio = tl.audio_tracks()
    assert len(audio) == 1
    assert sum(c.source_range.duration.to_frames() for c in audio[0]
               if isinstance(c, otio.schema.Clip)) == final_frames
    # the frames the clips point at are the frames in the video (cut clips, first frame)
    out = list(decode_frames(d / "final.mp4", timeline.width, timeline.height))
    for c in clips:
        if video.index(c) and isinstance(video[video.index(c) - 1], otio.schema.Transition):
            continue
        pos = video.range_of_child(c).start_time.to_frames()
        src = read_frame(otio.url_utils.filepath_from_url(c.media_reference.target_url),
                         c.source_range.start_time.to_frames())
        assert psnr(out[pos], src) > 33, c.name


def test_editor_exports(run):
    w, d = run["written"], run["dir"]
    edl = otio.adapters.read_from_file(str(w["edl"]), adapter_name="cmx_3600", rate=FPS)
    clips = [c for c in edl.video_tracks()[0] if isinstance(c, otio.schema.Clip)]
    assert len(clips) == 6
    assert edl.video_tracks()[0].duration().to_frames() == count_frames(d / "final.mp4")
    text = w["fcpxml"].read_text()
    assert "<fcpxml" in text and all(f"{s}.mp4" in text for s in IDS)


def test_an_unassembled_run_still_reviews(tmp_path):
    """A run whose third shot failed: summary.json but no timeline.json. The review shows every
    shot, measures drift on what was downloaded, and says why there are no seams."""
    shots = [{"id": s, "prompt": f"shot {s}, slow pan"} for s in ("p", "q", "r")]
    doc = {"title": "Broken", "model": MODEL,
           "defaults": {"resolution": "480p", "ratio": "16:9", "duration": 4,
                        "generate_audio": False},
           "output": {"file": "final.mp4"}, "shots": shots}
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    (tmp_path / "faults.json").write_text(json.dumps({"task_failed": {"schedule": [3]}}))
    with cwd(tmp_path):
        r = chainer("render", "b.yaml", "-o", "runs/b", "--yes", "--provider", "emulator",
                    "--progress", "off", "--poll-interval", "0.1", "--emulator-latency", "0.2",
                    "--emulator-faults", "faults.json")
        assert r.exit_code == 1, r.output
        assert not Path("runs/b/timeline.json").exists()
        r = chainer("review", "runs/b", "--json")
        assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "runs/b/report.json").read_text())
    assert [s["id"] for s in rep["shots"]] == ["p", "q", "r"]
    assert rep["shots"][0]["task_id"].startswith("cgt-") and rep["shots"][2]["clip"] is None
    assert rep["drift_guard"] == "report" and rep["shots"][1]["drift"]["before"] is not None
    assert rep["shots"][2]["drift"] is None and rep["seams"] == []
    assert any("timeline.json" in n for n in rep["notes"])
    assert any("'r'" in n or " r:" in n or "shot r" in n for n in rep["notes"])
    html = (tmp_path / "runs/b/report.html").read_text()
    assert all(f"<b>{s}</b>" in html for s in ("p", "q", "r"))


def test_cli_review(run, tmp_path):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run["dir"], copy)      # every path a run dir stores is relative to it
    res = chainer("review", str(copy), "--json", "--no-export", "--seams-per-page", "12",
                  "--drift-guard", "report")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert Path(out["report_html"]).exists() and "contact_sheet_2" not in out and "edl" not in out
    assert not (copy / "contact-sheet-2.png").exists()            # stale pages removed
    rep = json.loads((copy / "report.json").read_text())
    assert rep["drift_guard"] == "report" and rep["seams"] == run["report"]["seams"]
    (tmp_path / "empty").mkdir()
    res = chainer("review", str(tmp_path / "empty"))
    assert res.exit_code == 2
    assert "summary.json" in res.output and "Traceback" not in res.output
