"""What a (re-)run would do for every planned shot, from the journal and the files (no network).

Used by the render (to print the estimate and pass it to the gate) and by ``chainer status``.
Actions: ``reuse`` (result on disk), ``download`` (task succeeded: fetch its result; a missing last
frame is re-extracted from the local clip, never paid for), ``poll`` (task in flight),
``resolve`` (a create whose outcome is unknown), ``submit`` / ``resubmit`` (a paid task),
``elsewhere`` (the task lives at another provider identity: rule 6), ``wait`` (after an earlier
shot), ``blocked``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from . import journal as J
from .download import sha256_file
from .keys import DIGESTED, body_fingerprint, data_url_png

PAID_ACTIONS = ("submit", "resubmit", "wait", "blocked")


@dataclass
class ShotState:
    shot_id: str
    action: str
    reason: str = ""
    key: str | None = None
    attempt: J.Attempt | None = None
    frame_ready: bool = False   # the next shot can chain from it (see chain_ready)


def clip_path(run_dir: Path, shot_id: str) -> Path:
    return run_dir / "clips" / f"{shot_id}.mp4"


def frame_path(run_dir: Path, shot_id: str) -> Path:
    return run_dir / "frames" / f"{shot_id}.last.png"


def shot_key(shot, key_identity: str, first_png: bytes | None,
             first_digest: str | None = None) -> str:
    """The identity of a shot's result: its full request (media by hash) + the provider family.
    The canonical request is the planned shot's neutral body (``PlannedShot.request_body``). A
    chained shot's first frame enters by ``first_digest`` (the previous attempt's journalled
    ``chain_digest``) when known, else by the frame file's bytes (the same digest while that file
    is the original)."""
    if first_digest:
        first = DIGESTED + first_digest
    else:
        first = data_url_png(first_png) if first_png is not None else None
    body = shot.request_body(first)
    body["_provider"] = key_identity
    return body_fingerprint(body)


def clip_ok(att: J.Attempt | None, run_dir: Path) -> bool:
    """Whether ``att``'s clip is on disk, intact (size and hash as journalled)."""
    if att is None or att.state != J.SUCCEEDED or not att.clip_sha:
        return False
    clip = clip_path(run_dir, att.shot_id)
    return (clip.exists() and clip.stat().st_size == (att.clip_bytes or -1)
            and sha256_file(clip) == att.clip_sha)


def frame_ok(att: J.Attempt | None, run_dir: Path) -> bool:
    """Whether ``att``'s last frame is on disk, intact."""
    if att is None or not att.frame_sha:
        return False
    frame = frame_path(run_dir, att.shot_id)
    return frame.exists() and sha256_file(frame) == att.frame_sha


def local_ok(att: J.Attempt | None, run_dir: Path, need_frame: bool) -> bool:
    """Whether ``att``'s clip (and last frame when needed) are on disk, intact."""
    return clip_ok(att, run_dir) and (not need_frame or frame_ok(att, run_dir))


def chain_ready(st: ShotState) -> bool:
    """Whether the next shot can be rendered from ``st``'s shot."""
    return st.action == "reuse" or (st.action == "download" and st.frame_ready)


def where_note(att: J.Attempt) -> str:
    """One line saying where ``att``'s task lives and how to reach it (rule 6)."""
    ident = att.provider_identity or "?"
    name, _, url = ident.partition("@")
    how = f"re-run with --provider {name} --base-url {url}" if url.startswith("http") else \
        f"re-run with --provider {name}"
    return f"task {att.task_id or '(create unresolved)'} lives at {ident}: {how} to finish it"


def assess(plan, journal: J.Journal, run_dir: Path, key_identity: str, *,
           identity: str | None = None, ephemeral: bool = False,
           now: float | None = None) -> list[ShotState]:
    """For every planned shot, what running now would do (no network). ``identity``: where the
    current provider's tasks live (``None``: unknown, e.g. ``chainer status``); ``ephemeral``:
    its tasks die with the process, so an in-flight task recorded under it is gone (unbilled)."""
    from .takes import current_variant

    now = time.time() if now is None else now
    out: list[ShotState] = []
    for seq in plan.sequences:
        blocked: str | None = None
        prev: ShotState | None = None
        for i, shot in enumerate(seq.shots):
            if blocked:
                out.append(ShotState(shot.id, "wait", blocked))
                continue
            need_frame = i + 1 < len(seq.shots) and seq.shots[i + 1].chained_from == shot.id
            first = None
            shot_id = shot.id
            shot = current_variant(shot, journal)      # its current take (chainer.run.takes)
            if shot.chained_from:
                src = prev.attempt.shot_id if prev is not None and prev.attempt is not None \
                    else shot.chained_from
                fp = frame_path(run_dir, src)
                if prev is None or not chain_ready(prev) or not fp.exists():
                    out.append(ShotState(shot_id, "wait", f"after {shot.chained_from}"))
                    blocked = f"after {shot.chained_from}"
                    continue
                first = fp.read_bytes()
            try:
                key = shot_key(shot, key_identity, first,
                               prev.attempt.chain_digest if shot.chained_from and prev is not None
                               and prev.attempt is not None else None)
            except (InputError, ValueError) as exc:
                out.append(ShotState(shot_id, "blocked", str(exc)))
                blocked = f"after {shot_id}"
                continue
            att = journal.latest(shot.id, key)
            st = ShotState(shot_id, "submit", "not rendered yet", key, att)
            here = att is None or identity is None or att.provider_identity in (None, identity)
            if att is None:
                if journal.attempts(shot.id):
                    st.reason = "inputs changed (prompt, parameters or input frame)"
            elif att.state == J.SUCCEEDED:
                if local_ok(att, run_dir, need_frame):
                    st.action, st.reason = "reuse", f"task {att.task_id} downloaded"
                elif clip_ok(att, run_dir):
                    st.action, st.reason = "download", "last frame re-extracted from the local clip"
                elif att.url_expired:
                    st.action, st.reason = "resubmit", "result URL expired before download"
                else:
                    st.action, st.reason = "download", f"task {att.task_id} succeeded, not downloaded"
            elif att.in_flight or att.state == J.AMBIGUOUS:
                if ephemeral and att.provider_identity == identity:
                    st.action, st.reason = "resubmit", (f"task {att.task_id} died with the "
                                                        "in-process provider (nothing billed)")
                elif not here:
                    st.action, st.reason = "elsewhere", where_note(att)
                elif att.state in (J.CREATING, J.AMBIGUOUS):
                    st.action, st.reason = "resolve", "create outcome unknown: will look for the task"
                else:
                    st.action, st.reason = "poll", f"task {att.task_id} {att.state}"
            else:
                st.action = "resubmit"
                st.reason = f"last attempt {att.state}" + (
                    f": {att.error_code}" if att.error_code else "")
            if st.action == "download" and need_frame and not frame_ok(att, run_dir):
                if not clip_ok(att, run_dir):
                    st.reason += " (last frame missing: the next shot waits for it)"
            st.frame_ready = st.action == "reuse" or (
                st.action == "download" and (not need_frame or frame_ok(att, run_dir)))
            out.append(st)
            if not chain_ready(st):
                blocked = f"after {shot_id}"
            prev = st
    return out
