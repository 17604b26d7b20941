"""Helpers for the soak and secrets tests: `chainer render` as a real subprocess whose progress
lines can be waited on (to kill -9 it at a chosen moment), frame hashes of a decoded video, and a
storyboard generator. Storyboard writing and emulator stats come from render_util."""
from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from render_util import MODEL, write_storyboard

REPO = Path(__file__).resolve().parent.parent

PROMPTS = [
    "Aerial shot of a mountain lake at sunrise, slow dolly forward",
    "The camera glides low over the water, pan left",
    "The camera rises toward a wooden cabin, crane up",
    "A heron takes off from the reeds, tracking shot",
    "Inside the cabin, warm firelight, slow push in",
    "A cat sleeps by the fire, static camera",
    "Snow falls past the window at night, pan right",
    "The fire burns low, embers glow, pull back",
    "A city street at dusk, neon signs flicker, dolly forward",
    "A desert dune under a golden sunset, orbit left",
]


def chained_storyboard(path: Path, shots: int, sequences: int, *, frames: int | None = 29,
                       duration: int = 2, seed: int = 7, model: str = MODEL) -> Path:
    """``shots`` shots split as evenly as possible into ``sequences`` chained sequences (480p,
    16:9, fixed seed so the emulator renders the same pixels every time)."""
    per = [shots // sequences + (1 if k < shots % sequences else 0) for k in range(sequences)]
    items, n = [], 0
    for k, count in enumerate(per):
        for j in range(count):
            shot = {"id": f"q{k}s{j}", "prompt": PROMPTS[n % len(PROMPTS)] + f" (take {n})"}
            if j == 0 and k > 0:
                shot["cut"] = True
            items.append(shot)
            n += 1
    defaults = {"resolution": "480p", "ratio": "16:9", "seed": seed}
    if frames is not None:
        defaults["frames"] = frames
    else:
        defaults["duration"] = duration
    return write_storyboard(path, items, model=model, defaults=defaults,
                            pricing={model: 10.0}, title=f"{shots} shots in {sequences} sequences")


def frame_hashes(video: Path) -> list[str]:
    """sha1 of every decoded frame (rgb24), in presentation order."""
    from chainer.media.ffmpeg import decode_frames
    from chainer.media.probe import probe

    v = probe(video).video
    return [hashlib.sha1(f.tobytes()).hexdigest() for f in decode_frames(video, v.width, v.height)]


def cli_env(api_key: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("ARK_API_KEY", "ARK_BASE_URL")}
    if api_key is not None:
        env["ARK_API_KEY"] = api_key
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def chainer_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "chainer", *args]


class RenderProcess:
    """``python -m chainer render`` against ``base_url`` (``--provider ark``, plain progress,
    fast polling). Its stderr is read by a thread; :meth:`wait_for` blocks until a line matches."""

    def __init__(self, storyboard: Path, run_dir: Path, base_url: str, api_key: str,
                 *extra: str, poll_interval: float = 0.05):
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            chainer_cmd("render", str(storyboard), "-o", str(run_dir), "--provider", "ark",
                        "--base-url", base_url, "--yes", "--progress", "plain",
                        "--poll-interval", str(poll_interval), *extra),
            env=cli_env(api_key), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd=str(run_dir.parent))
        self.lines: list[str] = []
        self.stdout = ""
        self._cond = threading.Condition()
        self._eof = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._out_reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._out_reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def _read_stdout(self) -> None:
        self.stdout = self.proc.stdout.read()

    def wait_for(self, pattern: str, timeout: float = 60.0) -> str | None:
        """The first stderr line matching ``pattern``; None if the process ended first."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for line in self.lines[seen:]:
                    if rx.search(line):
                        return line
                seen = len(self.lines)
                if self._eof:
                    return None
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no line matching {pattern!r} within {timeout}s:\n"
                                         + "\n".join(self.lines[-20:]))
                self._cond.wait(left)

    def kill(self) -> None:
        """SIGKILL: no cleanup handler runs, exactly like a power cut of the renderer."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.finish(timeout=30)

    def finish(self, timeout: float = 120.0) -> int:
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("renderer did not finish in time:\n" + "\n".join(self.lines[-30:]))
        self._reader.join(10)
        self._out_reader.join(10)
        return rc

    @property
    def stderr(self) -> str:
        return "\n".join(self.lines)


def run_cli(*args: str, api_key: str | None = None, timeout: float = 120.0,
            cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(chainer_cmd(*args), env=cli_env(api_key), capture_output=True, text=True,
                          timeout=timeout, cwd=str(cwd) if cwd else None)


def stray_files(run_dir: Path) -> list[str]:
    """Temporary files a finished run should not leave behind (.part downloads, partial outputs)."""
    return sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*")
                  if p.is_file() and (".part" in p.name or ".partial" in p.name))
