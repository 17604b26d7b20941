"""Downloads of results: the last frame on the chain's critical path, clips on a small pool.

The chain waits only for the last frame (small; verified by decoding and checked against the
clip's W x H); the clip is downloaded and verified on the download pool meanwhile. When the clip
is already on disk (verified), a missing last frame is extracted from it (its exact last frame),
never downloaded or paid for again. Journal order per attempt: frame_sha (before its rename),
frame_at; clip_sha (before its rename), downloaded_at. A kill between any two leaves a state the
next run resumes from. Every download goes through :meth:`Provider.download`, bounded in bytes
and time.
"""
from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..ark.errors import DownloadError
from . import journal as J
from .assess import clip_ok, clip_path, frame_ok, frame_path
from .context import Interrupted, RunContext, SequenceStop
from .download import fsync_dir, sha256_file, verify_png, verify_video
from .keys import chain_digest

DOWNLOAD_WORKERS = 2            # clips downloaded and verified at once, off the chain's path
FRAME_DEADLINE = 300.0          # seconds, overall, for one last-frame download
CLIP_DEADLINE = 1800.0          # seconds, overall, for one clip download
MIN_CLIP_CAP = 16 << 20


class ResultGone(Exception):
    """The result URL no longer answers (its signature expired)."""


@dataclass
class VideoJob:
    attempt_id: int
    future: Any     # Future[tuple[str, str]]: see Fetcher._video_job


def _frame_cap(size: tuple[int, int] | None) -> int:
    w, h = size or (4096, 4096)
    return w * h * 4 + (1 << 20)


def _clip_cap(size: tuple[int, int] | None, frames: int | None) -> int:
    w, h = size or (1920, 1920)
    return max(MIN_CLIP_CAP, w * h * (frames or 24 * 16) // 4)


class Fetcher:
    def __init__(self, ctx: RunContext, *, workers: int = DOWNLOAD_WORKERS):
        self.ctx = ctx
        self.workers = workers
        self.pool: ThreadPoolExecutor | None = None
        self.videos: dict[str, VideoJob] = {}
        self._checks: dict[int, Any] = {}        # attempt id -> its clip's verification
        self._lock = threading.Lock()
        self.verify_clip = ctx.verify_clip or verify_video
        self.verify_frame = ctx.verify_frame or verify_png

    def start(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="dl")

    def shutdown(self) -> None:
        # clips still downloading finish (a re-run would otherwise fetch them again);
        # downloads not started yet are dropped (a re-run starts them)
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=self.ctx.stop.is_set())

    # ---- one download ------------------------------------------------------------------------
    def _download(self, url: str, final: Path, part: Path, *, verify: Callable[[Path], object],
                  before_rename: Callable[[str, int], None], max_bytes: int, deadline: float,
                  attempts: int = 3) -> None:
        """``url`` -> ``part`` (resumed), verified, then renamed to ``final``. Raises
        :class:`ResultGone` or :class:`DownloadError`."""
        prov = self.ctx.provider
        final.parent.mkdir(parents=True, exist_ok=True)
        last: Exception | None = None
        for _ in range(attempts):
            if self.ctx.stop.is_set():
                raise DownloadError("interrupted")
            try:
                prov.download(url, part, max_bytes=max_bytes, deadline=deadline)
            except Exception as exc:  # noqa: BLE001 - classified by the provider
                f = prov.classify(exc)
                if f.kind == "result_gone":
                    raise ResultGone(f.message) from None
                last = exc
                if not f.retryable:
                    break
                continue
            try:
                verify(part)
            except DownloadError as exc:
                last = exc
                part.unlink(missing_ok=True)
                continue
            sha, size = sha256_file(part), part.stat().st_size
            before_rename(sha, size)
            os.replace(part, final)
            fsync_dir(final.parent)
            return
        raise DownloadError(f"{final.name}: download failed after {attempts} attempts: {last}")

    def _result_size(self, shot, att: J.Attempt) -> tuple[int, int] | None:
        res = att.result
        try:
            if res.get("resolution") and res.get("ratio") and res["ratio"] != "adaptive":
                return shot.model.pixels(res["resolution"], res["ratio"])
        except (KeyError, AttributeError, TypeError, ValueError):
            pass
        return None

    def _refresh_urls(self, shot, att: J.Attempt) -> J.Attempt | None:
        """After an expired download: ask the provider for fresh URLs (once). The updated attempt,
        or ``None`` when there are none (the result is gone)."""
        ctx = self.ctx
        if att.provider_identity not in (None, ctx.provider.identity):
            return None
        try:
            task = ctx.call(lambda: ctx.provider.get(att.task_id), "refresh URLs", shot.id, att.id)
        except Exception:  # noqa: BLE001 - no fresh URLs: the result is gone
            return None
        if task.state == "succeeded" and (task.video_url != att.video_url
                                          or task.last_frame_url != att.last_frame_url):
            att = ctx.journal.update(att.id, video_url=task.video_url,
                                     last_frame_url=task.last_frame_url,
                                     urls_at=time.time(), event="urls-refreshed")
            ctx.fresh.add(att.id)
            return att
        return None

    def _with_fresh_urls(self, shot, att: J.Attempt, what: str, part, download) -> J.Attempt:
        """Run ``download(att)``. When the result URL has expired, ask once for fresh URLs and
        try again; when the result is gone for good, drop the partial file and journal
        ``url_expired``."""
        refreshed = False
        while True:
            try:
                return download(att)
            except ResultGone:
                if not refreshed:
                    refreshed = True
                    fresh = self._refresh_urls(shot, att)
                    if fresh is not None:
                        att = fresh
                        continue
                part(att).unlink(missing_ok=True)     # the result is gone: nothing to resume
                return self.ctx.journal.update(att.id, url_expired=1, event="url-expired",
                                               detail={"what": what})

    # ---- last frame ---------------------------------------------------------------------------
    def frame(self, shot, att: J.Attempt) -> J.Attempt:
        """Make ``att``'s last frame available when the next shot chains from it: extracted from
        the local clip when that is on disk, else downloaded (the clip first when the provider
        returned no last frame). Sets ``url_expired`` when the result is gone; raises
        :class:`SequenceStop` when it cannot be had."""
        ctx = self.ctx
        if not ctx.needs_frame(shot) or frame_ok(att, ctx.run_dir):
            return att
        frame = frame_path(ctx.run_dir, shot.id)

        def part(att: J.Attempt) -> Path:
            return frame.parent / f".{shot.id}.{att.task_id}.png.part"

        def download(att: J.Attempt) -> J.Attempt:
            if att.last_frame_url and not clip_ok(att, ctx.run_dir):
                ctx.progress.shot(shot.id, "downloading", "last frame")
                size = self._result_size(shot, att)
                aid = att.id
                self._download(att.last_frame_url, frame, part(att),
                               verify=lambda p: self.verify_frame(p, size=size),
                               before_rename=lambda sha, n: ctx.journal.update(
                                   aid, frame_sha=sha, frame_source="provider",
                                   chain_digest=att.chain_digest
                                   or chain_digest(part(att).read_bytes()),
                                   frame_path=str(frame.relative_to(ctx.run_dir))),
                               max_bytes=_frame_cap(size), deadline=FRAME_DEADLINE)
            else:
                if not clip_ok(att, ctx.run_dir):
                    # the host gives no last frame (fal, Replicate): the chain waits for the clip
                    att = self.clip(shot, att)
                    if att.url_expired:
                        return att
                    att = self._downloaded(shot, att)
                    ctx.progress.message(f"{shot.id}: the provider returned no last frame; "
                                         "using the clip's decoded last frame")
                else:
                    ctx.progress.message(f"{shot.id}: last frame re-extracted from the local clip "
                                         "(its exact last frame; nothing submitted)")
                self._extract(shot, att)
            return ctx.journal.update(att.id, frame_at=time.time(), event="frame",
                                      detail={"frame": frame.name})

        try:
            return self._with_fresh_urls(shot, att, "last frame", part, download)
        except DownloadError as exc:
            raise SequenceStop(f"download of the last frame of task {att.task_id} failed: "
                               f"{exc}; re-run to retry (the task is recorded)") from None

    def _extract(self, shot, att: J.Attempt) -> None:
        """The clip's exact last frame (decoded to the end; 8-bit PNG even from 10-bit HEVC),
        checked against the provider's image-input limits, as the shot's last frame."""
        from ..media.last_frame import LastFrameError, extract_last_frame

        ctx = self.ctx
        frame = frame_path(ctx.run_dir, shot.id)
        tmp = frame.parent / f".{shot.id}.extract.png"
        tmp.unlink(missing_ok=True)
        try:
            extract_last_frame(clip_path(ctx.run_dir, shot.id), tmp,
                               limits=ctx.provider.image_limits)
        except LastFrameError as exc:
            raise SequenceStop(f"{shot.id}: {exc}; the next shot cannot start from it (the task "
                               "is recorded: nothing is submitted again)") from None
        # the chain digest is the frame as FIRST obtained: a re-extraction (other PNG bytes of the
        # same frame) keeps it, so the next shot keeps its key and is not paid for again
        ctx.journal.update(att.id, frame_sha=sha256_file(tmp), frame_source="extracted",
                           frame_path=str(frame.relative_to(ctx.run_dir)),
                           chain_digest=att.chain_digest or chain_digest(tmp.read_bytes()))
        os.replace(tmp, frame)

    # ---- clip -------------------------------------------------------------------------------
    def clip(self, shot, att: J.Attempt) -> J.Attempt:
        """Download and verify the clip (decoded in full: frame count, W x H). Sets
        ``url_expired`` when it is gone; raises :class:`DownloadError`."""
        ctx = self.ctx
        clip = clip_path(ctx.run_dir, shot.id)
        if att.clip_sha and clip.exists() and sha256_file(clip) == att.clip_sha:
            return att
        res = att.result
        dur = res.get("duration")
        expected_frames = res.get("frames") if isinstance(res.get("frames"), int) else (
            dur * 24 + 1 if isinstance(dur, int) and not isinstance(dur, bool) and dur > 0 else None)
        size = self._result_size(shot, att)
        if size is None and att.frame_sha and att.frame_source == "provider":
            frame = frame_path(ctx.run_dir, shot.id)
            if frame.exists():
                size = self.verify_frame(frame)

        def part(att: J.Attempt) -> Path:
            return clip.parent / f".{shot.id}.{att.task_id}.mp4.part"

        def download(att: J.Attempt) -> J.Attempt:
            if not att.video_url:
                raise DownloadError(f"task {att.task_id} succeeded without a video URL")
            ctx.progress.shot(shot.id, "downloading", "video")
            aid = att.id

            def verify(p: Path):
                check = self.verify_clip(p, expected_frames=expected_frames, size=size)
                with self._lock:
                    self._checks[aid] = check      # the decoded size and frame count (usage)
                return check

            self._download(att.video_url, clip, part(att), verify=verify,
                           before_rename=lambda sha, n: ctx.journal.update(
                               aid, clip_sha=sha, clip_bytes=n,
                               clip_path=str(clip.relative_to(ctx.run_dir))),
                           max_bytes=_clip_cap(size or (shot.width, shot.height),
                                               expected_frames or shot.frames),
                           deadline=CLIP_DEADLINE)
            return ctx.journal.get(att.id)

        return self._with_fresh_urls(shot, att, "video", part, download)

    def _downloaded(self, shot, att: J.Attempt) -> J.Attempt:
        """Journal that ``att``'s clip is on disk (verified). When the host reported no usage
        (fal, Replicate) the billed tokens are computed from the clip with the table's formula
        (``floor(W*H*frames/1024)``, no input video) and, where the price is per token, the cost
        from them; with no price the cost stays unknown (never invented)."""
        ctx = self.ctx
        vals: dict[str, Any] = {}
        detail: dict[str, Any] = {"clip": clip_path(ctx.run_dir, shot.id).name}
        if att.tokens is None and att.state == J.SUCCEEDED and not shot.references.get("videos"):
            with self._lock:
                check = self._checks.pop(att.id, None)
            try:
                if check is None:        # verified by an earlier run: decode it again
                    check = self.verify_clip(clip_path(ctx.run_dir, shot.id))
                w, h, n = int(check.width), int(check.height), int(check.frames)
            except Exception:  # noqa: BLE001 - a verifier without size (tests): usage stays unknown
                w = h = n = 0
            if w > 0 and h > 0 and n > 0:
                from ..models import billed_tokens

                tokens = billed_tokens(w, h, n)
                vals["tokens"] = tokens
                detail["tokens_computed"] = f"{w}x{h}x{n} frames/1024 (the host reported no usage)"
                if att.price is not None:
                    vals["cost"] = tokens / 1e6 * att.price
                    ctx.gate.settle(att.marker, vals["cost"])
        return ctx.journal.update(att.id, downloaded_at=time.time(), event="downloaded",
                                  detail=detail, **vals)

    def schedule(self, shot, att: J.Attempt) -> None:
        """Download ``att``'s clip on the download pool (once per attempt)."""
        with self._lock:
            job = self.videos.get(shot.id)
            if job is not None and job.attempt_id == att.id and (
                    not job.future.done() or job.future.result()[0] == "ok"):
                return
            fut = self.pool.submit(self._video_job, shot, att.id)
            self.videos[shot.id] = VideoJob(att.id, fut)

    def _video_job(self, shot, attempt_id: int) -> tuple[str, str]:
        """Pool task: ("ok", ""), ("expired", message) or ("error", message). Never raises."""
        ctx = self.ctx
        att = ctx.journal.get(attempt_id)
        try:
            if ctx.stop.is_set():
                return "error", "interrupted before the clip was downloaded; re-run to resume"
            att = self.clip(shot, att)
            if att.url_expired:
                return "expired", f"the result URL of task {att.task_id} expired"
            self._downloaded(shot, att)
            ctx.progress.shot(shot.id, "done", f"task {att.task_id}")
            ctx.landed(shot.id)
            return "ok", ""
        except DownloadError as exc:
            return "error", (f"download of task {att.task_id} failed: {exc}; re-run to retry "
                             "(the task is recorded)")
        except Exception as exc:  # noqa: BLE001 - reported as this shot's stop, never lost
            return "error", (f"download of task {att.task_id} failed unexpectedly: "
                             f"{type(exc).__name__}: {exc}; re-run to retry (the task is recorded)")

    def outcomes(self, seq, upto: int, *, block: bool) -> int | None:
        """Check the clip downloads of ``seq.shots[:upto]``: the index of the first shot that
        needs a new task (URL expired), ``None`` when none does; raises :class:`SequenceStop` for
        a clip that could not be downloaded. ``block`` waits for downloads still running."""
        for k, shot in enumerate(seq.shots[:upto]):
            job = self.videos.get(shot.id)
            if job is None:
                continue
            if block:
                while not job.future.done():
                    if self.ctx.wait(0.05):
                        raise Interrupted("interrupted")
            elif not job.future.done():
                continue
            outcome, detail = job.future.result()
            if outcome == "expired":
                return k
            if outcome == "error":
                raise SequenceStop(detail, shot_id=shot.id)
        return None
