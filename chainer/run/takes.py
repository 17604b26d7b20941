"""Takes (issue 14): ``takes: N`` renders N tasks of one shot from the same input, ranks them by
how well they join the previous shot, and continues the chain from the best.

How takes live in a run:

- take 1 is the shot itself (journal ``shot_id`` = the shot's id, its planned seed); take k > 1 is
  a variant of the planned shot with id ``<shot>.take<k>`` (``.`` never appears in a storyboard
  id, so it cannot collide) and its own seed (the shot's seed + k - 1, or a stable seed derived
  from the shot id where the shot gives none; on a model that takes no seed it is just another
  task). Every take is an ordinary attempt in the journal under its own id (the one proof of
  payment), created by the shot state machine through ``Gate.admit``; its clip is
  ``clips/<take id>.mp4``;
- which take is current is journal meta ``takes``: ``{shot id: {"current": take id, "picked":
  bool, "scores": [...]}}``. A ranked choice is recomputed identically on a re-run (scoring is
  deterministic); ``chainer pick`` sets ``picked`` and wins over ranking;
- the current take's attempt is ``ctx.current[shot id]``: the next shot chains from its last
  frame (``frames/<take id>.last.png``) or its clip, the film uses its clip;
- ``takes/`` holds ``takes.json`` (every take's score, components, clip) and a thumbnail per take.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import replace
from pathlib import Path

from . import journal as J
from .assess import clip_ok, clip_path, frame_ok
from .context import SequenceStop

TAKES_DIR = "takes"
TAKES_META = "takes"
MAX_TAKES = 8
SEP = ".take"


def take_id(shot_id: str, k: int) -> str:
    return shot_id if k == 1 else f"{shot_id}{SEP}{k}"


def shot_of(take: str) -> str:
    return take.split(SEP, 1)[0]


def take_seed(shot, k: int, salt: int = 0) -> int | None:
    """Take k's seed: the shot's seed + k - 1 (+ ``salt`` for a re-roll), else a stable one from
    the shot id; take 1 without salt keeps the shot's own (None: the provider chooses)."""
    if k == 1 and not salt:
        return shot.seed
    base = shot.seed if shot.seed is not None else \
        int.from_bytes(hashlib.sha256(shot.id.encode()).digest()[:4], "big") % 1_000_000_000
    return (base + k - 1 + salt * 1000) % 2_147_483_647


def variants(shot, n: int | None = None, *, salt: int = 0) -> list:
    """The planned shots of ``shot``'s takes (take 1 = ``shot`` itself unless re-rolled)."""
    n = n or getattr(shot, "takes", 1) or 1
    out = []
    for k in range(1, n + 1):
        if k == 1 and not salt:
            out.append(shot)
            continue
        tid = take_id(shot.id, k) if not salt else f"{shot.id}{SEP}r{salt}"
        seed = take_seed(shot, k, salt) if shot.model.seed else None
        out.append(replace(shot, id=tid, seed=seed, takes=1))
        if salt:
            break
    return out


def extra_takes(shot) -> list:
    """The takes beyond take 1 (what the estimate adds for ``shot``)."""
    return variants(shot)[1:]


def load_meta(journal) -> dict:
    return dict(journal.get_meta(TAKES_META) or {})


def set_current(journal, shot_id: str, take: str, *, picked: bool, scores: list | None = None) -> None:
    meta = load_meta(journal)
    entry = dict(meta.get(shot_id) or {})
    entry.update(current=take, picked=picked)
    if scores is not None:
        entry["scores"] = scores
    meta[shot_id] = entry
    journal.set_meta(TAKES_META, meta)


def all_variants(shot, journal) -> list:
    """Every take of ``shot`` in this run: its ``takes: N`` and its re-rolls (kept)."""
    vs = variants(shot)
    meta = load_meta(journal).get(shot.id) or {}
    ids = {v.id for v in vs}
    for extra in meta.get("rerolls", []):           # re-rolled takes stay takes of the shot
        if extra not in ids:
            vs += variants(shot, salt=int(extra.rsplit("r", 1)[1]))
    return vs


def current_variant(shot, journal):
    """The planned shot of ``shot``'s current take (``shot`` itself unless another was chosen)."""
    cur = (load_meta(journal).get(shot.id) or {}).get("current")
    if not cur or cur == shot.id:
        return shot
    return next((v for v in all_variants(shot, journal) if v.id == cur), shot)


def next_reroll(journal, shot_id: str) -> int:
    meta = load_meta(journal).get(shot_id) or {}
    return 1 + max([int(r.rsplit("r", 1)[1]) for r in meta.get("rerolls", [])] or [0])


def pick(journal, run_dir: Path, shot, take: str) -> None:
    """Make ``take`` (a take id, or its number) ``shot``'s current take: the next render of the
    run continues the chain from it (downstream shots see a new input and render again through
    the gate). Raises :class:`~chainer.errors.InputError` for a take this run does not have."""
    from ..errors import InputError

    vs = all_variants(shot, journal)
    tid = take_id(shot.id, int(take)) if str(take).isdigit() else str(take)
    ids = [v.id for v in vs]
    att = None
    if tid in ids:
        v = vs[ids.index(tid)]
        att = next((a for a in reversed(journal.attempts(v.id)) if a.state == J.SUCCEEDED), None)
    if att is None or not clip_ok(att, run_dir):
        have = [i for i in ids if any(a.state == J.SUCCEEDED for a in journal.attempts(i))]
        raise InputError(f"{run_dir}: {shot.id} has no rendered take {take!r} (takes: "
                         f"{', '.join(have) or 'none'})")
    set_current(journal, shot.id, tid, picked=True)


class TakeRunner:
    """Run a shot's takes in parallel through the shot state machine, rank them, pick one."""

    def __init__(self, ctx, machine, fetcher):
        self.ctx, self.machine, self.fetcher = ctx, machine, fetcher

    def takes_of(self, shot) -> list:
        return all_variants(shot, self.ctx.journal)

    def run(self, shot, prev: J.Attempt | None, *, reroll: int = 0) -> J.Attempt:
        ctx = self.ctx
        vs = self.takes_of(shot)
        if reroll:
            new = variants(shot, salt=reroll)
            vs += [v for v in new if v.id not in {x.id for x in vs}]
            meta = load_meta(ctx.journal)
            entry = dict(meta.get(shot.id) or {})
            entry["rerolls"] = sorted(set(entry.get("rerolls", [])) | {new[0].id})
            entry.update(current=new[0].id, picked=True)     # the user asked for this take
            meta[shot.id] = entry
            ctx.journal.set_meta(TAKES_META, meta)
        if len(vs) == 1:
            return self.machine.run(shot, prev)
        results: dict[str, J.Attempt | BaseException] = {}

        def one(v):
            try:
                att = self.machine.run(v, prev)
                job = self.fetcher.videos.get(v.id)
                if job is not None:
                    job.future.result()           # its download on the pool, if scheduled
                    att = ctx.journal.get(att.id)
                if not clip_ok(att, ctx.run_dir):
                    att = self.fetcher.clip(v, att)
                    if att.url_expired:
                        raise SequenceStop(f"{v.id}: the result URL of task {att.task_id} expired "
                                           "before the take was downloaded; re-run")
                results[v.id] = att
            except BaseException as exc:  # noqa: BLE001 - re-raised below in take order
                results[v.id] = exc

        threads = [threading.Thread(target=one, args=(v,), name=f"take-{v.id}") for v in vs[1:]]
        for t in threads:
            t.start()
        one(vs[0])
        for t in threads:
            t.join()
        for v in vs:
            if isinstance(results.get(v.id), BaseException):
                raise results[v.id]
        atts = {v.id: results[v.id] for v in vs}
        return self._choose(shot, vs, atts, prev)

    def _prev_clip(self, shot, prev: J.Attempt | None) -> Path | None:
        if prev is None or not shot.chained_from:
            return None
        job = self.fetcher.videos.get(prev.shot_id)
        if job is not None:
            job.future.result()                  # the previous clip's download, if still running
        path = clip_path(self.ctx.run_dir, prev.shot_id)
        return path if path.exists() else None

    def _choose(self, shot, vs, atts: dict, prev) -> J.Attempt:
        from ..review.takes import rank_takes

        ctx = self.ctx
        clips = [(v.id, clip_path(ctx.run_dir, v.id)) for v in vs]
        ranked = rank_takes(clips, self._prev_clip(shot, prev), last_image=shot.last_image)
        scores = [dict(s.to_dict(), clip=f"clips/{s.take}.mp4", task_id=atts[s.take].task_id,
                       seed=atts[s.take].seed) for s in ranked]
        meta = load_meta(ctx.journal).get(shot.id) or {}
        current = meta.get("current") if meta.get("picked") and meta.get("current") in atts \
            else ranked[0].take
        set_current(ctx.journal, shot.id, current, picked=bool(meta.get("picked")) and
                    current == meta.get("current"), scores=scores)
        self._write(shot, scores, current)
        ctx.progress.message(f"{shot.id}: {len(vs)} takes ranked by their seam: "
                             + ", ".join(f"{s['take']} {s['score']:.2f}" for s in scores)
                             + f"; continuing with {current}")
        att = atts[current]
        if ctx.needs_frame(shot) and not frame_ok(att, ctx.run_dir):
            self.fetcher._extract(replace(shot, id=current), att)      # from the local clip
            att = ctx.journal.get(att.id)
        return att

    def _write(self, shot, scores: list, current: str) -> None:
        from ..media.ffmpeg import extract_frame_png

        d = Path(self.ctx.run_dir) / TAKES_DIR
        d.mkdir(exist_ok=True)
        for s in scores:
            thumb = d / f"{s['take']}.png"
            if not thumb.exists():
                tmp = d / f".{s['take']}.tmp.png"
                extract_frame_png(clip_path(self.ctx.run_dir, s["take"]), tmp, last=True)
                os.replace(tmp, thumb)
            s["thumbnail"] = f"{TAKES_DIR}/{thumb.name}"
            s["current"] = s["take"] == current
        path = d / "takes.json"
        data = json.loads(path.read_text()) if path.exists() else {}
        data[shot.id] = {"current": current, "takes": scores}
        tmp = path.with_name(".takes.json.tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)


def summary_takes(run_dir: Path) -> dict:
    """``takes/takes.json`` (for summary.json and the report), or {}."""
    path = Path(run_dir) / TAKES_DIR / "takes.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
