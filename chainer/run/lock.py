"""One owner per run dir: :class:`RunLock` is held for a whole render, stitch or review.

The lock is an ``fcntl.flock`` on ``RUN_DIR/chainer.lock``, held on an open descriptor for as long
as the ``with`` block runs. The kernel drops a flock when its process dies (kill -9 included), so
a crashed holder never leaves a lock that blocks the next run: the file it leaves behind is only
metadata (pid, host, start time, purpose) used to name the holder in :class:`RunDirBusy`.

Why flock and not an O_EXCL file alone: an O_EXCL file cannot tell a live holder from a dead one
without racing (check the pid, then delete and re-create: two takers can both "win"). With flock
the kernel decides; the metadata is written only after the lock is ours.

Details that keep two processes from both believing they own the dir:
- the lock file is opened with O_NOFOLLOW (a planted symlink is refused, never written through)
  and O_CLOEXEC (ffmpeg and other children never inherit the lock);
- after locking we check the path still names the inode we locked (a releasing holder unlinks
  the file; whoever locked the unlinked inode retries on the new one);
- a leftover record from ANOTHER host is not taken over automatically: flock may not reach across
  hosts on a network filesystem, and we cannot check a pid there. The message says how to clear it.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import stat
import time
from datetime import datetime, timezone
from pathlib import Path

from ..errors import InputError

LOCK_NAME = "chainer.lock"
_MAX_RECORD = 4096          # bytes of holder metadata we read back (bounded: the file is untrusted)
_RETRIES = 20               # inode changed under us (holder released meanwhile): try again


# Files whose presence makes a directory a chainer run dir (the journal is the proof of payment).
RUN_DIR_MARKERS = ("journal.sqlite", "summary.json")


def run_dir_of(path: Path) -> Path | None:
    """The run dir ``path`` (a file about to be written) lies in, or None: the nearest of its
    parent dirs (``RUN/film.mp4`` or ``RUN/clips/x.mp4``) holding a journal or summary."""
    parent = Path(path).absolute().parent
    for d in (parent, parent.parent):
        if any((d / m).exists() for m in RUN_DIR_MARKERS):
            return d
    return None


class RunDirBusy(InputError):
    """Another process owns the run dir (or a lock we cannot safely take over is in the way)."""

    def __init__(self, message: str, *, holder: dict | None = None, path: Path | None = None):
        super().__init__(message)
        self.holder = holder or {}
        self.path = path


def _host() -> str:
    return socket.gethostname()


def _clean(value, limit: int = 80) -> str:
    """A holder field for a one-line message: printable, bounded (the file could hold anything)."""
    text = str(value)[:limit]
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def describe_holder(holder: dict) -> str:
    """``chainer render (pid 4242 on host box, since 2026-12-01T06:50:00Z)``."""
    if not holder:
        return "another process (it has not written its details yet)"
    purpose = _clean(holder.get("purpose") or "chainer")
    parts = []
    if holder.get("pid") is not None:
        parts.append(f"pid {_clean(holder['pid'], 12)}")
    if holder.get("host"):
        parts.append(f"on host {_clean(holder['host'])}")
    if holder.get("started"):
        parts.append(f"since {_clean(holder['started'], 40)}")
    return f"chainer {purpose} ({', '.join(parts)})" if parts else f"chainer {purpose}"


def _read_record(fd: int) -> dict:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        raw = os.read(fd, _MAX_RECORD)
    except OSError:
        return {}
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw.decode("utf-8", "replace"))
    except ValueError:
        return {"purpose": "(unreadable lock record)"}
    return data if isinstance(data, dict) else {"purpose": "(unreadable lock record)"}


def read_holder(run_dir: Path) -> dict:
    """The record in ``run_dir``'s lock file ({} when there is none); for messages and status."""
    path = Path(run_dir) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return {}
    try:
        return _read_record(fd)
    finally:
        os.close(fd)


class RunLock:
    """``with RunLock(run_dir, "render"):`` -- own ``run_dir`` for the block, or raise
    :class:`RunDirBusy` (exit code 2, one line naming the holder) at once. Not re-entrant: a
    second ``RunLock`` on the same dir in the same process is refused like any other."""

    def __init__(self, run_dir: Path, purpose: str):
        self.run_dir = Path(run_dir)
        self.purpose = purpose
        self.path = self.run_dir / LOCK_NAME
        self._fd: int | None = None
        self._ident: tuple[int, int] | None = None

    # -- context manager -------------------------------------------------------------------------
    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    @property
    def held(self) -> bool:
        return self._fd is not None

    # -- acquire / release -----------------------------------------------------------------------
    def acquire(self) -> None:
        if self._fd is not None:
            raise RuntimeError("RunLock.acquire() called twice")
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"{self.run_dir}: cannot create the run directory "
                             f"({exc.strerror or exc})") from None
        if not self.run_dir.is_dir():
            raise InputError(f"{self.run_dir}: not a directory (give a run directory)")
        for _ in range(_RETRIES):
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_record(fd)
                os.close(fd)
                raise RunDirBusy(f"{self.run_dir}: in use by {describe_holder(holder)}; wait for it "
                                 f"to finish or stop it (one process per run directory)",
                                 holder=holder, path=self.path) from None
            except OSError as exc:
                os.close(fd)
                raise InputError(f"{self.path}: cannot lock the run directory on this filesystem "
                                 f"({exc.strerror or exc}); use a run directory on a local disk") from None
            if not self._same_inode(fd):
                os.close(fd)        # the holder released (unlinked) meanwhile: lock the new file
                continue
            holder = _read_record(fd)
            if holder and holder.get("host") not in (None, _host()):
                os.close(fd)
                raise RunDirBusy(f"{self.run_dir}: locked by {describe_holder(holder)} on another "
                                 f"host; if it is no longer running there, delete {self.path}",
                                 holder=holder, path=self.path)
            # Same host and the flock was free: the recorded holder is dead (or its pid was
            # reused); the kernel released its lock, so taking over is safe.
            try:
                self._write_record(fd)
            except OSError as exc:
                os.close(fd)
                raise InputError(f"{self.path}: cannot write the lock file "
                                 f"({exc.strerror or exc})") from None
            self._fd = fd
            return
        raise RunDirBusy(f"{self.run_dir}: the lock file keeps changing (another chainer is "
                         f"starting and stopping on it); try again", path=self.path)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if self._same_inode(fd):
                try:
                    os.unlink(self.path)    # before unlocking: nobody can lock a file we then delete
                except OSError:
                    pass
        finally:
            os.close(fd)                    # closing drops the flock

    # -- helpers ---------------------------------------------------------------------------------
    def _open(self) -> int:
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
        try:
            fd = os.open(self.path, flags, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise InputError(f"{self.path}: is a symbolic link; chainer will not lock through "
                                 f"it (remove it)") from None
            raise InputError(f"{self.path}: cannot open the lock file ({exc.strerror or exc})") from None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise InputError(f"{self.path}: is not a regular file (remove it)")
        return fd

    def _same_inode(self, fd: int) -> bool:
        st = os.fstat(fd)
        try:
            pst = os.stat(self.path, follow_symlinks=False)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == (pst.st_dev, pst.st_ino)

    def _write_record(self, fd: int) -> None:
        record = {
            "pid": os.getpid(),
            "host": _host(),
            "started": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "started_unix": round(time.time(), 3),
            "purpose": self.purpose,
        }
        data = (json.dumps(record) + "\n").encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        try:
            os.fsync(fd)
        except OSError:
            pass

