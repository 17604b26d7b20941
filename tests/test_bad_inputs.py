"""The bad-input corpus (tests/data/bad/): every broken storyboard or medium is refused before
anything is submitted.

Each ``*.yaml`` in the corpus states what it breaks in its first comment line and, on a
``# expect: TEXT`` line, the field (or ``:LINE:`` location) its problem line must name; ``# lines: N``
when it has more than one problem. For every file:

- ``chainer render FILE --yes --provider ark --base-url <emulator>`` (fake key) exits 2, prints
  one line per problem on stderr, each starting with the file name and naming the field, no
  traceback; the emulator sees no request at all and no run directory is created;
- ``chainer validate FILE`` exits 2 with the same lines.

Big media (a 6001 px wide PNG, a 31 MB BMP) are generated at test time into a copy of the corpus,
so the repository holds only small files.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from chainer.emulator import Emulator, EmulatorConfig

CORPUS = Path(__file__).resolve().parent / "data" / "bad"
CASES = sorted(p.name for p in CORPUS.glob("*.yaml"))
FAKE_KEY = "sk-BADINPUT-0000000000"


def _header(name: str) -> tuple[str, int]:
    text = (CORPUS / name).read_bytes().decode("utf-8", "replace")
    expect = re.search(r"^# expect: (.+)$", text, re.M)
    lines = re.search(r"^# lines: (\d+)$", text, re.M)
    assert expect, f"{name}: corpus files need an '# expect: FIELD' line"
    return expect.group(1).strip(), int(lines.group(1)) if lines else 1


def make_big_media(directory: Path) -> None:
    """What the corpus calls generated/: too wide (6001 px) and too big (31 MB) images."""
    gen = directory / "generated"
    gen.mkdir(exist_ok=True)
    Image.new("RGB", (6001, 3000), (90, 140, 200)).save(gen / "wide-6001.png")
    Image.new("RGB", (3300, 3300), (90, 140, 200)).save(gen / "huge-31mb.bmp")   # 32.7e6 bytes
    assert (gen / "huge-31mb.bmp").stat().st_size > 31 * 1024 * 1024


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("bad") / "bad"
    shutil.copytree(CORPUS, d)
    make_big_media(d)
    return d


@pytest.fixture(scope="module")
def emu():
    with Emulator(EmulatorConfig(latency=0.1)) as e:
        yield e


def _invoke(args: list[str], cwd: Path, env: dict | None = None):
    from chainer.cli.main import cli

    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(cli, args, env=env)
    finally:
        os.chdir(old)


def _check_lines(stderr: str, name: str, expect: str, n_lines: int) -> None:
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == n_lines, stderr
    for line in lines:
        # FILE:LINE:COL: path: message, or "error: FILE: message" for an unreadable file
        assert line.startswith(name + ":") or line.startswith(f"error: {name}:"), line
        assert len(line) < 600, line
    assert any(expect in line for line in lines), f"no line names {expect!r}:\n{stderr}"


def test_corpus_is_big_enough():
    assert len(CASES) >= 30
    for name in CASES:
        _header(name)


@pytest.mark.parametrize("name", CASES)
def test_render_refuses_before_any_request(name, corpus, emu, tmp_path):
    expect, n_lines = _header(name)
    before = emu.stats()
    run_dir = tmp_path / "run"
    res = _invoke(["render", name, "--yes", "--provider", "ark", "--base-url", emu.base_url,
                   "-o", str(run_dir), "--progress", "plain"], corpus,
                  env={"ARK_API_KEY": FAKE_KEY, "ARK_BASE_URL": None})
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert res.exit_code == 2, (res.stdout, res.stderr)
    _check_lines(res.stderr, name, expect, n_lines)
    assert res.stdout == ""
    after = emu.stats()
    assert after["tasks_created"] == before["tasks_created"]
    assert after["requests"] == before["requests"], "a bad storyboard reached the network"
    assert not run_dir.exists(), "a run directory was created for a bad storyboard"


@pytest.mark.parametrize("name", CASES)
def test_validate_refuses(name, corpus):
    expect, n_lines = _header(name)
    res = _invoke(["validate", name], corpus)
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert res.exit_code == 2, (res.stdout, res.stderr)
    _check_lines(res.stderr, name, expect, n_lines)


def test_real_process_prints_no_traceback(corpus, emu):
    """Three cases through a real `python -m chainer render` (the CLI runner above shares the
    interpreter; this checks what a user's terminal shows)."""
    env = {**os.environ, "ARK_API_KEY": FAKE_KEY, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    env.pop("ARK_BASE_URL", None)
    before = emu.stats()["requests"]
    for name in ("yaml-tab-indent.yaml", "image-too-big.yaml", "output-etc-passwd.yaml"):
        p = subprocess.run([sys.executable, "-m", "chainer", "render", name, "--yes", "--provider",
                            "ark", "--base-url", emu.base_url, "-o", str(corpus / "never")],
                           cwd=corpus, env=env, capture_output=True, text=True, timeout=60)
        expect, n = _header(name)
        assert p.returncode == 2, p.stderr
        _check_lines(p.stderr, name, expect, n)
        assert FAKE_KEY not in p.stdout + p.stderr
    assert emu.stats()["requests"] == before
    assert not (corpus / "never").exists()
