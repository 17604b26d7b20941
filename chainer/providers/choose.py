"""Which host a render uses: ``--provider``, else the storyboard's ``provider:``, else ``auto``.

``auto`` picks the host whose credential is set, following each official client's convention:
``ARK_API_KEY`` -> Volcengine Ark (BytePlus ModelArk uses the same variable: say ``byteplus`` in the
storyboard or on the command line), ``FAL_KEY`` -> fal, ``REPLICATE_API_TOKEN`` -> Replicate. With
none set: the built-in emulator. A named host without its credential (and without ``--base-url``)
renders on the built-in emulator of that host's wire shape; the caller says so (one line).
Pure: no network, the environment is passed in.
"""
from __future__ import annotations

from typing import Mapping

from ..errors import InputError

CHOICES = ("auto", "ark", "byteplus", "fal", "replicate", "emulator")
ALIASES = {"volcengine": "ark"}
# host -> the environment variable its official client reads the key from
KEY_VARS = {"ark": "ARK_API_KEY", "byteplus": "ARK_API_KEY", "fal": "FAL_KEY",
            "replicate": "REPLICATE_API_TOKEN"}
_AUTO_ORDER = ("ark", "fal", "replicate")


def choose_provider(requested: str | None, storyboard: str | None,
                    env: Mapping[str, str]) -> str:
    """The provider name to open: ``requested`` (the ``--provider`` option) unless it is
    ``auto``/None, then the storyboard's ``provider:``, then the first host whose key is set in
    ``env`` (ark, fal, replicate), else ``emulator``. Other registered names pass through."""
    name = ALIASES.get(requested or "auto", requested or "auto")
    if name == "auto" and storyboard:
        name = ALIASES.get(storyboard, storyboard)
    if name != "auto":
        return name
    for host in _AUTO_ORDER:
        if env.get(KEY_VARS[host]):
            return host
    return "emulator"


def plan_host(provider_name: str) -> str:
    """The model-table host a provider's tasks run on (ids, offer, prices, currency): the
    emulator and the mock speak Ark's ids and list Ark's prices."""
    return provider_name if provider_name in KEY_VARS else "ark"


def check_choice(requested: str) -> None:
    if requested not in CHOICES and requested not in ALIASES and requested != "mock":
        from .base import registered

        if requested not in registered():
            raise InputError(f"--provider: {requested!r} is not one of {', '.join(CHOICES)}")


_CLASSES = {"ark": ("chainer.providers.ark", "ArkProvider"),
            "byteplus": ("chainer.providers.byteplus", "BytePlusProvider"),
            "fal": ("chainer.providers.fal", "FalProvider"),
            "replicate": ("chainer.providers.replicate", "ReplicateProvider")}


def host_notes(host: str, *, chained: bool) -> list[str]:
    """What differs on ``host`` for the planner to say, read from its adapter's class attributes
    (``returns_last_frame``, ``output_retention``): no network, nothing opened."""
    import importlib

    where = _CLASSES.get(plan_host(host))
    if where is None:
        return []
    cls = getattr(importlib.import_module(where[0]), where[1])
    notes = []
    if chained and not cls.returns_last_frame:
        notes.append(f"{host} returns no last frame: each chained shot waits for the previous "
                     "clip's download and starts from that clip's exact last frame, taken locally")
    if cls.output_retention:
        notes.append(f"{host} deletes results {cls.output_retention / 3600:g} h after a task "
                     "succeeds: every clip is downloaded at once; a shot whose clip was not "
                     "downloaded in time is rendered (and paid) again")
    return notes
