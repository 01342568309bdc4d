"""Base64 helpers that fail with a named error instead of binascii's."""

from __future__ import annotations

import base64
import binascii

from xtdf.errors import FormatError


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str | bytes, what: str = "value") -> bytes:
    """Decode standard base64, tolerating missing padding (some SDKs drop it)."""
    if isinstance(text, str):
        text = text.encode("ascii", "strict") if text.isascii() else b"!"
    text = text.strip()
    text += b"=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise FormatError(f"{what} is not valid base64") from exc


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str, what: str = "value") -> bytes:
    """Decode base64url with or without padding; any other character is an error (the
    standard decoder would drop it silently, so two spellings would give one value)."""
    raw = text.encode("ascii", "replace")
    raw += b"=" * (-len(raw) % 4)
    try:
        return base64.b64decode(raw, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise FormatError(f"{what} is not valid base64url") from exc
