#!/usr/bin/env python3
"""Orchestration benchmark: how close `chainer render` gets to the critical path.

The provider is the loopback emulator with a fixed latency L per task (L large relative to the
emulator's CPU render time, so wall time is dominated by L, as with Ark). For a storyboard of S
shots in K chained sequences, the critical path is the longest sequence: ceil(S/K) tasks that
cannot overlap, i.e. ceil(S/K) * L seconds. The renderer runs as a real subprocess
(`python -m chainer render --provider ark --base-url <emulator>`), as a user would run it.

Printed and written to bench/results/orchestration.json, per K:

- render / critical path: first submit -> last download (from summary.json), over ceil(S/K)*L.
  Assembly is excluded (timed separately). Goal <= 1.05.
- K-speedup: render time with K sequences over K=1. Goal: close to 1/K up to --concurrency.
- GET requests per task (emulator stats), plus lists and downloads per task.
- peak memory: the renderer's peak RSS (VmHWM sampled from /proc), and the peak of its whole
  process tree including ffmpeg children (wait4 rusage).

Also written: when the provider-default Ark poll schedule (`PollPolicy.for_provider("ark")`)
notices a task that lasts L, for a few realistic Ark latencies, with and without the plan's expected
time (analytic, no run), since the benchmark itself polls at a fixed L/60.

    python bench/orchestration.py                 # S=24, K=1 and 4, L=3 s  (~2.5 min)
    python bench/orchestration.py --quick         # S=8,  K=1 and 4, L=2 s  (~40 s)
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODEL = "doubao-seedance-1-0-pro-fast-251015"
PROMPTS = [
    "Aerial shot of a mountain lake at sunrise, slow dolly forward",
    "The camera glides low over the water, pan left",
    "The camera rises toward a wooden cabin, crane up",
    "Inside the cabin, warm firelight, slow push in",
    "A cat sleeps by the fire, static camera",
    "Snow falls past the window at night, pan right",
    "A city street at dusk, neon signs flicker, dolly forward",
    "A desert dune under a golden sunset, orbit left",
]
FAKE_KEY = "sk-bench-not-a-real-key"


def write_storyboard(path: Path, shots: int, sequences: int, duration: int) -> Path:
    import yaml

    per = [shots // sequences + (1 if k < shots % sequences else 0) for k in range(sequences)]
    items, n = [], 0
    for k, count in enumerate(per):
        for j in range(count):
            shot = {"id": f"q{k}s{j:02d}", "prompt": f"{PROMPTS[n % len(PROMPTS)]} (take {n})"}
            if j == 0 and k > 0:
                shot["cut"] = True
            items.append(shot)
            n += 1
    doc = {"title": f"bench {shots} shots in {sequences} sequences", "model": MODEL,
           "defaults": {"resolution": "480p", "ratio": "16:9", "duration": duration, "seed": 7},
           "pricing": {MODEL: 10.0}, "output": {"file": "out.mp4"}, "shots": items}
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


class RssSampler(threading.Thread):
    """Peak resident memory of one process, from /proc/PID/status (VmHWM, else max VmRSS)."""

    def __init__(self, pid: int, interval: float = 0.05):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_kb = 0
        self.done = threading.Event()

    def run(self) -> None:
        path = f"/proc/{self.pid}/status"
        while not self.done.is_set():
            try:
                with open(path) as fh:
                    for line in fh:
                        if line.startswith(("VmHWM:", "VmRSS:")):
                            self.peak_kb = max(self.peak_kb, int(line.split()[1]))
            except (OSError, ValueError):
                return
            self.done.wait(self.interval)


def run_renderer(sb: Path, run_dir: Path, base_url: str, concurrency: int,
                 poll_interval: float) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("ARK_API_KEY", "ARK_BASE_URL")}
    env["ARK_API_KEY"] = FAKE_KEY
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "chainer", "render", str(sb), "-o", str(run_dir), "--provider",
           "ark", "--base-url", base_url, "--yes", "--progress", "off", "--concurrency",
           str(concurrency), "--poll-interval", str(poll_interval)]
    t0 = time.monotonic()
    epoch0 = time.time()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sampler = RssSampler(proc.pid)
    sampler.start()
    out = {}

    def drain(stream, key):
        out[key] = stream.read().decode("utf-8", "replace")

    readers = [threading.Thread(target=drain, args=(proc.stdout, "stdout"), daemon=True),
               threading.Thread(target=drain, args=(proc.stderr, "stderr"), daemon=True)]
    for t in readers:
        t.start()
    _, status, rusage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    sampler.done.set()
    sampler.join()
    for t in readers:
        t.join()
    if proc.returncode != 0:
        raise SystemExit(f"render failed (exit {proc.returncode}):\n{out.get('stderr', '')[-3000:]}")
    return {"wall": wall, "start_epoch": epoch0, "end_epoch": epoch0 + wall,
            "renderer_peak_kb": sampler.peak_kb,
            "tree_peak_kb": rusage.ru_maxrss, "cpu_user": rusage.ru_utime,
            "cpu_sys": rusage.ru_stime}


def measure(k: int, args, base: Path, emu) -> dict:
    sb = write_storyboard(base / f"sb-k{k}.yaml", args.shots, k, args.duration)
    run_dir = base / f"run-k{k}"
    before = emu.stats()
    proc = run_renderer(sb, run_dir, emu.base_url, args.concurrency, args.poll_interval)
    after = emu.stats()
    summary = json.loads((run_dir / "summary.json").read_text())
    shots = summary["shots"]
    assert all(s["status"] == "succeeded" for s in shots), "not every shot succeeded"
    submitted = min(s["timings"]["submitted_at"] for s in shots)
    downloaded = max(s["timings"]["downloaded_at"] for s in shots)
    render_s = downloaded - submitted
    chain = max(sum(1 for s in shots if s["sequence"] == q) for q in {s["sequence"] for s in shots})
    critical = chain * args.latency
    # The provider's own time per task (submit -> the emulator marks it finished): L, or more when
    # the emulator's CPU render of a clip overruns L. Along the longest sequence this is the
    # critical path the renderer could not beat; the rest of the render time is orchestration
    # (poll detection, downloads, the next submit).
    actual = None
    finished = {}
    for s in shots:
        t = emu._store.task_snapshot(s["task_id"]) if getattr(emu, "_store", None) else None
        if t is not None and t.finished_at is not None:
            finished[s["id"]] = t.finished_at
    if len(finished) == len(shots):
        per_seq: dict[int, float] = {}
        for s in shots:
            per_seq[s["sequence"]] = per_seq.get(s["sequence"], 0.0) + (
                finished[s["id"]] - s["timings"]["submitted_at"])
        actual = max(per_seq.values())
    tasks = after["tasks_created"] - before["tasks_created"]
    # where the per-step overhead goes, averaged over shots: provider finished -> renderer saw it
    # (poll detection), saw it -> last frame downloaded and verified (what the next shot waits
    # for), last frame -> the next shot of the sequence submitted. The clip's own download and
    # decode check run on a pool off the chain; they are reported, not counted in the step.
    detect, frame, handoff, clip = [], [], [], []
    by_id = {s["id"]: s for s in shots}
    for s in shots:
        tm = s["timings"]
        seen = tm["submitted_at"] + tm["succeeded"]
        if s["id"] in finished:
            detect.append(seen - finished[s["id"]])
        if tm.get("frame_at"):
            frame.append(tm["frame_at"] - seen)
        clip.append(tm["downloaded_at"] - seen)
    for s in shots:
        prev = by_id.get(s.get("chained_from") or "")
        if prev is not None and prev["timings"].get("frame_at"):
            handoff.append(s["timings"]["submitted_at"] - prev["timings"]["frame_at"])
    mean = lambda xs: round(sum(xs) / len(xs), 3) if xs else None  # noqa: E731
    stitch = (summary.get("stitch") or {}).get("timings", {}).get("total")
    # per-step overhead on the critical path: how late each chained step starts after L
    return {
        "sequences": k, "shots": len(shots), "chain": chain, "tasks": tasks,
        "critical_path_s": round(critical, 3), "render_s": round(render_s, 3),
        "render_over_critical": round(render_s / critical, 4),
        "provider_critical_path_s": round(actual, 3) if actual else None,
        "render_over_provider_critical": round(render_s / actual, 4) if actual else None,
        "overhead_per_step_s": round((render_s - (actual or critical)) / chain, 3),
        "step_detect_s": mean(detect), "step_frame_s": mean(frame),
        "step_handoff_s": mean(handoff), "clip_download_verify_s": mean(clip),
        "assembly_s": stitch, "process_wall_s": round(proc["wall"], 3),
        # process start -> first submit (imports, validation, plan, journal), and last download ->
        # exit minus the stitch itself (drift measure, summary, review outputs)
        "startup_s": round(submitted - proc["start_epoch"], 3),
        "after_render_s": round(proc["end_epoch"] - downloaded - (stitch or 0.0), 3),
        "gets_per_task": round((after["gets"] - before["gets"]) / tasks, 2),
        "lists_per_task": round((after["lists"] - before["lists"]) / tasks, 2),
        "downloads_per_task": round((after["downloads"] - before["downloads"]) / tasks, 2),
        "renderer_peak_rss_mb": round(proc["renderer_peak_kb"] / 1024, 1),
        "tree_peak_rss_mb": round(proc["tree_peak_kb"] / 1024, 1),
        "renderer_cpu_s": round(proc["cpu_user"] + proc["cpu_sys"], 2),
    }


def default_poll_overhead(latencies=(30.0, 60.0, 120.0, 300.0)) -> dict:
    """When the provider-default Ark poll schedule sees a task lasting L: without an expected
    time, and when the plan's expected time is right (a poll is aimed at it)."""
    from chainer.run.orchestrator import PollPolicy

    pol = PollPolicy.for_provider("ark")
    out = {}
    for lat in latencies:
        blind, gets = pol.detected_at(lat)
        aimed, gets_aimed = pol.detected_at(lat, expected=lat)
        out[f"{lat:g}"] = {"detected_at_s": round(blind, 2), "ratio": round(blind / lat, 3),
                           "gets": gets, "with_expected_s": round(aimed, 2),
                           "gets_with_expected": gets_aimed}
    return {"schedule": {"initial": pol.initial, "floor": pol.floor, "fraction": pol.fraction,
                         "cap": pol.cap}, "by_latency": out}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shots", type=int, default=24, help="shots S (default 24)")
    ap.add_argument("--sequences", default="1,4", help="comma-separated K values (default 1,4)")
    ap.add_argument("--latency", type=float, default=3.0, help="emulator seconds per task L")
    ap.add_argument("--duration", type=int, default=2, help="clip seconds (1.0 models: 2..12)")
    ap.add_argument("--concurrency", type=int, default=4, help="render --concurrency")
    ap.add_argument("--poll-interval", type=float, default=None,
                    help="render --poll-interval, a fixed interval (default L/60, so a finished "
                         "task is seen at most L/60 late)")
    ap.add_argument("--quick", action="store_true", help="S=8, L=2 s")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "orchestration.json")
    args = ap.parse_args(argv)
    if args.quick:
        args.shots, args.latency = 8, 2.0
    if args.poll_interval is None:
        args.poll_interval = round(args.latency / 60, 4)
    ks = [int(x) for x in args.sequences.split(",") if x.strip()]

    from chainer.emulator import Emulator, EmulatorConfig

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    results = []
    with tempfile.TemporaryDirectory(prefix="chainer-bench-orch-") as tmp, \
            Emulator(EmulatorConfig(latency=args.latency, concurrency=max(8, max(ks)),
                                   x264_preset="ultrafast")) as emu:
        for k in ks:
            print(f"K={k}: {args.shots} shots, L={args.latency:g} s ...", file=sys.stderr, flush=True)
            results.append(measure(k, args, Path(tmp), emu))
    base = next((r for r in results if r["sequences"] == 1), None)
    for r in results:
        r["render_over_k1"] = round(r["render_s"] / base["render_s"], 4) if base else None
        r["ideal_over_k1"] = round(r["chain"] / base["chain"], 4) if base else None
    doc = {
        "benchmark": "orchestration",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count(), "load_avg_1m_at_start": load},
        "params": {"shots": args.shots, "sequences": ks, "latency_s": args.latency,
                   "clip": f"{MODEL} {args.duration} s 480p", "concurrency": args.concurrency,
                   "poll_interval_s": args.poll_interval},
        "goals": {"render_over_critical": "<= 1.05", "render_over_k1": "~1/K up to concurrency"},
        "results": results,
        "default_poll_schedule": default_poll_overhead(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")

    print(f"orchestration: S={args.shots}, L={args.latency:g} s, poll {args.poll_interval:g} s, "
          f"--concurrency {args.concurrency}, {os.cpu_count()} CPUs")
    head = (f"{'K':>2} {'chain':>5} {'crit s':>7} {'render s':>8} {'/crit':>6} {'/prov':>6} {'/K=1':>6} "
            f"{'ideal':>6} {'asm s':>6} {'wall s':>7} {'GET/task':>8} {'RSS MB':>7} {'tree MB':>7}")
    print(head)
    for r in results:
        print(f"{r['sequences']:>2} {r['chain']:>5} {r['critical_path_s']:>7.1f} {r['render_s']:>8.2f} "
              f"{r['render_over_critical']:>6.3f} {r['render_over_provider_critical'] or 0:>6.3f} "
              f"{r['render_over_k1'] or 0:>6.3f} "
              f"{r['ideal_over_k1'] or 0:>6.3f} {r['assembly_s'] or 0:>6.2f} {r['process_wall_s']:>7.2f} "
              f"{r['gets_per_task']:>8.1f} {r['renderer_peak_rss_mb']:>7.1f} {r['tree_peak_rss_mb']:>7.1f}")
    for r in results:
        print(f"K={r['sequences']}: per step {r['overhead_per_step_s']:.3f} s over the provider: poll "
              f"detection {r['step_detect_s']} s, last frame fetched+verified {r['step_frame_s']} s, "
              f"hand-off to the next submit {r['step_handoff_s']} s (clip download+verify "
              f"{r['clip_download_verify_s']} s, off the chain); outside the render: start-up "
              f"{r['startup_s']} s, assembly {r['assembly_s']} s, after it {r['after_render_s']} s")
    dp = doc["default_poll_schedule"]["by_latency"]
    print("default Ark poll schedule, task latency -> seen at (ratio; with the plan's expected time): "
          + ", ".join(f"{k} s -> {v['detected_at_s']:g} s ({v['ratio']:.2f}; {v['with_expected_s']:g} s)"
                      for k, v in dp.items()))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
