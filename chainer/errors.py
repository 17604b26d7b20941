"""Errors a user can cause and fix. Anything subclassing ChainerError is printed as one line by the
CLI (no traceback) and exits with its ``exit_code``."""
from __future__ import annotations

from dataclasses import dataclass


class ChainerError(Exception):
    """A foreseeable failure with a message meant for the user."""

    exit_code = 1


class InputError(ChainerError):
    """Bad input (storyboard, media, flags). Nothing has been submitted or billed."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One validation problem, rendered as ``FILE:LINE:COL: path: message``."""

    file: str
    line: int | None
    col: int | None
    path: str
    message: str

    def __str__(self) -> str:
        loc = self.file
        if self.line is not None:
            loc += f":{self.line}"
            if self.col is not None:
                loc += f":{self.col}"
        text = f"{loc}: {self.path}: {self.message}" if self.path else f"{loc}: {self.message}"
        # one problem, one line: a NUL, newline or escape sequence from the input is shown escaped
        return text if text.isprintable() else "".join(
            ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


class ValidationError(InputError):
    """One or more problems with a storyboard; every problem is one line."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ProviderError(ChainerError):
    """The provider (Ark or the emulator) refused or failed a request."""

    exit_code = 1
