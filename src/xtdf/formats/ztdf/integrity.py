"""Segment hashes and the root signature, in both of upstream's encodings.

Facts (opentdf/platform ``sdk/tdf.go``, ``calculateSignature``):

- segment hash ``GMAC`` is the segment's 16-byte GCM tag; ``HS256`` is
  HMAC-SHA256(DEK, iv || ciphertext || tag);
- the root signature is HMAC-SHA256(DEK, concatenation of the segment hashes as they are
  stored before base64), or for ``GMAC`` the last 16 bytes of that concatenation;
- 4.2.2 ("hexed") stores ``base64(hex(value))`` everywhere, 4.3.0 ("hexless")
  ``base64(value)``; upstream decides by the presence of a top-level ``schemaVersion``,
  but other SDKs (JS writes ``3.0.0`` hexed) do not follow that, so the reader here
  accepts either encoding by its length ("hexaflexible").
"""

from __future__ import annotations

import binascii

from xtdf.crypto.encoding import b64decode, b64encode
from xtdf.crypto.symmetric import GCM_TAG_SIZE, hmac_equal, hmac_sha256
from xtdf.errors import FormatError, UnsupportedError

HS256 = "HS256"
GMAC = "GMAC"
ALGORITHMS = (HS256, GMAC)


def normalise_alg(alg: str, what: str) -> str:
    if not isinstance(alg, str) or alg.upper() not in ALGORITHMS:
        raise UnsupportedError(f"{what} algorithm {alg!r} is not supported (HS256 or GMAC)")
    return alg.upper()


def segment_hash(alg: str, key: bytes, encrypted_segment: bytes | memoryview) -> bytes:
    """The raw segment hash of ``iv || ciphertext || tag``."""
    if alg == GMAC:
        return bytes(encrypted_segment[-GCM_TAG_SIZE:])
    return hmac_sha256(key, encrypted_segment)


def root_signature(alg: str, key: bytes, aggregate: bytes) -> bytes:
    """The raw root signature over the concatenated (stored) segment hashes."""
    if alg == GMAC:
        if len(aggregate) < GCM_TAG_SIZE:
            raise FormatError("GMAC root signature needs at least one segment hash")
        return aggregate[-GCM_TAG_SIZE:]
    return hmac_sha256(key, aggregate)


def stored_form(raw: bytes, hexed: bool) -> bytes:
    """The bytes that get base64-encoded into the manifest (and concatenated for the root)."""
    return raw.hex().encode() if hexed else raw


def encode(raw: bytes, hexed: bool) -> str:
    return b64encode(stored_form(raw, hexed))


def decode_stored(value: str, what: str) -> bytes:
    """Base64-decode a stored hash or signature; FormatError names the field."""
    return b64decode(value, what)


def matches(stored: bytes, raw: bytes) -> bool:
    """True if ``stored`` is ``raw`` itself or its hex spelling (either case)."""
    if len(stored) == len(raw):
        return hmac_equal(stored, raw)
    if len(stored) == 2 * len(raw):
        try:
            return hmac_equal(binascii.unhexlify(stored), raw)
        except (binascii.Error, ValueError):
            return False
    return False
