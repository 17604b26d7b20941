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
from PIL import Image

from chainer.media.ffmpeg import decode_frames
from chainer.media.probe import count_frames
from chainer.review import apply_drift_guard, write_review
from chainer.review.chapters import format_timestamp
from chainer.review.colour import psnr
from chainer.review.contact_sheet import Seam, render_contact_sheet
from chainer.review.frames import read_frame
from chainer.review.timeline import Entry, Timeline, build_timeline

from review_util import FPS, H, W, assemble, make_chain, make_summary

IDS = ["a", "b", "c", "d", "e", "f"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Two sequences (a-b-c-d drifting strongly, e-f mildly), drift-matched, assembled with a
    crossfade into e, reviewed with drift_guard=match and 2 seams per contact-sheet page."""
    d = tmp_path_factory.mktemp("run")
    s0 = make_chain(d / "clips", IDS[:4], seconds=1.5, drift=1.0)
    s1 = make_chain(d / "clips", IDS[4:], seconds=1.5, drift=0.5, t0=20.0)
    guard = apply_drift_guard([(p.stem, 0, p) for p in s0] + [(p.stem, 1, p) for p in s1],
                              d / "graded", mode="match")
    segs = [(s, guard[s].clip, s not in ("a", "e"), "crossfade:0.5" if s == "e" else "cut")
            for s in IDS]
    stitch = assemble(d, segs, d / "final.mp4")
    shots = [{"id": s, "sequence": 0 if s in "abcd" else 1, "clip": p,
              "chained_from": {"b": "a", "c": "b", "d": "c", "f": "e"}.get(s),
              "mode": "first_frame" if s not in ("a", "e") else "t2v"}
             for s, p in zip(IDS, s0 + s1)]
    summary = make_summary(d, shots, stitch, title="Lake & morning")
    (d / "summary.json").write_text(json.dumps(summary))
    written = write_review(d, summary, drift_guard="match", seams_per_page=2)
    report = json.loads((d / "report.json").read_text())
    return {"dir": d, "written": written, "summary": summary, "report": report, "stitch": stitch,
            "guard": guard}


def test_every_output_is_written(run):
    w = run["written"]
    for key in ("contact_sheet", "contact_sheet_2", "contact_sheet_3", "report_html", "report_json",
                "chapters", "otio"):
        assert w[key].exists() and w[key].stat().st_size > 0, key
    assert "contact_sheet_4" not in w
    assert w["contact_sheet"].name == "contact-sheet.png"
    assert w["contact_sheet_3"].name == "contact-sheet-3.png"


def test_report_json_has_every_shot_and_seam(run):
    r = run["report"]
    assert [s["id"] for s in r["shots"]] == IDS
    assert [(s["from"], s["to"]) for s in r["seams"]] == list(zip(IDS, IDS[1:]))
    kinds = {s["to"]: s["kind"] for s in r["seams"]}
    assert kinds == {"b": "chained", "c": "chained", "d": "chained", "e": "crossfade", "f": "chained"}
    for i, s in enumerate(r["shots"]):
        assert s["task_id"] == f"cgt-{i:04d}" and s["seed"] == 100 + i
        assert s["prompt"] and s["model"] and s["params"]["resolution"] == "480p"
        assert s["times"]["queued_s"] == pytest.approx(2.0 + i % 3)
        assert s["times"]["running_s"] == pytest.approx(7.0 + i - i % 3)
        assert s["times"]["download_s"] == pytest.approx(1.0)
        assert s["tokens"] == {"estimated": 10000 + i, "actual": 9900 + i}
        assert s["cost"]["actual"] == pytest.approx(0.1485)
        assert (s["seam_in"] is None) == (i == 0)
        assert s["drift"]["before"]["last"]["drift"] >= 0 and s["drift"]["after"] is not None
    for s in r["seams"]:
        assert s["psnr_db"] is not None and 0 < s["ssim"] <= 1
        if s["kind"] == "chained":
            # drift-matched chained seams stay as smooth as the motion inside the shots
            assert s["verdict"] == "seamless", s
    drift = {s["id"]: s["drift"] for s in r["shots"]}
    assert drift["d"]["before"]["drift"] > 15 and drift["d"]["after"]["drift"] < 3
    assert r["totals"]["max_drift_after"] < 0.2 * r["totals"]["max_drift_before"]
    assert r["totals"]["shots"] == 6 and r["totals"]["seams"] == 5
    assert r["totals"]["tokens_actual"] == sum(9900 + i for i in range(6))
    # sequence 0 is submitted shot after shot and finishes last: it is the critical path
    assert r["critical_path"] == ["a", "b", "c", "d"]
    assert [s["critical_path"] for s in r["shots"]] == [True] * 4 + [False] * 2
    assert r["totals"]["wall_time_s"] == pytest.approx(43.0)
    assert r["drift_guard"] == "match"
    assert r["output"]["frames"] == count_frames(run["dir"] / "final.mp4")


def test_report_html_is_self_contained(run):
    html = (run["dir"] / "report.html").read_text()
    for sid in IDS:
        assert f"<b>{sid}</b>" in html
    assert "prompt for a &lt;&amp;&gt;" in html and "<&>" not in html   # escaped
    assert "Lake &amp; morning" in html
    assert not re.search(r"(src|href)=['\"]https?:", html)            # nothing fetched
    assert "<link" not in html and "<script" not in html
    pngs = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", html)
    assert len(pngs) == 2                                               # drift + time line
    sizes = [Image.open(io.BytesIO(base64.b64decode(p))).size for p in pngs]
    assert all(w >= 900 and h >= 150 for w, h in sizes)
    timeline_png = np.asarray(Image.open(io.BytesIO(base64.b64decode(pngs[1]))).convert("RGB"))
    # the critical path outline (red) is drawn
    red = (timeline_png[..., 0] > 200) & (timeline_png[..., 1] < 60) & (timeline_png[..., 2] < 60)
    assert red.sum() > 100


def test_contact_sheet_shows_the_real_seam_frames(run):
    d = run["dir"]
    pages = [Image.open(run["written"][k]) for k in ("contact_sheet", "contact_sheet_2",
                                                     "contact_sheet_3")]
    assert len({p.width for p in pages}) == 1
    # first cell of page 1: last kept frame of a | first kept frame of b
    tw, th = 280, round(280 * H / W)
    seg = {s["shot_id"]: s for s in run["stitch"]["segments"]}
    last_a = read_frame(d / seg["a"]["path"], seg["a"]["frames_kept"] - 1)
    first_b = read_frame(d / seg["b"]["path"], seg["b"]["head_trim"])
    sheet = np.asarray(pages[0].convert("RGB")).astype(float)
    x0, y0 = 16, 58 + 38
    for img, dx in ((last_a, 0), (first_b, tw + 6)):
        want = np.asarray(Image.fromarray(img).resize((tw, th), Image.LANCZOS)).astype(float)
        got = sheet[y0:y0 + th, x0 + dx:x0 + dx + tw]
        assert np.abs(got - want).mean() < 2.0
    # and they are not interchangeable: b's frame is not at a's place
    want_b = np.asarray(Image.fromarray(first_b).resize((tw, th), Image.LANCZOS)).astype(float)
    assert np.abs(sheet[y0:y0 + th, x0:x0 + tw] - want_b).mean() > 2.0


def _fake_timeline(n_shots: int) -> tuple[Timeline, list[Seam], dict]:
    entries, frames = [], {}
    for i in range(n_shots):
        sid = f"shot-{i:02d}"
        entries.append(Entry(sid, sid, Path(f"/nonexistent/{sid}.mp4"), None, 49, 1 if i else 0,
                             48, i * 48, "cut", chained=bool(i)))
        col = np.full((72, 128, 3), (i * 8) % 256, np.uint8)
        frames[sid] = {"first": col, "last": col, "mid": col}
    seams = [Seam(i, entries[i].shot_id, entries[i + 1].shot_id, "chained", (i + 1) * 2.0, 40.0,
                  0.99, 41.0) for i in range(n_shots - 1)]
    return Timeline(entries, Fraction(24), n_shots * 48, None), seams, frames


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


def test_chapters_txt(run):
    lines = (run["dir"] / "chapters.txt").read_text().splitlines()
    assert len(lines) == 6
    assert lines[0] == "0:00 a"
    starts = [math.floor(s["start"] + 1e-9) for s in run["stitch"]["segments"]]
    for line, sid, start in zip(lines, IDS, starts):
        m = re.fullmatch(r"(\d+):(\d{2}) (.+)", line)
        assert m, line
        assert int(m.group(1)) * 60 + int(m.group(2)) == start and m.group(3) == sid
    assert run["report"]["chapters"] == lines
    assert format_timestamp(0) == "0:00" and format_timestamp(65.9) == "1:05"
    assert format_timestamp(3725) == "1:02:05" and format_timestamp(5, hours=True) == "0:00:05"


def test_otio_durations_sum_to_the_video_and_trims_are_right(run):
    d = run["dir"]
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
    for c in clips:
        ref_path = Path(otio.url_utils.filepath_from_url(c.media_reference.target_url))
        assert ref_path.exists() and ref_path.parent.name == "graded"   # the matched clips
        avail = c.media_reference.available_range
        assert avail.duration.to_frames() == count_frames(ref_path)
        assert c.source_range.start_time >= avail.start_time
        assert c.source_range.end_time_exclusive() <= avail.end_time_exclusive()
    assert clips[1].source_range.start_time.to_frames() == 1       # the chained head trim
    audio = tl.audio_tracks()
    assert len(audio) == 1
    assert sum(c.source_range.duration.to_frames() for c in audio[0]
               if isinstance(c, otio.schema.Clip)) == final_frames
    # the frames the clips point at are the frames in the video (cut clips, first frame)
    out = list(decode_frames(d / "final.mp4", W, H))
    for c in clips:
        if video.index(c) and isinstance(video[video.index(c) - 1], otio.schema.Transition):
            continue
        pos = video.range_of_child(c).start_time.to_frames()
        src = read_frame(otio.url_utils.filepath_from_url(c.media_reference.target_url),
                         c.source_range.start_time.to_frames())
        assert psnr(out[pos], src) > 33, c.name


def test_editor_exports_when_adapters_exist(run):
    names = otio.adapters.available_adapter_names()
    w = run["written"]
    if "cmx_3600" in names:
        edl = otio.adapters.read_from_file(str(w["edl"]), adapter_name="cmx_3600", rate=FPS)
        clips = [c for c in edl.video_tracks()[0] if isinstance(c, otio.schema.Clip)]
        assert len(clips) == 6
        assert edl.video_tracks()[0].duration().to_frames() == count_frames(run["dir"] / "final.mp4")
    else:
        assert "edl" not in w
        assert any("cmx_3600" in n for n in run["report"]["notes"])
    if "fcpx_xml" in names:
        text = w["fcpxml"].read_text()
        assert "<fcpxml" in text and all(f"{s}.mp4" in text for s in IDS)
    else:
        assert "fcpxml" not in w


def test_missing_optional_fields_and_no_stitch(tmp_path):
    clips = make_chain(tmp_path / "clips", ["p", "q", "r"], seconds=1.0, drift=0.6, audio=False)
    summary = make_summary(tmp_path, [{"id": "p", "sequence": 0, "clip": clips[0]},
                                      {"id": "q", "sequence": 0, "clip": clips[1], "chained_from": "p"},
                                      {"id": "r", "sequence": 0, "clip": clips[2], "chained_from": "q"}],
                           None)
    for s in summary["shots"]:
        for k in ("task_id", "timings", "tokens", "cost", "seed", "sequence", "params", "name"):
            s.pop(k, None)
    summary.pop("totals")
    summary["shots"].append({"id": "lost", "clip": "clips/lost.mp4"})   # never downloaded
    w = write_review(tmp_path, summary)
    r = json.loads(w["report_json"].read_text())
    assert [s["id"] for s in r["shots"]] == ["p", "q", "r", "lost"]
    assert r["shots"][0]["task_id"] is None and r["shots"][0]["times"]["queued_s"] is None
    assert r["drift_guard"] == "report" and r["shots"][2]["drift"]["before"]["drift"] > 5
    assert r["shots"][3]["drift"] is None
    assert any("lost" in n for n in r["notes"])
    assert [(s["from"], s["to"]) for s in r["seams"]] == [("p", "q"), ("q", "r")]
    tl = otio.adapters.read_from_file(str(w["otio"]))
    total = sum(c.source_range.duration.to_frames() for c in tl.video_tracks()[0]
                if isinstance(c, otio.schema.Clip))
    assert total == sum(count_frames(c) for c in clips)
    assert not tl.audio_tracks()
    assert (tmp_path / "chapters.txt").read_text().splitlines()[0] == "0:00 p"
    html = w["report_html"].read_text()
    assert all(f"<b>{s}</b>" in html for s in ("p", "q", "r", "lost"))


def test_timeline_trims_given_in_seconds(tmp_path):
    summary = {"shots": [{"id": "x"}, {"id": "y"}], "stitch": {"frames": 95, "segments": [
        {"shot_id": "x", "path": "x.mp4", "frames_in": 48, "frames_kept": 48, "head_trim": 0.0,
         "tail_trim": 0.0, "start": 0.0},
        {"shot_id": "y", "path": "y.mp4", "frames_in": 49, "frames_kept": 47, "head_trim": 1 / 24,
         "tail_trim": 1 / 24, "start": 2.0, "transition_in": "cut"}]}}
    tl = build_timeline(tmp_path, summary)
    assert [(e.head, e.kept, e.start) for e in tl.entries] == [(0, 48, 0), (1, 47, 48)]
    assert tl.frames == 95 and tl.entries[1].overlap == 0


def test_cli_review(run, tmp_path):
    import shutil

    from click.testing import CliRunner

    from chainer.cli.main import cli

    copy = tmp_path / "run"
    shutil.copytree(run["dir"], copy)      # summary.json paths are relative to the run dir
    res = CliRunner().invoke(cli, ["review", str(copy), "--json", "--no-export",
                                   "--seams-per-page", "12"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert Path(out["report_html"]).exists() and "contact_sheet_2" not in out and "edl" not in out
    assert not (copy / "contact-sheet-2.png").exists()            # stale pages removed
    assert json.loads((copy / "report.json").read_text())["drift_guard"] == "report"
    (tmp_path / "empty").mkdir()
    res = CliRunner().invoke(cli, ["review", str(tmp_path / "empty")])
    assert res.exit_code == 2
    assert "summary.json" in res.output and "Traceback" not in res.output


def test_with_the_stitch_engine_chapters_and_otio_match_the_mp4(tmp_path):
    """The real assembly (media.stitch): chapters.txt matches the MP4's chapters read back with
    ffmpeg, and the OTIO clip durations sum to the stitched video's frame count."""
    from chainer.media.probe import probe
    from chainer.media.stitch import Segment, stitch

    xy = make_chain(tmp_path / "clips", ["x", "y"], seconds=1.5, drift=0.3, preset="medium")
    z = make_chain(tmp_path / "clips", ["z"], seconds=1.5, t0=9.0, preset="medium")
    res = stitch([Segment(xy[0], "x", False, title="Opening"), Segment(xy[1], "y", True, title="y"),
                  Segment(z[0], "z", False, title="z", transition="crossfade:0.5")],
                 tmp_path / "final.mp4", workdir=tmp_path / "work",
                 # seam="keep": stitch's dedupe path currently fails on a 0-frame tail render
                 # (reported to the stitch owner); switch back to the default when fixed
                 seam="keep")
    summary = make_summary(tmp_path, [
        {"id": "x", "name": "Opening", "sequence": 0, "clip": xy[0]},
        {"id": "y", "sequence": 0, "clip": xy[1], "chained_from": "x"},
        {"id": "z", "sequence": 1, "clip": z[0]}], res.to_dict())
    w = write_review(tmp_path, summary, export_formats=False)
    frames = count_frames(tmp_path / "final.mp4")
    chapters = probe(tmp_path / "final.mp4").chapters
    lines = (tmp_path / "chapters.txt").read_text().splitlines()
    assert len(chapters) == len(lines) == 3
    for ch, line in zip(chapters, lines):
        stamp, title = line.split(" ", 1)
        m, s = stamp.split(":")
        assert int(m) * 60 + int(s) == math.floor(ch.start + 1e-6) and title == ch.title
    assert lines[0] == "0:00 Opening"
    tl = otio.adapters.read_from_file(str(w["otio"]))
    video = tl.video_tracks()[0]
    assert video.duration().to_frames() == frames
    assert sum(c.source_range.duration.to_frames() for c in video
               if isinstance(c, otio.schema.Clip)) == frames
    assert len([t for t in video if isinstance(t, otio.schema.Transition)]) == 1
    seams = json.loads(w["report_json"].read_text())["seams"]
    assert [s["kind"] for s in seams] == ["chained", "crossfade"]
    assert seams[0]["verdict"] == "seamless"
