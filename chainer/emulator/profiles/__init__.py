"""Wire-shape profiles: which host's API the emulator speaks (``EmulatorConfig(api=...)``).

Every profile drives the same task store (same procedural clips, faults and ``/_emulator/stats``
counters); only routes, request/response bodies, auth and error shapes differ:

- ``ark``       Volcengine Ark (the server's built-in routes, ark-api.md)
- ``byteplus``  BytePlus ModelArk: Ark shape, BytePlus model ids, a 120-queued-task cap
- ``fal``       fal.ai queue API (submit / status_url / response_url / cancel_url)
- ``replicate`` Replicate predictions API (outputs deleted one hour after completion)
"""
from __future__ import annotations

from .base import Drop, HostReply, HostRequest, Profile

API_NAMES = ("ark", "byteplus", "fal", "replicate")


def make_profile(api: str) -> Profile:
    """A fresh profile instance (profiles hold per-emulator state; never share one)."""
    if api == "ark":
        from .ark import ArkProfile
        return ArkProfile()
    if api == "byteplus":
        from .byteplus import BytePlusProfile
        return BytePlusProfile()
    if api == "fal":
        from .fal import FalProfile
        return FalProfile()
    if api == "replicate":
        from .replicate import ReplicateProfile
        return ReplicateProfile()
    raise ValueError(f"unknown emulator api {api!r} (allowed: {', '.join(API_NAMES)})")


__all__ = ["API_NAMES", "Drop", "HostReply", "HostRequest", "Profile", "make_profile"]
