"""The payload: a 3-byte length, then the 3-byte IV, the ciphertext and the truncated tag.

The length counts IV + ciphertext + tag, so a plaintext can be at most
2^24 - 1 - 3 - tag bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from xtdf.crypto.symmetric import gcm_decrypt, gcm_encrypt_truncated, random_bytes
from xtdf.errors import NanoFormatError, PayloadDecryptError, PayloadTooLargeError, TruncatedError
from xtdf.formats.nano.cursor import Cursor
from xtdf.formats.nano.keys import IV_SIZE, gcm_nonce

LENGTH_SIZE = 3
MAX_LENGTH = (1 << 24) - 1


def max_plaintext(tag_size: int) -> int:
    return MAX_LENGTH - IV_SIZE - tag_size


@dataclass(frozen=True)
class Payload:
    iv: bytes
    ciphertext: bytes
    tag: bytes

    def __post_init__(self) -> None:
        if len(self.iv) != IV_SIZE:
            raise NanoFormatError(f"payload IV must be {IV_SIZE} bytes, not {len(self.iv)}")
        if self.length > MAX_LENGTH:
            raise PayloadTooLargeError(f"NanoTDF payload of {self.length} bytes exceeds 2^24-1")

    @property
    def length(self) -> int:
        return IV_SIZE + len(self.ciphertext) + len(self.tag)

    def encode(self) -> bytes:
        return self.length.to_bytes(LENGTH_SIZE, "big") + self.iv + self.ciphertext + self.tag


def read_payload(cur: Cursor, tag_size: int) -> Payload:
    length = cur.uint(LENGTH_SIZE, "payload length")
    if length < IV_SIZE + tag_size:
        raise NanoFormatError(
            f"payload length mismatch: {length} is shorter than IV ({IV_SIZE}) + tag ({tag_size})"
        )
    if length > cur.remaining:
        raise TruncatedError(
            f"NanoTDF truncated at payload: length says {length} bytes, {cur.remaining} left"
        )
    iv = cur.take(IV_SIZE, "payload IV")
    ciphertext = cur.take(length - IV_SIZE - tag_size, "payload ciphertext")
    tag = cur.take(tag_size, "payload tag")
    return Payload(iv, ciphertext, tag)


def _fresh_iv() -> bytes:
    while True:  # the all-zero nonce is the policy's
        iv = random_bytes(IV_SIZE)
        if any(iv):
            return iv


def encrypt_payload(
    key: bytes, plaintext: bytes, tag_size: int, iv: bytes | None = None
) -> Payload:
    limit = max_plaintext(tag_size)
    if len(plaintext) > limit:
        raise PayloadTooLargeError(
            f"plaintext of {len(plaintext)} bytes is too large for a NanoTDF "
            f"(at most {limit} bytes with a {tag_size * 8}-bit tag)"
        )
    iv = _fresh_iv() if iv is None else iv
    sealed = gcm_encrypt_truncated(key, gcm_nonce(iv), plaintext, tag_size)
    cut = len(sealed) - tag_size
    return Payload(iv, sealed[:cut], sealed[cut:])


def decrypt_payload(key: bytes, payload: Payload) -> bytes:
    try:
        return gcm_decrypt(
            key, gcm_nonce(payload.iv), payload.ciphertext + payload.tag, tag_size=len(payload.tag)
        )
    except PayloadDecryptError as exc:
        raise PayloadDecryptError(
            "NanoTDF payload failed AES-GCM authentication (wrong key or altered payload)"
        ) from exc
