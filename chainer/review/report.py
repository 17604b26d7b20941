"""report.json and report.html: everything about a run on one page.

report.json is the data (stable keys, numbers rounded, no NaN/inf); report.html renders it with
inline CSS and the two charts embedded as ``data:`` PNGs, so the file opens from disk, offline,
anywhere it is copied to.
"""
from __future__ import annotations

import base64
import html
import math
from typing import Any

from .charts import DriftPoint, TaskSpan, drift_chart, timeline_chart
from .contact_sheet import Seam
from .drift import ShotDrift
from ..timeline import Timeline

REPORT_VERSION = 1


def _num(v, k: int = 3):
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return round(f, k) if math.isfinite(f) else None


def _one_based(v):
    return v + 1 if isinstance(v, int) and not isinstance(v, bool) else v


def _span(t: dict, a: str, b: str):
    if t.get(a) is None or t.get(b) is None:
        return None
    return _num(float(t[b]) - float(t[a]))


_PHASES = ("submitted", "queued", "running", "succeeded", "downloaded")


def absolute_timings(shot: dict) -> dict[str, float | None]:
    """A shot's phase times on one clock shared by all shots.

    summary.json gives them relative to the shot's own submission plus the absolute
    ``submitted_at``; without ``submitted_at`` the values are taken as already absolute."""
    t = shot.get("timings") or {}
    base = t.get("submitted_at")
    out = {}
    for k in _PHASES:
        v = t.get(k)
        out[k] = None if v is None else float(v) + (float(base) if base is not None else 0.0)
    return out


def critical_path(shots: list[dict]) -> list[str]:
    """The chain of shots that decided the wall time: from the shot downloaded last, back through
    the shots whose last frames it waited for."""
    by_id = {str(s.get("id")): s for s in shots}
    done = [(absolute_timings(s)["downloaded"], str(s["id"])) for s in shots
            if absolute_timings(s)["downloaded"] is not None]
    if not done:
        return []
    chain = [max(done)[1]]
    seen = set(chain)
    while True:
        prev = by_id[chain[-1]].get("chained_from")
        if not prev or str(prev) not in by_id or str(prev) in seen:
            break
        chain.append(str(prev))
        seen.add(str(prev))
    return list(reversed(chain))


def build_report(summary: dict, timeline: Timeline, seams: list[Seam], *,
                 drift_guard: str, drift_before: dict[str, ShotDrift] | None,
                 drift_after: dict[str, ShotDrift] | None, files: dict[str, str],
                 notes: list[str], chapters: list[str]) -> dict:
    shots = summary.get("shots") or []
    abs_t = {str(s.get("id")): absolute_timings(s) for s in shots}
    t0_candidates = [v for t in abs_t.values() for v in t.values() if v is not None]
    t0 = min(t0_candidates) if t0_candidates else 0.0
    t1 = max(t0_candidates) if t0_candidates else 0.0
    crit = critical_path(shots)
    entry_by_id = {e.shot_id: e for e in timeline.entries}
    seam_in = {s.in_shot: s for s in seams}
    fps = float(timeline.fps)
    out_shots = []
    for s in shots:
        sid = str(s.get("id"))
        t = abs_t[sid]
        e = entry_by_id.get(sid)
        before = (drift_before or {}).get(sid)
        after = (drift_after or {}).get(sid)
        tokens = s.get("tokens") or {}
        cost = s.get("cost") or {}
        out_shots.append({
            # numbers the user sees are 1-based, as in `chainer plan`
            "id": sid, "name": s.get("name") or sid, "index": _one_based(s.get("index")),
            "sequence": _one_based(s.get("sequence")), "position": _one_based(s.get("position")),
            "chained_from": s.get("chained_from"), "mode": s.get("mode"), "model": s.get("model"),
            "prompt": s.get("prompt"), "params": s.get("params") or {},
            "task_id": s.get("task_id"), "seed": s.get("seed", (s.get("params") or {}).get("seed")),
            "status": s.get("status"), "attempts": s.get("attempts"),
            "clip": s.get("clip"), "last_frame": s.get("last_frame"),
            "times": {
                "submitted_at": _num(float(t["submitted"]) - t0) if t.get("submitted") is not None else None,
                "queued_s": _span(t, "submitted", "running"),
                "running_s": _span(t, "running", "succeeded"),
                "download_s": _span(t, "succeeded", "downloaded"),
                "total_s": _span(t, "submitted", "downloaded"),
            },
            "critical_path": sid in crit,
            "tokens": {"estimated": tokens.get("estimated"), "actual": tokens.get("actual")},
            "cost": {"estimated": _num(cost.get("estimated"), 4), "actual": _num(cost.get("actual"), 4),
                     "currency": cost.get("currency", "CNY")},
            "timeline": None if e is None else {
                "start_s": _num(e.start / fps), "duration_s": _num(e.kept / fps),
                "start_frame": e.start, "kept_frames": e.kept, "head_trim_frames": e.head,
                "tail_trim_frames": e.tail, "frames_in": e.frames_in,
                "transition_in": e.transition_in, "overlap_frames": e.overlap,
                "audio": e.audio, "size": [e.width, e.height], "path": e.clip,
                "original": e.original},
            "seam_in": seam_in[sid].to_dict() if sid in seam_in else None,
            "drift": None if before is None else {
                "before": before.to_dict(), "after": after.to_dict() if after else None},
        })
    totals_in = summary.get("totals") or {}

    def _sum(key, sub):
        vals = [(s.get(key) or {}).get(sub) for s in shots]
        vals = [v for v in vals if v is not None]
        return sum(vals) if vals else None

    currencies = {(s.get("cost") or {}).get("currency") for s in shots} - {None}
    run_s = [x["times"]["running_s"] for x in out_shots if x["times"]["running_s"] is not None]
    q_s = [x["times"]["queued_s"] for x in out_shots if x["times"]["queued_s"] is not None]
    drifts_b = [d.drift for d in (drift_before or {}).values()]
    drifts_a = [d.drift for d in (drift_after or {}).values()]
    chained = [s for s in seams if s.kind == "chained"]
    totals = {
        "shots": len(shots), "seams": len(seams), "chained_seams": len(chained),
        "seams_not_seamless": sum(1 for s in chained if s.verdict in ("visible", "jump")),
        "seams_unscored": sum(1 for s in chained if s.verdict == "unknown"),
        "tokens_estimated": totals_in.get("tokens_estimated", _sum("tokens", "estimated")),
        "tokens_actual": totals_in.get("tokens_actual", _sum("tokens", "actual")),
        "cost_estimated": _num(totals_in.get("cost_estimated", _sum("cost", "estimated")), 4),
        "cost_actual": _num(totals_in.get("cost_actual", _sum("cost", "actual")), 4),
        "currency": currencies.pop() if len(currencies) == 1 else ("CNY" if not currencies else "mixed"),
        "wall_time_s": _num(t1 - t0) if t0_candidates else None,
        "running_time_s": _num(sum(run_s)) if run_s else None,
        "queued_time_s": _num(sum(q_s)) if q_s else None,
        "max_drift_before": _num(max(drifts_b)) if drifts_b else None,
        "max_drift_after": _num(max(drifts_a)) if drifts_a else None,
        "worst_seam_psnr_db": _num(min((s.psnr for s in chained if s.psnr is not None), default=None), 2),
    }
    return {
        "takes": _takes(summary),
        "version": REPORT_VERSION, "title": summary.get("title"),
        "storyboard": summary.get("storyboard"), "provider": summary.get("provider"),
        "output": {"path": str(timeline.output) if timeline.output else summary.get("output"),
                   "frames": timeline.frames, "duration_s": _num(timeline.duration), "fps": fps},
        "drift_guard": drift_guard, "critical_path": crit, "totals": totals,
        "shots": out_shots, "seams": [s.to_dict() for s in seams],
        "chapters": chapters, "files": files, "notes": notes,
    }


def charts_for(report: dict) -> dict[str, bytes]:
    """The report's PNG charts: {"drift": ..., "timeline": ...} (drift only if measured)."""
    out: dict[str, bytes] = {}
    points = []
    for s in report["shots"]:
        d = s.get("drift")
        if not d:
            continue
        b, a = d["before"], d.get("after")
        points.append(DriftPoint(s["id"], s["sequence"], b["first"]["drift"], b["last"]["drift"],
                                 a["first"]["drift"] if a else None, a["last"]["drift"] if a else None))
    if points:
        out["drift"] = drift_chart(points)
    spans = []
    for s in report["shots"]:
        t = s["times"]
        if t.get("submitted_at") is None:
            continue
        sub = t["submitted_at"]
        run = sub + t["queued_s"] if t.get("queued_s") is not None else None
        suc = run + t["running_s"] if run is not None and t.get("running_s") is not None else None
        dl = suc + t["download_s"] if suc is not None and t.get("download_s") is not None else None
        spans.append(TaskSpan(s["id"], s["sequence"], sub, run, suc, dl, s.get("critical_path", False)))
    if spans:
        out["timeline"] = timeline_chart(spans)
    return out


# ---- HTML ---------------------------------------------------------------------------------------

CSS = """
body{font:14px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
 margin:24px auto;max-width:1280px;padding:0 16px;color:#222;background:#fafafa}
h1{font-size:24px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 8px}
.muted{color:#777} .cards{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}
.card{background:#fff;border:1px solid #e3e3e3;border-radius:8px;padding:10px 14px;min-width:130px}
.card b{display:block;font-size:18px}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}
th,td{border-bottom:1px solid #eee;padding:5px 7px;text-align:left;vertical-align:top}
th{background:#f1f1f1;position:sticky;top:0} td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.crit td:first-child{border-left:3px solid #d62728}
.ok{color:#1e8e3e}.warn{color:#c77c00}.bad{color:#d62728}
details{margin:2px 0} summary{cursor:pointer;color:#555}
pre{white-space:pre-wrap;background:#f6f6f6;padding:6px 8px;border-radius:4px;margin:4px 0;font-size:12px}
img.chart{max-width:100%;border:1px solid #e3e3e3;border-radius:6px;background:#fff}
code{background:#f1f1f1;padding:0 3px;border-radius:3px}
"""


def _e(v: Any) -> str:
    return html.escape("" if v is None else str(v))


def _fmt(v, fmt: str = "{:.1f}", none: str = "–") -> str:
    return none if v is None else fmt.format(v)


def _verdict_class(v: str | None) -> str:
    return {"seamless": "ok", "visible": "warn", "jump": "bad"}.get(v or "", "muted")


def _drift_class(v: float | None) -> str:
    if v is None:
        return "muted"
    return "ok" if v <= 2.3 else "warn" if v <= 5.0 else "bad"


def _takes(summary: dict) -> dict:
    """Every shot's takes (``takes: N`` / re-rolls, chainer.run.takes): scores, best first."""
    out = {}
    for sid, entry in (summary.get("takes") or {}).items():
        out[str(sid)] = {"current": entry.get("current"), "takes": [
            {"take": t.get("take"), "score": _num(t.get("score"), 4), "current": bool(t.get("current")),
             "components": t.get("components") or {}, "clip": t.get("clip"),
             "thumbnail": t.get("thumbnail"), "task_id": t.get("task_id"), "seed": t.get("seed")}
            for t in entry.get("takes") or []]}
    return out


def _takes_html(takes: dict) -> list[str]:
    p = []
    for sid, entry in takes.items():
        p.append(f"<h2>Takes of {_e(sid)}</h2><p class='muted'>ranked by how well each joins the "
                 "previous shot (lower is better); the current take is in the film</p><table><tr>"
                 "<th>take</th><th>last frame</th><th>score</th><th>jump</th><th>continuity</th>"
                 "<th>colour</th><th>bookend</th><th>seed</th><th>in film</th></tr>")
        for t in entry["takes"]:
            c = t["components"]
            thumb = (f"<img alt='{_e(t['take'])}' style='width:160px' src='{_e(t['thumbnail'])}'>"
                     if t.get("thumbnail") else "")
            p.append(f"<tr><td>{_e(t['take'])}</td><td>{thumb}</td>"
                     f"<td class='n'>{_fmt(t['score'], '{:.3f}')}</td>"
                     + "".join(f"<td class='n'>{_fmt(c.get(k), '{:.3f}')}</td>"
                               for k in ("jump", "continuity", "colour", "bookend"))
                     + f"<td class='n'>{_e(t.get('seed'))}</td>"
                     f"<td>{'✓' if t['current'] else ''}</td></tr>")
        p.append("</table>")
    return p


def render_html(report: dict, charts: dict[str, bytes]) -> str:
    t = report["totals"]
    cur = t.get("currency") or ""
    out = report["output"]
    p: list[str] = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
                    f"<title>{_e(report.get('title') or 'chainer report')}</title>",
                    f"<style>{CSS}</style></head><body>",
                    f"<h1>{_e(report.get('title') or 'chainer run')}</h1>",
                    f"<div class='muted'>storyboard {_e(report.get('storyboard'))} · provider "
                    f"{_e(report.get('provider'))} · output <code>{_e(out.get('path'))}</code> · "
                    f"{_fmt(out.get('duration_s'), '{:.2f}')} s, {_e(out.get('frames'))} frames at "
                    f"{_e(out.get('fps'))} fps · drift guard <b>{_e(report.get('drift_guard'))}</b></div>"]
    cards = [("shots", t["shots"]), ("seams (chained)", f"{t['seams']} ({t['chained_seams']})"),
             ("seams not seamless", t["seams_not_seamless"]),
             ("tokens est / actual", f"{_fmt(t['tokens_estimated'], '{:,}')} / {_fmt(t['tokens_actual'], '{:,}')}"),
             (f"cost est / actual ({cur})", f"{_fmt(t['cost_estimated'], '{:.2f}')} / {_fmt(t['cost_actual'], '{:.2f}')}"),
             ("wall time", _fmt(t["wall_time_s"], "{:.1f} s")),
             ("running / queued (sum)", f"{_fmt(t['running_time_s'], '{:.0f}')} / {_fmt(t['queued_time_s'], '{:.0f}')} s"),
             ("max drift ΔE before → after", f"{_fmt(t['max_drift_before'])} → {_fmt(t['max_drift_after'])}"),
             ("worst chained seam", _fmt(t["worst_seam_psnr_db"], "{:.1f} dB"))]
    p.append("<div class='cards'>" + "".join(
        f"<div class='card'><span class='muted'>{_e(k)}</span><b>{_e(v)}</b></div>" for k, v in cards)
        + "</div>")
    if report.get("notes"):
        p.append("<ul>" + "".join(f"<li class='warn'>{_e(n)}</li>" for n in report["notes"]) + "</ul>")
    files = report.get("files") or {}
    sheets = [v for k, v in sorted(files.items()) if k.startswith("contact_sheet")]
    links = [f"<a href='{_e(v)}'>{_e(v)}</a>" for v in sheets]
    links += [f"<a href='{_e(v)}'>{_e(v)}</a>" for k, v in files.items()
              if not k.startswith("contact_sheet") and k not in ("report_html",)]
    if links:
        p.append("<div class='muted'>files: " + " · ".join(links) + "</div>")

    p.append("<h2>Shots</h2><table><tr><th>#</th><th>shot</th><th>seq</th><th>mode</th><th>model</th>"
             "<th>task</th><th>seed</th><th>queued</th><th>running</th><th>download</th>"
             "<th>tokens est / actual</th><th>cost est / actual</th><th>in output</th>"
             "<th>seam in</th><th>drift ΔE (last frame)</th></tr>")
    for i, s in enumerate(report["shots"]):
        tm, tk, c = s["times"], s["tokens"], s["cost"]
        seam = s.get("seam_in")
        seam_txt = "–" if not seam else (
            f"<span class='{_verdict_class(seam['verdict'])}'>{_fmt(seam['psnr_db'], '{:.1f} dB')}"
            f" · SSIM {_fmt(seam['ssim'], '{:.3f}')}</span><br><span class='muted'>{_e(seam['kind'])}"
            f", {_e(seam['verdict'])}</span>")
        d = s.get("drift")
        if d:
            b = d["before"]["drift"]
            a = d["after"]["drift"] if d.get("after") else None
            drift_txt = f"<span class='{_drift_class(b)}'>{b:.1f}</span>"
            if a is not None:
                drift_txt += f" → <span class='{_drift_class(a)}'>{a:.1f}</span>"
            drift_txt += (f"<br><span class='muted'>ΔE {d['before']['last']['delta_e']:.1f}, "
                          f"contrast ×{d['before']['last']['spread_ratio']:.2f}</span>")
        else:
            drift_txt = "<span class='muted'>–</span>"
        tl = s.get("timeline")
        where = "–" if not tl else f"{tl['start_s']:.2f} s +{tl['duration_s']:.2f} s" + (
            f"<br><span class='muted'>trim {tl['head_trim_frames']}f, {_e(tl['transition_in'])}</span>")
        p.append(
            f"<tr class='{'crit' if s.get('critical_path') else ''}'><td class='n'>{i + 1}</td>"
            f"<td><b>{_e(s['id'])}</b>" + (f"<br>{_e(s['name'])}" if s["name"] != s["id"] else "")
            + f"<details><summary>prompt &amp; params</summary><pre>{_e(s.get('prompt'))}</pre>"
            f"<pre>{_e(', '.join(f'{k}={v}' for k, v in (s.get('params') or {}).items()))}</pre>"
            f"</details></td><td class='n'>{_e(s.get('sequence'))}</td><td>{_e(s.get('mode'))}</td>"
            f"<td>{_e(s.get('model'))}</td><td><code>{_e(s.get('task_id') or '–')}</code></td>"
            f"<td class='n'>{_e(s.get('seed') if s.get('seed') is not None else '–')}</td>"
            f"<td class='n'>{_fmt(tm['queued_s'], '{:.1f} s')}</td>"
            f"<td class='n'>{_fmt(tm['running_s'], '{:.1f} s')}</td>"
            f"<td class='n'>{_fmt(tm['download_s'], '{:.1f} s')}</td>"
            f"<td class='n'>{_fmt(tk.get('estimated'), '{:,}')} / {_fmt(tk.get('actual'), '{:,}')}</td>"
            f"<td class='n'>{_fmt(c.get('estimated'), '{:.3f}')} / {_fmt(c.get('actual'), '{:.3f}')}</td>"
            f"<td>{where}</td><td>{seam_txt}</td><td>{drift_txt}</td></tr>")
    p.append(f"<tr><th></th><th>total</th><th colspan='6'></th><th class='n'>{_fmt(t['running_time_s'], '{:.0f} s')}</th>"
             f"<th></th><th class='n'>{_fmt(t['tokens_estimated'], '{:,}')} / {_fmt(t['tokens_actual'], '{:,}')}</th>"
             f"<th class='n'>{_fmt(t['cost_estimated'], '{:.2f}')} / {_fmt(t['cost_actual'], '{:.2f}')} {_e(cur)}</th>"
             "<th colspan='3'></th></tr></table>")
    if report.get("critical_path"):
        p.append("<p class='muted'>critical path (red edge): "
                 + " → ".join(_e(x) for x in report["critical_path"]) + "</p>")

    for key, title, caption in (
            ("loudness", "Loudness over time",
             "The final audio beside the shots: short-term loudness (line), momentary (band), "
             "the loudness target (dashed)."),
            ("drift", "Colour drift",
             "ΔE against the first frame of each sequence's first shot; each shot spans one step "
             "from its first frame to its last. 2.3 is a just-noticeable difference."),
            ("timeline", "Render time line",
             "When each task waited in the queue, ran and downloaded. Outlined: the chain of shots "
             "that decided the wall time (each waited for the previous one's last frame).")):
        if key in charts:
            data = base64.b64encode(charts[key]).decode("ascii")
            p.append(f"<h2>{title}</h2><p class='muted'>{caption}</p>"
                     f"<img class='chart' alt='{title}' src='data:image/png;base64,{data}'>")

    if report["seams"]:
        p.append("<h2>Seams</h2><table><tr><th>#</th><th>from → to</th><th>kind</th><th>at</th>"
                 "<th>PSNR</th><th>SSIM</th><th>in-shot PSNR</th><th>jump</th><th>verdict</th></tr>")
        for s in report["seams"]:
            p.append(f"<tr><td class='n'>{s['index']}</td><td>{_e(s['from'])} → {_e(s['to'])}</td>"
                     f"<td>{_e(s['kind'])}</td><td class='n'>{s['at']:.2f} s</td>"
                     f"<td class='n'>{_fmt(s['psnr_db'], '{:.1f} dB')}</td>"
                     f"<td class='n'>{_fmt(s['ssim'], '{:.3f}')}</td>"
                     f"<td class='n'>{_fmt(s['in_shot_psnr_db'], '{:.1f} dB')}</td>"
                     f"<td class='n'>{_fmt(s['jump_db'], '{:.1f} dB')}</td>"
                     f"<td class='{_verdict_class(s['verdict'])}'>{_e(s['verdict'])}</td></tr>")
        p.append("</table>")
    p += _takes_html(report.get("takes") or {})
    if report.get("chapters"):
        p.append("<h2>Chapters</h2><pre>" + _e("\n".join(report["chapters"])) + "</pre>")
    p.append(f"<p class='muted'>report format v{REPORT_VERSION} · written by chainer review</p>"
             "</body></html>")
    return "\n".join(p)
