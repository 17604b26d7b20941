"""BytePlus ModelArk: Ark's task API at ``https://ark.ap-southeast.bytepluses.com/api/v3``.

Paths, auth (Bearer ``ARK_API_KEY``: key and region go together), bodies, statuses, error classes,
the marker echo (``safety_identifier``), find/lookup and downloads are Volcengine Ark's, so this is
:class:`~chainer.providers.ark.ArkProvider` with what differs (hosts-2026.md s5):

- model ids ``seedance-1-*`` / ``dreamina-seedance-2-*`` (no 1.0 lite: a validation error naming
  BytePlus, before anything is paid);
- USD prices per million tokens (by resolution, audio and video input);
- a 120-queued-task cap per account: its 429 is ``rate_limited`` (no task; retry later);
- no ``tools`` (never sent by chainer anyway).
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any

from .. import models
from ..errors import InputError
from ..ark.client import check_base_url
from .ark import EMULATOR_KEY, ArkProvider
from .base import Price, Provider, ProviderRequest, register
from .hosthttp import key_identity_for

DEFAULT_BASE_URL = "https://ark.ap-southeast.bytepluses.com/api/v3"


class BytePlusProvider(ArkProvider):
    currency = "USD"

    def __init__(self, base_url: str | None = None, api_key: str | None = None, **kw: Any):
        kw.setdefault("name", "byteplus")
        super().__init__(base_url or DEFAULT_BASE_URL, api_key, **kw)
        self.billed = self.emulator is None      # the in-process emulator costs nothing

    @property
    def key_identity(self) -> str:
        if self.emulator is not None:
            return "byteplus-emulator"
        return key_identity_for("byteplus", self.base_url)

    def build_request(self, shot, first_frame: str | None = None, *, marker: str | None = None,
                      seed: int | None = None) -> ProviderRequest:
        model = models.host_model_id(shot.model, "byteplus", shot.mode)
        if model is None:
            raise InputError(f"shot {shot.id}: model {shot.model.id} is not offered on BytePlus ModelArk")
        req = super().build_request(shot, first_frame, marker=marker, seed=seed)
        body = {**req.body, "model": model}
        return dataclasses.replace(req, body=body, model=model)

    def expected_seconds(self, shot) -> float | None:
        return getattr(shot, "est_wall_seconds", None) or None

    def estimate(self, shot) -> float | None:
        # ArkProvider's estimate is the plan's (Volcengine CNY) figure; BytePlus bills USD
        return Provider.estimate(self, shot)

    def price(self, shot) -> Price | None:
        return Price.of(models.price_for(shot.model, "byteplus", resolution=shot.resolution,
                                         audio=shot.generate_audio, tier=shot.service_tier,
                                         video_input=bool(shot.references.get("videos"))))


def open_byteplus(*, base_url: str | None = None, api_key: str | None = None,
                  emulator_config: Any = None, **kw: Any) -> BytePlusProvider:
    """BytePlus at ``base_url`` (default ap-southeast) with ``ARK_API_KEY``. With neither a key nor
    a base URL: a new in-process BytePlus-shaped emulator (ephemeral; the caller must say so)."""
    key = api_key or os.environ.get("ARK_API_KEY") or None
    if base_url is not None:
        check_base_url(base_url)
        return BytePlusProvider(base_url, key, **kw)
    if key:
        return BytePlusProvider(DEFAULT_BASE_URL, key, **kw)
    from ..emulator import Emulator, EmulatorConfig

    cfg = dataclasses.replace(emulator_config or EmulatorConfig(), api="byteplus")
    emu = Emulator(cfg)
    emu.__enter__()
    try:
        return BytePlusProvider(emu.base_url, EMULATOR_KEY, emulator=emu,
                                identity="byteplus-emulator@in-process", **kw)
    except BaseException:
        emu.__exit__(None, None, None)
        raise


register("byteplus", open_byteplus)
