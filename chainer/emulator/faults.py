"""Fault injection: probabilities and schedules, deterministic given a fault seed.

A faults file (JSON or YAML) or dict looks like::

    seed: 7
    create_429:        {schedule: [2]}            # the 2nd create answers 429
    server_error:      {probability: 0.05, endpoints: [get, list]}   # 5xx on any call
    drop_connection:   {probability: 0.02}        # close the socket, no response
    drop_after_create: {schedule: [1]}            # task IS created, then the socket is closed
    task_failed:       {schedule: [3], code: OutputVideoSensitiveContentDetected.PolicyViolation}
    task_stuck:        {probability: 0.1}         # stays running until it expires
    slow_download:     {schedule: [1], bytes_per_second: 200000}
    truncated_download: {probability: 0.2, fraction: 0.5}   # Content-Length full, body cut short
    expired_url:       {schedule: [1]}            # result URLs answer 403 at once
    video_not_ready:   {schedule: [1], seconds: 5}   # 400 on a download within 5 s of success
    queue_cap:         {limit: 120}               # 429 while 120 tasks are queued (BytePlus)
    rpm_limit:         {limit: 600}               # 429 above 600 creates per model per minute

Each rule has ``probability`` (0..1), ``schedule`` (1-based occurrence numbers of the event the
rule watches) and optional ``max`` (total times it may fire). Events counted per rule:
create_429 = create calls (after auth); drop_after_create, task_failed, task_stuck = tasks
actually created; server_error, drop_connection = calls to the listed ``endpoints`` (create, get,
list, delete, download); slow_download, truncated_download, expired_url = result downloads;
video_not_ready = downloads made within ``seconds`` of the task's success. ``queue_cap`` and
``rpm_limit`` are limits, not draws: they fire whenever the account is at ``limit``. Every rule
draws from its own ``random.Random`` seeded from (seed, rule name), so one rule's draws never shift
another's.

A malformed file is an InputError (exit 2) with one line naming the file, the rule and the key.
"""
from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from ..errors import InputError

ENDPOINTS = ("create", "get", "list", "delete", "download")


@dataclass
class Rule:
    probability: float = 0.0
    schedule: tuple[int, ...] = ()
    max: int | None = None
    # rule-specific knobs
    code: str | None = None
    message: str | None = None
    status: int | None = None
    endpoints: tuple[str, ...] = ENDPOINTS
    bytes_per_second: float = 256_000.0
    fraction: float = 0.5
    seconds: float = 5.0              # video_not_ready: the window after success
    limit: int | None = None          # queue_cap / rpm_limit


RULE_NAMES = ("create_429", "server_error", "drop_connection", "drop_after_create", "task_failed",
              "task_stuck", "slow_download", "truncated_download", "expired_url", "video_not_ready",
              "queue_cap", "rpm_limit")
LIMIT_RULES = ("queue_cap", "rpm_limit")

# What each key must be: (python types, description). bool is excluded from numbers explicitly.
_KEY_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "probability": ((int, float), "a number in 0..1"),
    "schedule": ((list, tuple), "a list of 1-based occurrence numbers"),
    "max": ((int,), "a whole number >= 0"),
    "code": ((str,), "text"),
    "message": ((str,), "text"),
    "status": ((int,), "an HTTP status 400..599"),
    "endpoints": ((list, tuple), "a list of " + ", ".join(ENDPOINTS)),
    "bytes_per_second": ((int, float), "a number > 0"),
    "fraction": ((int, float), "a number in [0, 1)"),
    "seconds": ((int, float), "a number > 0"),
    "limit": ((int,), "a whole number >= 1"),
}

# Defaults per rule where a bare {probability: ...} needs more to be realistic.
_RULE_DEFAULTS: dict[str, dict[str, Any]] = {
    "create_429": {"code": "RateLimitExceeded.EndpointRPMExceeded", "status": 429},
    "server_error": {"code": "InternalServiceError", "status": 500},
    "task_failed": {"code": "OutputVideoSensitiveContentDetected.PolicyViolation"},
    "drop_after_create": {"endpoints": ("create",)},
}


@dataclass
class FaultConfig:
    seed: int = 0
    rules: dict[str, Rule] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, source: str = "faults") -> "FaultConfig":
        data = dict(data or {})
        seed = data.pop("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise InputError(f"{source}: seed: must be an integer")
        rules: dict[str, Rule] = {}
        known = {f.name for f in fields(Rule)}
        for name, spec in data.items():
            if name not in RULE_NAMES:
                raise InputError(f"{source}: {name}: unknown fault (allowed: seed, {', '.join(RULE_NAMES)})")
            if isinstance(spec, (int, float)) and not isinstance(spec, bool):
                spec = {"limit": spec} if name in LIMIT_RULES else {"probability": float(spec)}
            if not isinstance(spec, Mapping):
                raise InputError(f"{source}: {name}: must be a mapping or a probability")
            merged = {**_RULE_DEFAULTS.get(name, {}), **spec}
            bad = set(merged) - known
            if bad:
                raise InputError(f"{source}: {name}: unknown key(s) {sorted(map(str, bad))} (allowed: {sorted(known)})")
            for key, value in spec.items():
                types, what = _KEY_TYPES[key]
                if value is None and key in ("max", "code", "message", "status", "limit"):
                    continue
                if isinstance(value, bool) or not isinstance(value, types):
                    raise InputError(f"{source}: {name}.{key}: must be {what}, got {value!r}")
                if key in ("schedule", "endpoints"):
                    inner = int if key == "schedule" else str
                    if any(isinstance(x, bool) or not isinstance(x, inner) for x in value):
                        raise InputError(f"{source}: {name}.{key}: must be {what}, got {value!r}")
            rule = Rule(**merged)
            rule.probability = float(rule.probability)
            rule.schedule = tuple(rule.schedule or ())
            rule.endpoints = tuple(rule.endpoints)
            if not 0.0 <= rule.probability <= 1.0:
                raise InputError(f"{source}: {name}.probability: {rule.probability} is out of range 0..1")
            if any(x < 1 for x in rule.schedule):
                raise InputError(f"{source}: {name}.schedule: occurrences are 1-based positive integers")
            bad_ep = set(rule.endpoints) - set(ENDPOINTS)
            if bad_ep:
                raise InputError(f"{source}: {name}.endpoints: unknown {sorted(bad_ep)} (allowed: {', '.join(ENDPOINTS)})")
            if not 0.0 <= rule.fraction < 1.0:
                raise InputError(f"{source}: {name}.fraction: must be in [0, 1)")
            if rule.max is not None and rule.max < 0:
                raise InputError(f"{source}: {name}.max: must be a whole number >= 0")
            if rule.status is not None and not 400 <= rule.status <= 599:
                raise InputError(f"{source}: {name}.status: must be an HTTP status 400..599")
            if rule.bytes_per_second <= 0 or rule.seconds <= 0:
                key = "bytes_per_second" if rule.bytes_per_second <= 0 else "seconds"
                raise InputError(f"{source}: {name}.{key}: must be a number > 0")
            if name in LIMIT_RULES and (rule.limit is None or rule.limit < 1):
                raise InputError(f"{source}: {name}.limit: must be a whole number >= 1 "
                                 f"(e.g. {name}: {{limit: {120 if name == 'queue_cap' else 600}}})")
            rules[name] = rule
        return cls(seed=seed, rules=rules)

    @classmethod
    def load(cls, value: "FaultConfig | Mapping | str | Path | None") -> "FaultConfig":
        """Accept a FaultConfig, a dict, or a path to a JSON/YAML file."""
        if value is None:
            return cls()
        if isinstance(value, FaultConfig):
            return value
        if isinstance(value, Mapping):
            return cls.from_dict(value)
        path = Path(value)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{path}: cannot read faults file ({exc.strerror})") from None
        except UnicodeDecodeError:
            raise InputError(f"{path}: not a text file (faults files are JSON or YAML)") from None
        try:
            if path.suffix.lower() == ".json":
                data = json.loads(text)
            else:
                import yaml

                data = yaml.safe_load(text)
        except Exception as exc:  # noqa: BLE001 - any parse error is the user's file
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise InputError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: "
                             f"{first}") from None
        if data is not None and not isinstance(data, Mapping):
            raise InputError(f"{path}: must contain a mapping of fault names")
        return cls.from_dict(data, source=str(path))


class FaultInjector:
    """Decides, thread-safely and deterministically, whether a fault fires for an event."""

    def __init__(self, config: FaultConfig):
        self.config = config
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._fired: dict[str, int] = {}
        self._rngs = {name: random.Random(f"{config.seed}:{name}") for name in config.rules}

    def fire(self, name: str, endpoint: str | None = None) -> Rule | None:
        """Count one occurrence of the event watched by rule ``name``; return the rule if it fires."""
        rule = self.config.rules.get(name)
        if rule is None or (endpoint is not None and endpoint not in rule.endpoints):
            return None
        with self._lock:
            n = self._counts.get(name, 0) + 1
            self._counts[name] = n
            draw = self._rngs[name].random()       # always draw: keeps the stream aligned
            hit = n in rule.schedule or draw < rule.probability
            if hit and rule.max is not None and self._fired.get(name, 0) >= rule.max:
                hit = False
            if hit:
                self._fired[name] = self._fired.get(name, 0) + 1
                return rule
        return None

    def fired(self) -> dict[str, int]:
        with self._lock:
            return dict(self._fired)
