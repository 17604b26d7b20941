"""The Ark task object (ark-api.md section 5), parsed leniently like the official SDK does."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TERMINAL = ("succeeded", "failed", "expired", "cancelled")
IN_FLIGHT = ("queued", "running")


@dataclass
class Task:
    id: str
    status: str
    model: str | None = None
    created_at: int | None = None
    updated_at: int | None = None
    video_url: str | None = None
    last_frame_url: str | None = None
    seed: int | None = None
    resolution: str | None = None
    ratio: str | None = None
    duration: int | None = None
    frames: int | None = None
    framespersecond: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    service_tier: str | None = None
    safety_identifier: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Task":
        content = data.get("content") or {}
        usage = data.get("usage") or {}
        error = data.get("error") or data.get("failure_reason") or {}
        if not isinstance(error, dict):
            error = {"message": str(error)}
        return cls(
            id=str(data.get("id") or ""),
            status=str(data.get("status") or "unknown"),
            model=data.get("model"),
            created_at=_int(data.get("created_at")),
            updated_at=_int(data.get("updated_at")),
            video_url=content.get("video_url") if isinstance(content, dict) else None,
            last_frame_url=content.get("last_frame_url") if isinstance(content, dict) else None,
            seed=_int(data.get("seed")),
            resolution=data.get("resolution"),
            ratio=data.get("ratio"),
            duration=_int(data.get("duration")),
            frames=_int(data.get("frames")),
            framespersecond=_int(data.get("framespersecond") or data.get("framepersecond")),
            completion_tokens=_int(usage.get("completion_tokens")) if isinstance(usage, dict) else None,
            total_tokens=_int(usage.get("total_tokens")) if isinstance(usage, dict) else None,
            error_code=_str(error.get("code")),
            error_message=_str(error.get("message")),
            service_tier=data.get("service_tier"),
            safety_identifier=data.get("safety_identifier"),
            raw=dict(data),
        )


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
