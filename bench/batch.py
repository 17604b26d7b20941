#!/usr/bin/env python3
"""Batch benchmark: films per hour and account utilisation, 1 vs 3 workers, and the scale model.

Measured (against the loopback emulator, latency-bound: every task stays running at least L
seconds, the account runs at most LIMIT tasks per model, more wait queued):

- ``cluster local:1``  one Dask worker process, one film at a time (the baseline)
- ``cluster local:3``  three worker processes, three films at a time
- ``threads``          the local batch (no Dask), ``films_at_once = 2 x LIMIT``

For each: films per hour (films / wall time, cluster start-up excluded), account utilisation
(time-averaged running tasks / LIMIT, from the emulator's running task-seconds), the peak of
queued + running tasks (must stay <= LIMIT: the limiter), creates per shot (must be 1). Ratios are
printed against the baseline measured in the same run.

Then the same configurations are *simulated* with the emulator's latency model (a discrete-event
model: tasks run L s, at most LIMIT per account and model, films' sequences chained, a fixed
per-film CPU tail measured above), to check the model against the measurement, and the model is
run at production scale (Ark's limits and latencies) for docs/scale.md.

    python bench/batch.py             # 6 films x 2 shots, L=3 s, LIMIT=4   (~3 min)
    python bench/batch.py --quick     # 3 films x 2 shots, L=2 s            (~1.5 min)
    python bench/batch.py --simulate-only
Writes bench/results/batch.json.
"""
from __future__ import annotations

import argparse
import heapq
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODEL = "doubao-seedance-1-0-pro-fast-251015"
KEY = "sk-bench-not-a-real-key"


def write_films(d: Path, films: int, shots: int) -> list[Path]:
    import yaml

    out = []
    for i in range(films):
        doc = {"title": f"bench film {i}", "model": MODEL,
               "defaults": {"resolution": "480p", "ratio": "16:9", "duration": 2, "seed": 7},
               "pricing": {MODEL: 10.0}, "output": {"file": "out.mp4"},
               "shots": [{"id": f"s{k}", "prompt": f"film {i}, shot {k}: a lake at dawn, pan left"}
                         for k in range(shots)]}
        p = d / f"film{i:03d}.yaml"
        p.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        out.append(p)
    return out


def measure(mode: str, films: int, shots: int, latency: float, limit: int) -> dict:
    from chainer.batch import run_batch
    from chainer.emulator import Emulator, EmulatorConfig
    from chainer.run.orchestrator import PollPolicy

    os.environ["ARK_API_KEY"] = KEY       # cluster workers read it from their environment
    with tempfile.TemporaryDirectory(prefix="chainer-bench-batch-") as tmp:
        d = Path(tmp)
        sbs = write_films(d, films, shots)
        cfg = EmulatorConfig(latency=latency, concurrency=limit, x264_preset="ultrafast")
        with Emulator(cfg) as emu:
            mark: dict = {}

            def up(_client):
                mark["t0"] = time.monotonic()
                mark["s0"] = emu.stats()["limits"]

            kwargs = {}
            if mode == "threads":
                kwargs["films_at_once"] = 2 * limit
                up(None)
            else:
                kwargs["cluster"] = mode
                kwargs["on_cluster"] = up
            res = run_batch(sbs, out_dir=d / "out", provider="ark", base_url=emu.base_url,
                            concurrency_per_model=limit, yes=True,
                            render_options={"poll": PollPolicy.fast(0.25)}, **kwargs)
            wall = time.monotonic() - mark["t0"]
            st = emu.stats()
        lim = st["limits"]
        busy = (lim["running_task_seconds_by_model"].get(MODEL, 0.0)
                - mark["s0"]["running_task_seconds_by_model"].get(MODEL, 0.0))
        per_film = [f.seconds for f in res.films]
        return {"mode": mode, "films": films, "shots_per_film": shots, "latency": latency,
                "limit": limit, "ok": res.ok, "wall_seconds": round(wall, 2),
                "films_per_hour": round(films / wall * 3600, 1),
                "utilisation": round(busy / (wall * limit), 3),
                "peak_active": lim["peak_active_by_model"].get(MODEL, 0),
                "peak_running": lim["peak_running_by_model"].get(MODEL, 0),
                "creates_per_shot": st["tasks_created"] / (films * shots),
                "film_seconds_mean": round(sum(per_film) / len(per_film), 2),
                "load_after": [round(x, 1) for x in os.getloadavg()]}


# ---- the model -------------------------------------------------------------------------------

def simulate(*, films: int, shots: int, sequences: int = 1, latency: float, limit: int,
             films_at_once: int, tail: float, accounts: int = 1, rpm: int | None = None,
             create_gap: float = 0.0) -> dict:
    """Discrete-event model of a batch against the emulator's latency model.

    Every film has ``sequences`` chains of ``shots/sequences`` tasks; a task holds one of its
    account's ``limit`` slots for ``latency`` s (+ ``create_gap``: the client's create and
    poll-detection overhead); a film then spends ``tail`` s on its worker (download, assembly,
    review). ``films_at_once`` films run at once (per account: the films of one account use its
    slots). Slots go to the waiting film holding the fewest (the limiter's fairness); at most
    ``rpm`` creates per account per minute. Returns films/hour and utilisation."""
    per = [shots // sequences + (1 if k < shots % sequences else 0) for k in range(sequences)]
    events: list = []          # (time, seq, kind, data)
    n = 0

    def push(t, kind, data):
        nonlocal n
        n += 1
        heapq.heappush(events, (t, n, kind, data))

    waiting = [[] for _ in range(accounts)]       # per account: [(film, chain)]
    held = [dict() for _ in range(accounts)]      # per account: film -> slots held
    creates = [[] for _ in range(accounts)]
    busy_area = [0.0] * accounts
    last = [0.0] * accounts
    running = [0] * accounts
    left = {}                                     # film -> chains still running
    chain_left = {}
    next_film = 0
    active = 0
    done_t = []

    def start_film(t):
        nonlocal next_film, active
        f = next_film
        next_film += 1
        active += 1
        acct = f % accounts
        left[f] = len(per)
        for c, k in enumerate(per):
            chain_left[(f, c)] = k
            waiting[acct].append((f, c))
        grant(t, acct)

    def grant(t, acct):
        while waiting[acct] and running[acct] < limit:
            if rpm is not None:
                recent = [x for x in creates[acct] if x > t - 60.0]
                creates[acct] = recent
                if len(recent) >= rpm:
                    push(recent[0] + 60.0, "retry", acct)
                    return
            h = held[acct]
            i = min(range(len(waiting[acct])), key=lambda j: (h.get(waiting[acct][j][0], 0), j))
            f, c = waiting[acct].pop(i)
            busy_area[acct] += running[acct] * (t - last[acct])
            last[acct] = t
            running[acct] += 1
            h[f] = h.get(f, 0) + 1
            creates[acct].append(t)
            push(t + latency + create_gap, "task", (acct, f, c))

    for _ in range(min(films_at_once, films)):
        start_film(0.0)
    t = 0.0
    while events:
        t, _, kind, data = heapq.heappop(events)
        if kind == "retry":
            grant(t, data)
        elif kind == "task":
            acct, f, c = data
            busy_area[acct] += running[acct] * (t - last[acct])
            last[acct] = t
            running[acct] -= 1
            held[acct][f] -= 1
            chain_left[(f, c)] -= 1
            if chain_left[(f, c)]:
                waiting[acct].append((f, c))
            else:
                left[f] -= 1
                if not left[f]:
                    push(t + tail, "film", f)
            grant(t, acct)
        elif kind == "film":
            done_t.append(t)
            active -= 1
            if next_film < films:
                start_film(t)
    wall = max(done_t)
    return {"films": films, "wall_seconds": round(wall, 2),
            "films_per_hour": round(films / wall * 3600, 1),
            "films_per_day": round(films / wall * 86400),
            "utilisation": round(sum(busy_area) / (wall * limit * accounts), 3)}


def scale_scenarios() -> list[dict]:
    """Production figures for docs/scale.md: Ark's limits (10 running per model, 600 RPM) and
    its generation times (models.py: seconds of generation per output second)."""
    out = []
    # a "film": 12 shots of 5 s, 2 chained sequences; tail = download + assembly + review on a
    # worker (minutes at 1080p with colour matching: 180 s assumed, see docs/scale.md)
    for name, per_s in (("Seedance 1.0 pro-fast (8 s/s)", 8.0), ("Seedance 1.5 pro (30 s/s)", 30.0),
                        ("Seedance 2.0 (57 s/s)", 57.0)):
        latency = per_s * 5
        for accounts in (1, 4, 10):
            sim = simulate(films=300 * accounts, shots=12, sequences=2, latency=latency, limit=10,
                           films_at_once=20 * accounts, tail=180.0, accounts=accounts, rpm=600,
                           create_gap=2.0)
            out.append({"model": name, "task_seconds": latency, "accounts": accounts, **sim})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--simulate-only", action="store_true")
    ap.add_argument("--films", type=int, default=None)
    ap.add_argument("--latency", type=float, default=None)
    ap.add_argument("--limit", type=int, default=4)
    args = ap.parse_args()
    films = args.films or (3 if args.quick else 6)
    latency = args.latency or (2.0 if args.quick else 3.0)
    shots, limit = 2, args.limit
    results: dict = {"machine": {"cpus": os.cpu_count(), "load": os.getloadavg()}}
    if not args.simulate_only:
        rows = []
        for mode in ("local:1", "local:3", "threads"):
            r = measure(mode, films, shots, latency, limit)
            rows.append(r)
            print(json.dumps(r), flush=True)
        base = rows[0]
        print(f"\n{films} films x {shots} shots, task latency {latency}s, account limit {limit} "
              f"per model (baseline: {base['mode']})")
        print(f"{'mode':<9} {'films/h':>8} {'x base':>7} {'util':>6} {'x base':>7} {'peak':>5} "
              f"{'creates/shot':>13} {'model films/h':>14}")
        for r in rows:
            at_once = {"local:1": 1, "local:3": 3}.get(r["mode"], 2 * limit)
            # the per-film CPU tail, from the baseline: film time minus its chained tasks
            tail = max(0.0, base["film_seconds_mean"] - shots * latency)
            sim = simulate(films=films, shots=shots, latency=latency, limit=limit,
                           films_at_once=at_once, tail=tail)
            r["model"] = sim
            print(f"{r['mode']:<9} {r['films_per_hour']:>8.1f} "
                  f"{r['films_per_hour'] / base['films_per_hour']:>7.2f} {r['utilisation']:>6.2f} "
                  f"{r['utilisation'] / max(1e-9, base['utilisation']):>7.2f} {r['peak_active']:>5} "
                  f"{r['creates_per_shot']:>13.2f} {sim['films_per_hour']:>14.1f}")
        results["measured"] = rows
    results["scale"] = scale_scenarios()
    print("\nscale model (Ark limits: 10 running per model, 600 RPM; 12 x 5 s shots per film, "
          "2 sequences, 180 s CPU tail per film):")
    for s in results["scale"]:
        print(f"  {s['model']:<32} task {s['task_seconds']:>5.0f}s  accounts {s['accounts']:>2}: "
              f"{s['films_per_day']:>6} films/day, utilisation {s['utilisation']:.2f}")
    out = ROOT / "bench" / "results" / "batch.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
