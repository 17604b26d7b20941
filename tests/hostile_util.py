"""Helpers for the hostile-provider tests: a temp working dir with a relative run dir, `chainer`
as a subprocess against a :class:`~hostile_provider.HostileProvider`, and the checks every test
makes (nothing written outside the run dir, no fragment of the key anywhere, no traceback, tasks
per shot from the emulator's own records)."""
from __future__ import annotations

import os
import re
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from soak_util import chainer_cmd, cli_env, chained_storyboard

# Every 4-character run of this key holds an upper-case letter: it cannot occur by chance in hex
# hashes, task ids, dates or paths, so finding any 4-char fragment of it anywhere is a leak.
KEY = "sk-zQ7vW9xLmP3tRb8cKd2YfJ6n"
FRAG = 4                       # text files and output: no 4+ character fragment of the key
FRAG_BINARY = 8                # media files: random bytes make 4-char ASCII runs occur by chance
BINARY_SUFFIXES = (".mp4", ".png", ".jpg", ".part", ".mov", ".mkv")
ESCAPES = ("\x1b", "\r", "\x00", "\x07")
_BASE64 = re.compile(rb"(?<=base64,)[A-Za-z0-9+/=]{16,}")


def fragments(n: int, key: str = KEY) -> set[str]:
    return {key[i:i + n] for i in range(len(key) - n + 1)}


def leaks_in_text(text: str, n: int = FRAG) -> list[str]:
    return sorted(f for f in fragments(n) if f in text)


def leaks_in_tree(root: Path) -> dict[str, list[str]]:
    """Files under ``root`` holding a key fragment (any encoding an app would write it in)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.is_symlink():
            continue
        data = p.read_bytes()
        n = FRAG_BINARY if p.suffix in BINARY_SUFFIXES else FRAG
        # base64 payloads (images embedded in report.html) are random text: 8+ chars there
        inline = b" ".join(_BASE64.findall(data))
        data = _BASE64.sub(b"", data)
        hits = [f for f in fragments(n) if f.encode() in data or f.encode("utf-16-le") in data]
        hits += [f for f in fragments(FRAG_BINARY) if f.encode() in inline]
        if hits:
            out[str(p.relative_to(root))] = sorted(hits)
    return out


def snapshot(*roots: Path, skip: Path | None = None) -> dict[str, tuple]:
    """Every path under ``roots`` (not under ``skip``) with its size and mtime."""
    snap = {}
    for root in roots:
        for p in [root, *root.rglob("*")] if root.exists() else []:
            if skip is not None and (p == skip or skip in p.parents):
                continue
            try:
                st = os.lstat(p)
            except FileNotFoundError:
                continue
            snap[str(p)] = (st.st_size, st.st_mtime_ns, st.st_mode)
    return snap


@dataclass
class Result:
    rc: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + "\n" + self.err

    def lines_with(self, needle: str) -> list[str]:
        return [ln for ln in self.text.splitlines() if needle in ln]


class Scene:
    """A temp working dir ``cwd`` holding ``sb.yaml`` and the relative run dir ``run``; the
    parent dir and ``cwd`` outside ``run`` are snapshotted so a write outside shows up."""

    def __init__(self, tmp: Path, shots: int = 2, *, sequences: int = 1, duration: int = 2,
                 tag: str = "", **sb_top):
        self.tmp = tmp
        self.cwd = tmp / "cwd"
        self.cwd.mkdir(parents=True, exist_ok=True)
        self.sb = chained_storyboard(self.cwd / "sb.yaml", shots, sequences, frames=None,
                                     duration=duration)
        if tag or sb_top:
            import yaml

            doc = yaml.safe_load(self.sb.read_text())
            for s in doc["shots"]:
                s["prompt"] += f" [{tag}]"
            doc.update(sb_top)
            self.sb.write_text(yaml.safe_dump(doc, sort_keys=False))
        self.run = self.cwd / "run"
        self.shots = shots
        self.before = self._snap()

    def resnap(self) -> None:
        """The test itself changed inputs (storyboard, media): take the 'before' picture again."""
        self.before = self._snap()

    def _snap(self) -> dict:
        return snapshot(self.tmp, skip=self.run) | {
            k: v for k, v in snapshot(self.tmp.parent).items()
            if Path(k).parent == self.tmp.parent}

    def chainer(self, *args: str, key: str | None = KEY, timeout: float = 240) -> Result:
        p = subprocess.run(chainer_cmd(*args), env=cli_env(key), cwd=self.cwd, capture_output=True,
                           text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        return Result(p.returncode, p.stdout, p.stderr)

    def render(self, base_url: str, *extra: str, yes: bool = True, key: str | None = KEY) -> Result:
        args = ["render", "sb.yaml", "-o", "run", "--provider", "ark", "--base-url", base_url,
                "--progress", "plain", "--poll-interval", "0.05", *extra]
        if yes:
            args.append("--yes")
        return self.chainer(*args, key=key)

    def outside_changes(self) -> list[str]:
        """Paths created, changed or removed outside the run dir since the scene began (the
        storyboard's own dir is ``cwd``: only ``run`` may change there)."""
        now = self._snap()
        changed = [k for k in set(now) | set(self.before)
                   if now.get(k) != self.before.get(k) and k != str(self.cwd)
                   and k != str(self.tmp)]
        return sorted(changed)

    def check(self, res: Result) -> None:
        """What every hostile run must keep: no traceback, no internal error, no terminal
        escapes, no key fragment in output or any file, nothing written outside the run dir."""
        assert "Traceback" not in res.text and "internal error" not in res.text, res.text[-3000:]
        assert not [c for c in ESCAPES if c in res.text], repr(res.text[-2000:])
        assert leaks_in_text(res.text) == [], (leaks_in_text(res.text), res.text[-2000:])
        assert leaks_in_tree(self.cwd) == {}
        assert self.outside_changes() == []


def tasks_per_prompt(emu) -> Counter:
    """How many tasks the emulator really made per prompt (the ground truth of payment)."""
    with emu._store._cond:
        tasks = list(emu._store._tasks.values())
    return Counter(t.req.prompt for t in tasks)


_PROGRESS = re.compile(r"^\s+\d+(\.\d+)?s\s")


def one_line(res: Result, needle: str) -> str:
    """The one line (not a progress line) of the output holding ``needle``."""
    lines = [ln for ln in res.lines_with(needle) if not _PROGRESS.match(ln)]
    assert len(lines) == 1, (needle, res.text[-3000:])
    return lines[0]
