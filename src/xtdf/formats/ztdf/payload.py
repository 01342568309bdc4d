"""AES-256-GCM payload segments: ``iv (12) || ciphertext || tag (16)``, one per plaintext chunk.

Both directions reuse two buffers for the whole payload (``encrypt_into`` /
``decrypt_into``), so memory stays at about two segments whatever the file size.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from xtdf.crypto.symmetric import GCM_IV_SIZE, GCM_TAG_SIZE
from xtdf.errors import SegmentIntegrityError, UsageError

#: upstream's default plaintext segment size (2 MiB)
DEFAULT_SEGMENT_SIZE = 2 * 1024 * 1024
#: bytes a segment grows by when encrypted
SEGMENT_OVERHEAD = GCM_IV_SIZE + GCM_TAG_SIZE
#: largest segment we write or read (upstream's writers cap at 4 MiB; leave headroom)
MAX_SEGMENT_SIZE = 64 * 1024 * 1024


def check_segment_size(size: int) -> int:
    if not isinstance(size, int) or size < 1 or size > MAX_SEGMENT_SIZE:
        raise UsageError(f"segment size must be between 1 and {MAX_SEGMENT_SIZE} bytes: {size!r}")
    return size


def segment_count(plaintext_size: int, segment_size: int) -> int:
    """Upstream writes one (empty) segment for an empty payload."""
    return max(1, -(-plaintext_size // segment_size))


class SegmentEncryptor:
    """Encrypt chunks into one reused output buffer."""

    def __init__(self, key: bytes, segment_size: int) -> None:
        self._aead = AESGCM(key)
        self._out = bytearray(segment_size + SEGMENT_OVERHEAD)
        self._view = memoryview(self._out)

    def encrypt(self, plaintext: memoryview | bytes) -> memoryview:
        """Return a view of ``iv || ct || tag``, valid until the next call."""
        n = len(plaintext)
        iv = os.urandom(GCM_IV_SIZE)
        self._view[:GCM_IV_SIZE] = iv
        self._aead.encrypt_into(iv, plaintext, None, self._view[GCM_IV_SIZE : n + SEGMENT_OVERHEAD])
        return self._view[: n + SEGMENT_OVERHEAD]


class SegmentDecryptor:
    """Decrypt segments into one reused output buffer."""

    def __init__(self, key: bytes, max_segment_size: int) -> None:
        self._aead = AESGCM(key)
        self._out = bytearray(max(max_segment_size, 0))
        self._view = memoryview(self._out)

    def decrypt(self, index: int, segment: memoryview | bytes) -> memoryview:
        """Return a view of the plaintext, valid until the next call."""
        n = len(segment) - SEGMENT_OVERHEAD
        if n < 0:
            raise SegmentIntegrityError(index, "shorter than its IV and tag")
        if n > len(self._out):
            raise SegmentIntegrityError(index, f"larger than the declared segment size ({n})")
        seg = memoryview(segment)
        try:
            self._aead.decrypt_into(seg[:GCM_IV_SIZE], seg[GCM_IV_SIZE:], None, self._view[:n])
        except InvalidTag:
            raise SegmentIntegrityError(index, "AES-GCM authentication failed") from None
        return self._view[:n]
