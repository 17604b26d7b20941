"""Helpers for storyboard / plan / validate tests: write storyboards and images into tmp dirs."""
from __future__ import annotations

import textwrap
from pathlib import Path

from click.testing import CliRunner
from PIL import Image

from chainer.errors import ValidationError
from chainer.storyboard import load_storyboard

# model ids the storyboard and plan tests use
V2 = "doubao-seedance-2-0-260128"
V2F = "doubao-seedance-2-0-fast-260128"
PRO = "doubao-seedance-1-0-pro-250528"
PROFAST = "doubao-seedance-1-0-pro-fast-251015"
LITE_T2V = "doubao-seedance-1-0-lite-t2v-250428"
LITE_I2V = "doubao-seedance-1-0-lite-i2v-250428"
P15 = "doubao-seedance-1-5-pro-251215"
MINI = "doubao-seedance-2-0-mini-260615"
V25 = "doubao-seedance-2-5-260628"

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "storyboards"
FIXTURES = Path(__file__).resolve().parent / "data" / "storyboards"


def write(directory: Path, text: str, name: str = "sb.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def make_image(path: Path, width: int = 640, height: int = 360, fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), (90, 140, 200)).save(path, format=fmt)
    return path


def problems(path: Path) -> list[str]:
    """Problem lines with the file name replaced by ``F`` (empty list when valid)."""
    try:
        load_storyboard(path)
    except ValidationError as exc:
        return [str(p).replace(str(path), "F", 1) for p in exc.problems]
    return []


def cli(*args: str):
    from chainer.cli.main import cli as group

    return CliRunner().invoke(group, list(args), catch_exceptions=False)
