"""Prompt text commands (ark-api.md s2.2): ``--rs 720p --rt 16:9 --dur 5 --seed 11 --cf false``.

:func:`parse_text_commands` strips the recognised ``--name value`` pairs from the prompt and
returns them as body-field names with typed values. Unknown ``--words`` stay in the prompt.
Values that cannot be parsed raise :class:`TextCommandError` (Ark says a bad value "is ignored or
errors"; we error, which is the safer contract for clients: anything the emulator accepts, Ark
accepts).
"""
from __future__ import annotations

import re

# long and short names -> body field
ALIASES = {
    "resolution": "resolution", "rs": "resolution",
    "ratio": "ratio", "rt": "ratio",
    "duration": "duration", "dur": "duration",
    "frames": "frames",
    "framespersecond": "framespersecond", "fps": "framespersecond",
    "seed": "seed",
    "camerafixed": "camera_fixed", "cf": "camera_fixed",
    "watermark": "watermark", "wm": "watermark",
}
INT_FIELDS = {"duration", "frames", "framespersecond", "seed"}
BOOL_FIELDS = {"camera_fixed", "watermark"}

_CMD = re.compile(r"(?:(?<=\s)|^)--([A-Za-z_]+)(?:\s+|=)(\S+)")


class TextCommandError(ValueError):
    def __init__(self, field: str, command: str, value: str, allowed: str):
        self.field = field
        super().__init__(f"the text command `--{command} {value}` is not valid: expected {allowed}")


def parse_text_commands(text: str) -> tuple[str, dict[str, object]]:
    """Return (prompt without recognised commands, {body_field: value})."""
    params: dict[str, object] = {}
    spans: list[tuple[int, int]] = []
    for m in _CMD.finditer(text):
        name, raw = m.group(1), m.group(2)
        field = ALIASES.get(name.lower())
        if field is None:
            continue
        if field in INT_FIELDS:
            if not re.fullmatch(r"-?\d+", raw):
                raise TextCommandError(field, name, raw, "an integer")
            value: object = int(raw)
        elif field in BOOL_FIELDS:
            low = raw.lower()
            if low not in ("true", "false"):
                raise TextCommandError(field, name, raw, "true or false")
            value = low == "true"
        else:
            value = raw
        params[field] = value
        spans.append(m.span())
    if not spans:
        return text, params
    out, pos = [], 0
    for a, b in spans:
        out.append(text[pos:a])
        pos = b
    out.append(text[pos:])
    clean = re.sub(r"\s{2,}", " ", "".join(out)).strip()
    return clean, params
