"""The provider seam: one interface every video host is reached through (the emulator included).

Modelled on httpx's transport seam and PySceneDetect's backends: the run (``chainer/run/``)
speaks only this interface; everything a host's wire format, status names, error classes,
marker field, tiers and poll cadence mean lives in one adapter module (``ark.py``, ``mock.py``,
``byteplus.py``, ``fal.py``, ``replicate.py``). Data flows one way: a ``PlannedShot`` goes in,
a :class:`ProviderRequest` is built, submitted once, and :class:`TaskStatus` values come back.

Contract (what the run relies on; an adapter that cannot keep a point says so in its docstring)

- ``name``: registry name ("ark", "emulator", "mock", "byteplus", ...).
- ``identity``: where this provider's tasks live: ``"<name>@<normalised base URL>"``
  (:func:`normalise_base_url`). Journalled per attempt; a task is only ever polled, looked up or
  cancelled through a provider with the same identity (rule 6: a changed ``--base-url`` never
  declares old tasks lost).
- ``key_identity``: what makes two results interchangeable (hashed into every shot key). Hosts
  serving the same model bytes share it; it does NOT contain the base URL, so changing endpoint
  does not silently re-render shots that are already paid for.
- ``currency``: the currency of :meth:`price` and of costs computed by :meth:`cost`.
- ``returns_last_frame``: whether a succeeded task can carry the clip's last frame as a separate
  image. When False the run extracts the exact last frame from the downloaded clip.
- ``billed``: submissions cost money (the emulator's do not: never asked to confirm, still
  budgeted and counted).
- ``image_limits`` (:class:`~chainer.media.last_frame.ImageLimits`): what a last frame extracted
  from a clip must fit to be sent as the next first frame; ``output_retention``: seconds a result
  stays downloadable after success (None = not stated by the host; Replicate: one hour).
- ``ephemeral``: the provider's tasks die with this process (the in-process emulator, the mock);
  an attempt recorded under an ephemeral identity of another process is known to be gone.
- :meth:`build_request` (pure, no network): the wire body for a planned shot; ``first_frame`` is
  the previous shot's last frame (an https URL the provider gave, or ``data:image/png;base64,...``)
  for a chained shot. ``marker`` (from the run, unique per attempt) is embedded when the host
  echoes it back on its task records (:attr:`ProviderRequest.marker_sent`).
- :meth:`submit`: ONE create request; returns the task id. Never retries by itself. Any exception
  is classified with :meth:`classify`: only ``refused``, ``rate_limited`` and ``not_sent`` prove no
  task was created; everything else is ambiguous and is resolved with :meth:`find`.
- :meth:`get`: the task's :class:`TaskStatus` (neutral states, see ``STATES``). Raises on failure
  (classify it; ``not_found`` is NOT proof the task is gone: see :meth:`lookup`).
- :meth:`find` after an ambiguous create: exactly one of :class:`FindResult` ``proven(task)`` /
  ``absent`` / ``unknown(reason)``. Adapters gather evidence (a scan of recent tasks, whether it
  was complete, the provider's own clock) and decide with :func:`decide_ownership`: the ONE
  "is this task ours?" check.
- :meth:`lookup` (404 re-check): :class:`Lookup` ``present(task)`` / ``absent`` / ``unknown``.
  ``absent`` only on conclusive evidence (lookup by id AND a filtered list agree).
- :meth:`cancel`: cancel a queued task (best effort; raises on failure).
- :meth:`classify`: any exception raised by this adapter -> :class:`Failure`.
- :meth:`poll_policy`: the default :class:`~chainer.providers.poll.PollPolicy` for this host.
- :meth:`price`: :class:`Price` (per million tokens + currency) for a planned shot, or ``None``
  when unknown; :meth:`estimate`: the expected cost of one task of the shot in :attr:`currency`
  (what the payment gate counts); :meth:`cost` turns a finished task's usage into money (tier
  discounts included).
- :meth:`download`: stream a result URL into a file, bounded by ``max_bytes`` and ``deadline``
  seconds overall; raises (classify: ``result_gone`` when the URL no longer answers).
- :meth:`close`: release connections.

Every string an adapter returns has been redacted (no key fragment) and bounded; task ids are
validated before they touch a path or URL (``valid_task_id``).
"""
from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from ..media.last_frame import SEEDANCE_LIMITS, ImageLimits
from .poll import PollPolicy

__all__ = ["Provider", "ProviderRequest", "TaskStatus", "FindResult", "Lookup", "Failure",
           "Price", "PollPolicy", "STATES", "TERMINAL", "IN_FLIGHT", "FAILURE_KINDS",
           "decide_ownership", "normalise_base_url", "valid_task_id", "register", "open_provider",
           "registered", "CREATE_SLACK"]

# neutral task states (adapters map their host's names onto these)
QUEUED, RUNNING, SUCCEEDED = "queued", "running", "succeeded"
FAILED, EXPIRED, CANCELLED = "failed", "expired", "cancelled"
STATES = (QUEUED, RUNNING, SUCCEEDED, FAILED, EXPIRED, CANCELLED)
TERMINAL = (SUCCEEDED, FAILED, EXPIRED, CANCELLED)
IN_FLIGHT = (QUEUED, RUNNING)

CREATE_SLACK = 120.0     # seconds of tolerance around the create window, in the provider's clock

_TASK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def valid_task_id(task_id: object) -> bool:
    """A task id safe to put in a path or URL segment (no ``/``, no ``..``, no control chars)."""
    return (isinstance(task_id, str) and _TASK_ID.fullmatch(task_id) is not None
            and ".." not in task_id)


def normalise_base_url(url: str) -> str:
    """Lower-case scheme and host, default ports dropped, no trailing slash, no userinfo, query
    or fragment: two spellings of one endpoint give one identity."""
    import httpx

    u = httpx.URL(url.strip())
    scheme = (u.scheme or "https").lower()
    host = (u.host or "").lower()
    port = u.port
    if (scheme, port) in (("https", 443), ("http", 80)):
        port = None
    host_part = f"[{host}]" if ":" in host else host
    path = u.path.rstrip("/")
    return f"{scheme}://{host_part}{f':{port}' if port else ''}{path}"


# ---- values -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProviderRequest:
    """What :meth:`Provider.submit` sends. ``body`` is the wire body; ``model`` the host's model
    id; ``params``: the neutral parameters a task record must echo identically for the task to
    be ours (only what was really sent and the host echoes: no seed when none was sent, no
    "adaptive" ratio); ``marker`` the client marker, ``marker_sent`` whether it is in ``body``."""

    body: dict[str, Any]
    model: str
    params: dict[str, Any] = field(default_factory=dict)
    marker: str | None = None
    marker_sent: bool = False
    first_frame: str | None = None        # "url" | "data" | None: how the first frame was sent


@dataclass(frozen=True)
class TaskStatus:
    """A task as the provider reports it, in neutral terms. Times are epoch seconds on the
    PROVIDER's clock. ``params``: the echoed neutral parameters (same keys as
    :attr:`ProviderRequest.params`). ``tokens``: billed usage (completion tokens for Seedance)."""

    id: str
    state: str                            # one of STATES, or "unknown" (never trusted as terminal)
    model: str | None = None
    created_at: float | None = None
    updated_at: float | None = None
    video_url: str | None = None
    last_frame_url: str | None = None
    seed: int | None = None
    tokens: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    marker: str | None = None
    service_tier: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)   # resolution/ratio/duration/frames/fps...

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    @property
    def in_flight(self) -> bool:
        return self.state in IN_FLIGHT


@dataclass(frozen=True)
class FindResult:
    """Outcome of :meth:`Provider.find`: exactly one of proven / absent / unknown."""

    kind: str                             # "proven" | "absent" | "unknown"
    task: TaskStatus | None = None
    reason: str = ""
    duplicates: tuple[str, ...] = ()      # further task ids that carry our marker

    @classmethod
    def proven(cls, task: TaskStatus, reason: str = "", duplicates: Iterable[str] = ()) -> "FindResult":
        return cls("proven", task, reason, tuple(duplicates))

    @classmethod
    def absent(cls, reason: str = "") -> "FindResult":
        return cls("absent", None, reason)

    @classmethod
    def unknown(cls, reason: str) -> "FindResult":
        return cls("unknown", None, reason)


@dataclass(frozen=True)
class Lookup:
    """Outcome of :meth:`Provider.lookup`: present(task) / absent / unknown(reason)."""

    kind: str                             # "present" | "absent" | "unknown"
    task: TaskStatus | None = None
    reason: str = ""

    @classmethod
    def present(cls, task: TaskStatus) -> "Lookup":
        return cls("present", task)

    @classmethod
    def absent(cls, reason: str = "") -> "Lookup":
        return cls("absent", None, reason)

    @classmethod
    def unknown(cls, reason: str) -> "Lookup":
        return cls("unknown", None, reason)


# failure kinds: what an exception proves
FAILURE_KINDS = (
    "refused",        # the host answered and did not accept the request: certainly no task
    "rate_limited",   # 429/quota: certainly no task; may be retried later
    "not_sent",       # the connection was never established: certainly no task
    "ambiguous",      # may have reached the host (timeout, dropped connection, 5xx, bad 2xx body)
    "not_found",      # the host says it does not know the task (NOT proof it is gone)
    "result_gone",    # a result URL no longer answers (expired signature)
    "auth",           # 401/403 on the API: the key is wrong or lacks access
    "download",       # a result download failed (transient, or did not verify)
    "other",
)


@dataclass(frozen=True)
class Failure:
    """What an exception means to the run. ``retryable``: a read (get/list/lookup/download) may
    be repeated; a create may be repeated only when :attr:`no_task`."""

    kind: str
    message: str
    retryable: bool = False
    code: str | None = None
    param: str | None = None
    status: int | None = None
    about_input: bool = False    # the host refused an input image/URL (e.g. a stale frame URL)

    @property
    def no_task(self) -> bool:
        """True when the failed create certainly created no task."""
        return self.kind in ("refused", "rate_limited", "not_sent", "auth")

    @property
    def create_retryable(self) -> bool:
        return self.kind in ("rate_limited", "not_sent")


@dataclass(frozen=True)
class Price:
    per_mtok: float
    currency: str

    @classmethod
    def of(cls, p) -> "Price | None":
        """A model-table price (:class:`chainer.models.Price`) as the run's; None stays None."""
        return None if p is None else cls(float(p.per_mtok), str(p.currency))


# ---- the ONE "is this task ours?" check -----------------------------------------------------

def decide_ownership(request: ProviderRequest, tasks: list[TaskStatus], *, complete: bool,
                     window: tuple[float, float] | None, known_ids: Iterable[str] = (),
                     markers_echoed: bool | None = None) -> FindResult:
    """Decide whether one of ``tasks`` (a scan of the provider's recent tasks) was created by
    ``request``. Proof is either our marker echoed on exactly the task, or ALL of: the model and
    every parameter in ``request.params`` echoed identically, a creation time inside ``window``
    (``(lo, hi)`` in the PROVIDER's clock; ``None`` when the provider's clock is unknown), the
    scan ``complete`` (reached the list's ``total``), and exactly one such task not already
    journalled (``known_ids``). ``absent`` needs a complete scan of a list that echoes markers
    and holds none of ours. Everything else is ``unknown`` (the sequence stops; never a second
    create)."""
    known = set(known_ids)
    if markers_echoed is None:
        markers_echoed = any(t.marker for t in tasks)
    if request.marker and request.marker_sent:
        mine = [t for t in tasks if t.marker == request.marker]
        if mine:
            bad = [t for t in mine if not _same_request(t, request, require_all=False)]
            if bad:
                return FindResult.unknown(
                    f"task {bad[0].id} carries this attempt's marker but its model or parameters "
                    "differ from the request")
            return FindResult.proven(mine[0], "marker echoed", [t.id for t in mine[1:]])
        if markers_echoed:
            # a task with another marker is not ours; one WITHOUT a marker might be, stripped
            unmarked = [t for t in tasks if not t.marker and t.id not in known
                        and _same_request(t, request, require_all=False)
                        and (window is None or t.created_at is None
                             or window[0] <= t.created_at <= window[1])]
            if not unmarked:
                if complete:
                    return FindResult.absent("no task carries this attempt's marker (complete scan)")
                return FindResult.unknown("the task list was not scanned to its end")
            # judged on its parameters below
    if not complete:
        return FindResult.unknown("the task list was not scanned to its end")
    if window is None:
        return FindResult.unknown("the provider's clock is unknown, so creation times prove nothing")
    lo, hi = window
    fits = [t for t in tasks if t.id not in known and _same_request(t, request)
            and t.created_at is not None and math.isfinite(t.created_at) and lo <= t.created_at <= hi]
    if len(fits) == 1:
        return FindResult.proven(fits[0], "model, every parameter and the creation time match")
    if fits:
        return FindResult.unknown(f"{len(fits)} recent tasks match the request "
                                  f"({', '.join(t.id for t in fits[:5])})")
    return FindResult.unknown("no task matching the request was found, and this provider's list "
                              "does not echo markers, so its absence is not proven")


def _same_request(task: TaskStatus, request: ProviderRequest, *, require_all: bool = True) -> bool:
    """Model equal and every parameter equal; with ``require_all=False`` (the marker already
    proves the task) a parameter the record does not echo (yet) is not held against it, but
    one echoed differently is."""
    if task.model != request.model:
        return False
    for k, v in request.params.items():
        if k not in task.params:
            if require_all:
                return False
            continue
        if task.params[k] != v:
            return False
    return True


def bounded_download(download: Callable[..., int], url: str, dest: Path, *, max_bytes: int,
                     deadline: float, client_bounds: bool = True) -> int:
    """``download(url, dest, on_bytes=...)`` held to ``max_bytes`` and ``deadline`` seconds
    overall, whatever the client does itself (a partial file already over the cap is dropped);
    ``client_bounds``: the client also takes ``max_bytes``/``deadline`` keywords."""
    import time

    from ..ark import DownloadError

    start = time.monotonic()
    got = [0]

    def guard(n: int) -> None:
        got[0] += n
        if got[0] > max_bytes:
            raise DownloadError(f"result larger than {max_bytes} bytes: refused")
        if time.monotonic() - start > deadline:
            raise DownloadError(f"download took longer than {deadline:.0f}s")

    dest = Path(dest)
    if dest.exists() and dest.stat().st_size > max_bytes:
        dest.unlink()
    if client_bounds:
        return download(url, dest, on_bytes=guard, max_bytes=max_bytes, deadline=deadline)
    return download(url, dest, on_bytes=guard)


# ---- the interface -----------------------------------------------------------------------------

class Provider(ABC):
    """One video host. See the module docstring for the contract."""

    name: str = "provider"
    currency: str = "CNY"
    returns_last_frame: bool = True
    billed: bool = True
    ephemeral: bool = False
    # what a last frame taken from a clip must fit to be the next shot's first frame (Seedance's
    # own input-image limits unless the host has stricter ones)
    image_limits: ImageLimits = SEEDANCE_LIMITS
    # seconds a result URL stays downloadable after the task succeeds (None: the host does not
    # say; Ark's signed URLs carry their own expiry). Replicate: 3600.
    output_retention: float | None = None

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")

    @property
    def identity(self) -> str:
        return f"{self.name}@{normalise_base_url(self.base_url)}"

    @property
    def key_identity(self) -> str:
        return self.name

    # -- requests and tasks --
    @abstractmethod
    def build_request(self, shot, first_frame: str | None = None, *, marker: str | None = None,
                      seed: int | None = None) -> ProviderRequest:
        """The create request for ``shot`` (pure). ``seed`` overrides the shot's seed (a
        re-render of an expired result with the seed the first task returned)."""

    @abstractmethod
    def submit(self, request: ProviderRequest) -> str:
        """One create; the task id (validated). Never retried here."""

    @abstractmethod
    def get(self, task_id: str) -> TaskStatus:
        """The task's current status."""

    @abstractmethod
    def find(self, request: ProviderRequest, *, since: float, known_ids: Iterable[str] = ()) -> FindResult:
        """After an ambiguous create of ``request`` (intent recorded at local time ``since``).
        A read that fails may raise: the caller retries what :meth:`classify` calls retryable
        and treats what is left as ``unknown``."""

    def at(self, base_url: str) -> "Provider | None":
        """The same host and credentials at another base URL, to poll a task where it was created
        (issue 10, rule 6); ``None`` when this provider cannot (e.g. an in-process emulator)."""
        return None

    @abstractmethod
    def lookup(self, task_id: str) -> Lookup:
        """Re-check a task a poll answered 404 for."""

    @abstractmethod
    def cancel(self, task_id: str) -> None:
        """Cancel a queued task."""

    @abstractmethod
    def classify(self, exc: BaseException) -> Failure:
        """What ``exc`` (raised by this adapter) means."""

    # -- policy and money --
    def poll_policy(self) -> PollPolicy:
        return PollPolicy()

    def expected_seconds(self, shot) -> float | None:
        """Expected generation time (for aiming a poll); None when unknown."""
        return None

    def price(self, shot) -> Price | None:
        per = getattr(shot, "price_per_mtok", None)
        return Price(float(per), self.currency) if per is not None else None

    def estimate(self, shot) -> float | None:
        p = self.price(shot)
        tokens = getattr(shot, "est_tokens", None)
        return None if p is None or tokens is None else tokens / 1e6 * p.per_mtok

    def cost(self, task: TaskStatus, per_mtok: float | None) -> float | None:
        if task.tokens is None or per_mtok is None:
            return None
        return task.tokens / 1e6 * per_mtok

    # -- results --
    @abstractmethod
    def download(self, url: str, dest: Path, *, max_bytes: int, deadline: float) -> int:
        """Stream ``url`` into ``dest`` (resuming a partial file); the size written."""

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:   # never shows a key
        return f"{type(self).__name__}({self.identity!r})"


# ---- registry ----------------------------------------------------------------------------------

_REGISTRY: dict[str, Callable[..., Provider]] = {}
_BUILTIN = {"ark": "chainer.providers.ark", "emulator": "chainer.providers.ark",
            "mock": "chainer.providers.mock", "byteplus": "chainer.providers.byteplus",
            "fal": "chainer.providers.fal", "replicate": "chainer.providers.replicate"}


def register(name: str, factory: Callable[..., Provider]) -> None:
    """Make ``open_provider(name, ...)`` call ``factory(base_url=..., api_key=..., **kw)``."""
    _REGISTRY[name] = factory


def registered() -> list[str]:
    return sorted(set(_REGISTRY) | set(_BUILTIN))


def open_provider(name: str, base_url: str | None = None, api_key: str | None = None,
                  **kw: Any) -> Provider:
    """The provider registered as ``name`` (adapters register themselves on import).
    Raises :class:`~chainer.errors.InputError` for an unknown name or missing key."""
    from ..errors import InputError

    if name not in _REGISTRY and name in _BUILTIN:
        import importlib

        try:
            importlib.import_module(_BUILTIN[name])
        except ModuleNotFoundError as exc:
            if exc.name != _BUILTIN[name]:
                raise
    factory = _REGISTRY.get(name)
    if factory is None:
        raise InputError(f"--provider: {name!r} is not one of {', '.join(registered())}")
    return factory(base_url=base_url, api_key=api_key, **kw)
