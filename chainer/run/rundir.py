"""Safe file handling inside a run dir, and the translation of environment failures.

- :func:`open_part` / :func:`part_size`: temp files (``.part`` downloads) are created with
  O_CREAT|O_EXCL|O_NOFOLLOW and appended to with O_NOFOLLOW: a symlink planted under a temp name
  is removed (the link, never its target) and never written through.
- :func:`environment_error`: a full disk, a read-only or unreadable run dir, a corrupt journal
  (``sqlite3`` errors included) become one :class:`~chainer.errors.InputError` line (exit 2).
  Nothing is deleted or rewritten on the way: the user fixes the disk and re-runs.
"""
from __future__ import annotations

import errno
import os
import re
import sqlite3
import stat
from pathlib import Path
from typing import BinaryIO

from ..errors import InputError

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)

# What chainer itself keeps in a run dir (issue 10 rule 7: never an output's name). Compared
# case-insensitively (macOS and Windows filesystems fold case).
OWN_DIRS = ("clips", "frames", "graded", "takes", "review")
OWN_FILES = ("journal.sqlite", "journal.sqlite-wal", "journal.sqlite-shm",
             "journal.sqlite-journal", "summary.json", "timeline.json", "chainer.lock",
             "report.html", "report.json", "chapters.txt", "timeline.otio", "timeline.fcpxml",
             "timeline.edl", "contact-sheet.png")


def own_file_problem(relpath: str) -> str | None:
    """Why the run-dir-relative ``relpath`` would overwrite one of chainer's own files or dirs
    (None when it would not)."""
    parts = [p for p in re.split(r"[/\\]", relpath) if p not in ("", ".")]
    if not parts:
        return None
    if len(parts) > 1 and parts[0].casefold() in OWN_DIRS:
        return f"{parts[0]}/ is where chainer keeps its own files; choose another folder"
    if len(parts) == 1 and parts[0].casefold() in OWN_DIRS + OWN_FILES:
        return f"{parts[0]} is one of chainer's own files in the run directory; choose another name"
    return None


def part_size(path: str | os.PathLike) -> int:
    """Bytes already in the temp file ``path`` (0 when there is none). Anything but a regular
    file under that name (a planted symlink, a FIFO) is removed first and counts as nothing."""
    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return 0
    if stat.S_ISREG(st.st_mode):
        return st.st_size
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{path}: is a directory where chainer keeps a temporary file (remove it)")
    os.unlink(path)                 # symlink, fifo, socket...: the name, not what it points to
    return 0


def open_part(path: str | os.PathLike, *, append: bool) -> BinaryIO:
    """Open the temp file ``path`` for writing without ever following a symlink: ``append``
    continues a regular file that is there; otherwise whatever is under the name is removed and
    a new file is created exclusively (O_EXCL: if another writer races us, we fail, not share)."""
    path = Path(path)
    if append:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | _O_CLOEXEC)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise InputError(f"{path}: is not a regular file (remove it)")
    else:
        part_size(path)             # drops a non-regular entry
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _O_CLOEXEC, 0o644)
    return os.fdopen(fd, "ab" if append else "wb")


# errno values that mean "the environment, not chainer": fix the disk / permissions and re-run
_ENV_ERRNOS = {errno.ENOSPC: "no space left on the device",
               errno.EROFS: "the filesystem is read-only",
               errno.EACCES: "permission denied",
               errno.EPERM: "operation not permitted",
               errno.EDQUOT: "disk quota exceeded",
               errno.EIO: "input/output error"}

_SQLITE_HINTS = (("database or disk is full", "no space left on the device"),
                 ("readonly database", "the journal is read-only"),
                 ("read-only", "the journal is read-only"),
                 ("unable to open database", "the journal cannot be opened"),
                 ("not a database", "the journal is corrupt (not an SQLite database)"),
                 ("malformed", "the journal is corrupt"),
                 ("disk i/o error", "input/output error on the journal"),
                 ("database is locked", "the journal is locked by another process"))


def environment_error(exc: BaseException) -> InputError | None:
    """One :class:`InputError` line for a disk-full / read-only / corrupt-journal failure, or
    None when ``exc`` is something else (a bug, reported as such)."""
    if isinstance(exc, sqlite3.DatabaseError):
        text = str(exc).lower()
        for needle, what in _SQLITE_HINTS:
            if needle in text:
                return InputError(f"journal.sqlite: {what} ({exc}); nothing was changed: fix it "
                                  f"and re-run (keep the run directory as it is: the journal is "
                                  f"the record of what was paid)")
        return None
    if isinstance(exc, OSError) and exc.errno in _ENV_ERRNOS:
        where = f"{exc.filename}: " if exc.filename else ""
        return InputError(f"{where}{_ENV_ERRNOS[exc.errno]}; fix it and re-run (what is already "
                          f"downloaded and journalled is kept)")
    return None
