"""Shot keys: the identity of a shot's *result*.

A key is the SHA-256 of the exact create body the shot would send (model, every parameter, prompt,
and every image / video / audio input reduced to the SHA-256 of its bytes or URL), minus the fields
that do not change the clip (``return_last_frame``, ``callback_url``, ``safety_identifier``). A
chained shot's first frame enters as the hash of the previous shot's last-frame PNG, so editing
shot k changes k's clip, hence its last frame, hence the keys of every later shot in its sequence
and nothing else.
"""
from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

KEY_VERSION = "chainer-shot-key/1"
_IGNORED = ("return_last_frame", "callback_url", "safety_identifier", "priority")


def data_url_png(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


DIGESTED = "chainer-digest:"     # a media URL already reduced to its digest (a chain frame's)


def media_digest(url: str) -> str:
    """What a media URL contributes to a key: the SHA-256 of its text."""
    return "sha256:" + hashlib.sha256(url.encode()).hexdigest()


def chain_digest(png: bytes) -> str:
    """The key digest of a last frame as the next shot's first frame (its data: URL's digest).
    Journalled when the frame is first obtained, so the next shot's key survives the PNG file
    being lost and re-extracted from the clip (other bytes, the same frame)."""
    return media_digest(data_url_png(png))


def _digest_media(value: Any) -> Any:
    """Replace every media URL in a create body by the hash of its text (data: URLs hash bytes);
    a ``chainer-digest:`` placeholder stands for such a hash already taken."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "url" and isinstance(v, str):
                out[k] = v[len(DIGESTED):] if v.startswith(DIGESTED) else media_digest(v)
            else:
                out[k] = _digest_media(v)
        return out
    if isinstance(value, list):
        return [_digest_media(v) for v in value]
    return value


def body_fingerprint(body: dict[str, Any]) -> str:
    """The key of a create body (see module docstring)."""
    clean = {k: v for k, v in body.items() if k not in _IGNORED and v is not None}
    canon = json.dumps({"v": KEY_VERSION, "body": _digest_media(clean)}, sort_keys=True,
                       separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canon.encode()).hexdigest()


def compact_body(body: dict[str, Any]) -> dict[str, Any]:
    """The body as stored in the journal: data: URLs replaced by their size and hash."""
    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (_short(v) if k == "url" and isinstance(v, str) else walk(v))
                    for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    def _short(url: str) -> str:
        if url.startswith("data:"):
            head = url.split(",", 1)[0]
            return f"{head},<{len(url)} chars sha256:{hashlib.sha256(url.encode()).hexdigest()[:16]}>"
        return url

    return walk(body)
