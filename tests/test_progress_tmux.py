"""A 30-shot emulator render watched in a real 80x24 terminal (tmux): at every captured moment the
summary line is on screen, no line is wider than the terminal, and every active shot is shown
(the number of active rows equals the running + queued counts of the summary)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from render_util import write_storyboard

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]

# states a shot's row shows while its task is with the provider or its files are coming down
ACTIVE = ("submitting", "submitted", "queued", "running", "succeeded", "downloading", "checking",
          "adopted", "retrying")
SUMMARY = re.compile(r"^(\d+)/30 done · (\d+) run(?:ning)? · (\d+) q(?:ueued)? ")


def _tmux(sock, *args, check=True):
    return subprocess.run(["tmux", "-L", sock, *args], capture_output=True, text=True, check=check)


def test_thirty_shot_render_followable_at_80x24(tmp_path):
    shots = [{"id": f"s{i + 1:02d}", "prompt": f"Shot {i + 1}: the camera drifts over a lake",
              **({"cut": True} if i % 5 == 0 and i else {})} for i in range(30)]
    sb = write_storyboard(tmp_path / "sb.yaml", shots)
    repo = Path(__file__).resolve().parent.parent
    done_flag = tmp_path / "exit-code"
    cmd = (f"cd {tmp_path} && env PYTHONPATH={repo} LANG=C.UTF-8 {sys.executable} -m chainer render "
           f"{sb.name} -o run --provider emulator --emulator-latency 1.0 --concurrency 3 --yes "
           f"--progress rich --poll-interval 0.2; echo $? > {done_flag}")
    sock = f"chainer-test-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if k != "TMUX"}
    subprocess.run(["tmux", "-L", sock, "-u", "new-session", "-d", "-x", "80", "-y", "24", "-s", "r",
                    cmd], check=True, env=env)
    screens = []
    try:
        _tmux(sock, "set-option", "-t", "r", "remain-on-exit", "on", check=False)
        deadline = time.monotonic() + 900
        while not done_flag.exists() and time.monotonic() < deadline:
            cap = _tmux(sock, "capture-pane", "-p", "-t", "r", check=False)
            if cap.returncode == 0:
                screens.append(cap.stdout)
            time.sleep(0.25)
        assert done_flag.exists(), "render did not finish"
        assert done_flag.read_text().strip() == "0", screens[-1]
    finally:
        _tmux(sock, "kill-server", check=False)
    live = [s for s in screens if any(SUMMARY.match(ln) for ln in s.splitlines())]
    assert len(live) >= 10, screens[-1]
    saw_active = 0
    for screen in live:
        lines = screen.rstrip("\n").split("\n")
        assert len(lines) <= 24 and all(len(ln) <= 80 for ln in lines)
        heads = [m for m in map(SUMMARY.match, lines) if m]
        assert len(heads) == 1, screen                    # the summary line, once, unwrapped
        _, running, queued = (int(g) for g in heads[0].groups())
        rows = [ln for ln in lines if re.match(r"^\s*\d+ s\d\d ", ln)]
        active_rows = [ln for ln in rows if ln.split()[2] in ACTIVE]
        assert len(active_rows) == running + queued, screen
        saw_active = max(saw_active, len(active_rows))
    assert saw_active >= 2                                # parallel sequences were on screen
    assert any(SUMMARY.match(ln) and ln.startswith("30/30 done") for s in live
               for ln in s.splitlines())
