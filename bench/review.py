"""Review benchmark: time and peak memory of ``write_review`` on a long chained run.

    python bench/review.py [--shots 24] [--size 864x496] [--seconds 5] [--mode report|match]
                           [--code DIR]   # review code from another tree (e.g. an old commit)

Clips are synthetic, chained (frame 0 of clip N+1 is clip N's last frame before encoding), encoded
like the emulator's (libx264, one keyframe, B-frames, 24 fps, yuv420p, no audio) and cached under
``bench/.cache/review/``. The run directory carries a summary.json with stitch segments (chained
shots trim their first frame) but no final video: review reads only the clips. ``--mode match``
adds a graded copy of every clip (the clip itself, copied) so the drift "after" pass runs too.

write_review runs in a child process; it reports wall time, CPU time of itself and of its ffmpeg
children, and peak RSS of the Python process (VmHWM minus its RSS after imports; ffmpeg children
are separate processes, each decoding one clip). Prints a JSON line and PASS/FAIL against the issue's goals:
< 0.2 s per shot (480p, 2 cores) and peak RSS growth independent of the number of shots.
Wall time is only meaningful on an otherwise idle machine; CPU time per shot is printed too.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
FPS = 24


def generate(cache: Path, n: int, width: int, height: int, frames: int) -> list[Path]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from synthetic import generate_chain

    return generate_chain(cache, n, width, height, frames, texture_seed=5, audio=False,
                          preset="veryfast", crf=20)


def make_run(run_dir: Path, clips: list[Path], frames: int, *, graded: bool) -> dict:
    (run_dir / "clips").mkdir(parents=True)
    shots, segments, start = [], [], 0
    for i, src in enumerate(clips):
        sid = f"s{i:03d}"
        dst = run_dir / "clips" / f"{sid}.mp4"
        os.symlink(src, dst)
        used = dst
        if graded:
            (run_dir / "graded").mkdir(exist_ok=True)
            used = run_dir / "graded" / f"{sid}.mp4"
            shutil.copyfile(src, used)
        head = 1 if i else 0
        kept = frames - head
        shots.append({"id": sid, "name": sid, "index": i, "sequence": 0, "position": i,
                      "chained_from": f"s{i - 1:03d}" if i else None,
                      "mode": "first_frame" if i else "t2v", "model": "doubao-seedance-1-0-pro-250528",
                      "prompt": f"shot {i}", "params": {"resolution": "480p", "duration": 5},
                      "task_id": f"cgt-{i:04d}", "status": "succeeded", "seed": i,
                      "timings": {"submitted": 0.0, "queued": 0.1, "running": 2.0, "succeeded": 30.0,
                                  "downloaded": 31.0, "submitted_at": 1.7e9 + 30.0 * i},
                      "tokens": {"estimated": 100000, "actual": 99000},
                      "cost": {"estimated": 1.5, "actual": 1.485, "currency": "CNY"},
                      "clip": f"clips/{sid}.mp4", "attempts": 1})
        segments.append({"shot_id": sid, "path": os.path.relpath(used, run_dir), "frames_in": frames,
                         "frames_kept": kept, "head_trim": head, "tail_trim": 0, "start": start / FPS,
                         "duration": kept / FPS, "chained": bool(i), "transition_in": "cut"})
        start += kept
    summary = {"title": "bench", "storyboard": "bench.yaml", "provider": "emulator",
               "output": "final.mp4", "shots": shots,
               "stitch": {"output": "final.mp4", "frames": start, "duration": start / FPS, "fps": FPS,
                          "segments": segments}}
    (run_dir / "summary.json").write_text(json.dumps(summary))
    return summary


CHILD = r"""
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
from chainer.review import write_review
import chainer.review.contact_sheet, chainer.review.report, chainer.review.otio_export  # noqa
def rss_mb(key="VmRSS:"):
    # /proc, not ru_maxrss: ru_maxrss keeps the forking parent's high-water mark across exec
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key):
                return int(line.split()[1]) / 1024
run_dir = sys.argv[2]
kw = {"workers": int(sys.argv[4])} if len(sys.argv) > 4 and sys.argv[4] != "0" else {}
summary = json.load(open(os.path.join(run_dir, "summary.json")))
base = rss_mb()
t0, c0 = time.perf_counter(), os.times()
write_review(run_dir, summary, drift_guard=sys.argv[3], export_formats=False, **kw)
t1, c1 = time.perf_counter(), os.times()
peak = rss_mb("VmHWM:")
print(json.dumps({"wall_s": t1 - t0, "cpu_self_s": (c1.user - c0.user) + (c1.system - c0.system),
                  "cpu_children_s": (c1.children_user - c0.children_user)
                                    + (c1.children_system - c0.children_system),
                  "rss_base_mb": base, "rss_peak_mb": peak, "rss_growth_mb": peak - base}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shots", type=int, default=24)
    ap.add_argument("--size", default="864x496")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--mode", choices=["off", "report", "match"], default="report")
    ap.add_argument("--workers", type=int, default=0, help="write_review(workers=) (0: its default)")
    ap.add_argument("--code", default=str(ROOT), help="tree whose chainer package is reviewed with")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    frames = int(round(args.seconds * FPS)) + 1
    clips = generate(ROOT / "bench" / ".cache" / "review" / f"{w}x{h}-{frames}f", args.shots, w, h,
                     frames)
    with tempfile.TemporaryDirectory(prefix="chainer-bench-review-") as tmp:
        run_dir = Path(tmp) / "run"
        make_run(run_dir, clips, frames, graded=args.mode == "match")
        out = subprocess.run([sys.executable, "-c", CHILD, str(Path(args.code).resolve()),
                              str(run_dir), args.mode, str(args.workers)], capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(out.stderr)
        res = json.loads(out.stdout.strip().splitlines()[-1])
    res.update(shots=args.shots, size=args.size, frames_per_clip=frames, mode=args.mode,
               per_shot_s=res["wall_s"] / args.shots, code=args.code)
    print(json.dumps(res, indent=2))
    cpu = (res["cpu_self_s"] + res["cpu_children_s"]) / args.shots
    print(f"CPU per shot {cpu:.3f} s (python {res['cpu_self_s'] / args.shots:.3f} s, ffmpeg "
          f"{res['cpu_children_s'] / args.shots:.3f} s)")
    print(f"per shot {res['per_shot_s']:.3f} s (goal < 0.2 s at 480p on 2 cores): "
          f"{'PASS' if res['per_shot_s'] < 0.2 else 'FAIL'}")
    print(f"peak RSS growth {res['rss_growth_mb']:.1f} MB for {args.shots} shots "
          f"({res['rss_growth_mb'] / args.shots:.2f} MB/shot)")


if __name__ == "__main__":
    main()
