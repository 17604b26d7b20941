"""The ``chainer`` command: a thin click group. Each command lives in its own module under
``chainer/cli/`` and only parses arguments and calls the library. Foreseeable errors
(:class:`chainer.errors.ChainerError`) are printed as one line each, without a traceback."""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys

import click

from ..errors import ChainerError

# command name -> module under chainer.cli exposing a click command named ``command``
COMMANDS = {
    "validate": "validate",
    "plan": "plan",
    "schema": "schema",
    "render": "render",
    "status": "status",
    "stitch": "stitch",
    "emulator": "emulator",
    "review": "review",
    "batch": "batch",
    "pick": "pick",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        lazy = {name for name, mod in COMMANDS.items() if _importable(mod)}
        return sorted(lazy | set(super().list_commands(ctx)))

    def get_command(self, ctx, name):
        mod = COMMANDS.get(name)
        if mod is None or not _importable(mod):
            return super().get_command(ctx, name)   # commands registered directly on the group
        return importlib.import_module(f"chainer.cli.{mod}").command

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ChainerError as exc:
            for line in str(exc).splitlines() or [type(exc).__name__]:
                click.echo(f"error: {line}" if not _has_location(line) else line, err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except Exception as exc:  # a bug, not a user error: one line here, details in a file
            from ..run.rundir import environment_error

            env = environment_error(exc)       # disk full, read-only, corrupt journal: exit 2
            if env is not None:
                click.echo(f"error: {_redacted(str(env))}", err=True)
                ctx.exit(env.exit_code)
            if os.environ.get("CHAINER_DEBUG"):
                raise
            path = _save_traceback(exc)
            click.echo(f"chainer: internal error: {type(exc).__name__}: {_redacted(str(exc))}"
                       f" (traceback saved to {path}; please report it)", err=True)
            ctx.exit(1)


def _redacted(text: str, *, escape: bool = True) -> str:
    from ..ark.errors import redact

    return redact(text, [os.environ.get("ARK_API_KEY")], escape=escape)


def _save_traceback(exc: BaseException) -> str:
    import tempfile
    import traceback

    text = _redacted("".join(traceback.format_exception(exc)), escape=False)
    fd, path = tempfile.mkstemp(prefix="chainer-crash-", suffix=".txt")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


def _has_location(line: str) -> bool:
    head = line.split(": ", 1)[0]
    return ":" in head and head.rsplit(":", 1)[-1].isdigit()


def _importable(mod: str) -> bool:
    return importlib.util.find_spec(f"chainer.cli.{mod}") is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="chainer")
def cli() -> None:
    """Turn a storyboard of sequential prompts into one long seamless video (Seedance on Ark)."""


def main() -> None:
    cli(prog_name="chainer")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
