"""The CLI error boundary: user errors are one line with exit 2; a bug is one line plus a saved
traceback, never a Python traceback on screen, and never the API key."""
from pathlib import Path

from click.testing import CliRunner

from chainer.cli import main as cli_main
from chainer.errors import InputError


def _group_with(fn):
    @cli_main.cli.command("boom-test")
    def boom():
        fn()
    return boom


def test_internal_error_is_one_line_with_a_saved_redacted_traceback(monkeypatch):
    monkeypatch.setenv("ARK_API_KEY", "sk-SECRET-abcdef123456")
    monkeypatch.delenv("CHAINER_DEBUG", raising=False)

    def fail():
        raise RuntimeError("exploded near sk-SECRET-abcdef123456")

    _group_with(fail)
    try:
        r = CliRunner().invoke(cli_main.cli, ["boom-test"])
    finally:
        cli_main.cli.commands.pop("boom-test", None)
    assert r.exit_code == 1
    lines = [l for l in r.output.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("chainer: internal error: RuntimeError")
    assert "Traceback" not in r.output and "sk-SECRET" not in r.output
    saved = Path(lines[0].split("traceback saved to ")[1].split(";")[0])
    text = saved.read_text()
    assert "Traceback" in text and "RuntimeError" in text and "sk-SECRET" not in text
    saved.unlink()


def test_user_error_exit_code_2_single_line():
    def fail():
        raise InputError("demo.yaml: output.file: must be a relative path inside the run directory")

    _group_with(fail)
    try:
        r = CliRunner().invoke(cli_main.cli, ["boom-test"])
    finally:
        cli_main.cli.commands.pop("boom-test", None)
    assert r.exit_code == 2
    assert r.output.strip().splitlines() == [
        "error: demo.yaml: output.file: must be a relative path inside the run directory"]


def test_unknown_command_is_a_usage_error():
    r = CliRunner().invoke(cli_main.cli, ["no-such-command"])
    assert r.exit_code == 2 and "No such command" in r.output
