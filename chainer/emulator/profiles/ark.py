"""Volcengine Ark: the emulator server's built-in routes (``chainer/emulator/server.py``).

This profile claims no path, so every ``/api/v3/contents/generations/tasks`` request reaches the
server's own Ark handler unchanged.
"""
from __future__ import annotations

from .base import Profile


class ArkProfile(Profile):
    name = "ark"
    base_path = "/api/v3"
