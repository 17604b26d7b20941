"""Driving the CLI as users do: in-process `chainer ...` from a chosen working directory."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from click.testing import CliRunner

from chainer.cli.main import cli


@contextmanager
def cwd(path: Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def chainer(*args: str):
    """Run `chainer ARGS...` (in-process); returns click's Result (exit_code, output)."""
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
