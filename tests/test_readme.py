"""README.md as a user reads it: its links lead to files inside the repository, and its library
example runs verbatim (from a working directory holding a copy of ``storyboards/``, as the repo
root does)."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_links_point_inside_the_repository():
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README)
    local = [t for t in targets if not re.match(r"[a-z]+://", t)]
    assert local, "README links to nothing local"
    for t in local:
        path = (ROOT / t).resolve()
        assert path.is_relative_to(ROOT), f"{t} points outside the repository"
        assert path.exists(), f"{t} does not exist"
    assert "../shared" not in README


def test_library_example_runs_verbatim(tmp_path):
    section = README.split("## Library use", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    shutil.copytree(ROOT / "storyboards", tmp_path / "storyboards",
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in __import__("os").environ.items()
           if k not in ("ARK_API_KEY", "FAL_KEY", "REPLICATE_API_TOKEN")}
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip().splitlines()[-1] == "True", run.stdout
    film = tmp_path / "renders" / "library-demo" / "lake-morning.mp4"
    assert film.is_file() and (tmp_path / "renders" / "library-demo" / "again.mp4").is_file()
