"""Shared pytest configuration. Area-specific helpers live in tests/<area>_util.py."""
from __future__ import annotations

import os

import pytest

# Tests never reach a real provider: make sure no key leaks in from the environment.
os.environ.pop("ARK_API_KEY", None)
os.environ.pop("ARK_BASE_URL", None)


@pytest.fixture
def repo_root():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent
