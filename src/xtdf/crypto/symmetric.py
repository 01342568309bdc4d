"""AES-256-GCM (with truncated tags for NanoTDF) and HMAC-SHA256."""

from __future__ import annotations

import hmac as _hmac
import os
from hashlib import sha256

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from xtdf.errors import PayloadDecryptError

GCM_IV_SIZE = 12
GCM_TAG_SIZE = 16


def random_bytes(n: int) -> bytes:
    return os.urandom(n)


def gcm_encrypt(key: bytes, iv: bytes, plaintext: bytes, aad: bytes | None = None) -> bytes:
    """Return ``ciphertext || tag`` (16-byte tag); ``iv`` is usually 12 bytes."""
    if len(iv) == GCM_IV_SIZE:
        return AESGCM(key).encrypt(iv, plaintext, aad)
    enc = Cipher(algorithms.AES(key), modes.GCM(iv)).encryptor()
    if aad:
        enc.authenticate_additional_data(aad)
    return enc.update(plaintext) + enc.finalize() + enc.tag


def gcm_decrypt(
    key: bytes, iv: bytes, data: bytes, aad: bytes | None = None, tag_size: int = GCM_TAG_SIZE
) -> bytes:
    """Decrypt ``ciphertext || tag``; raises :class:`PayloadDecryptError` on a bad tag."""
    if len(data) < tag_size:
        raise PayloadDecryptError("ciphertext shorter than its authentication tag")
    try:
        if tag_size == GCM_TAG_SIZE and len(iv) == GCM_IV_SIZE:
            return AESGCM(key).decrypt(iv, data, aad)
        ct, tag = data[:-tag_size], data[-tag_size:]
        dec = Cipher(algorithms.AES(key), modes.GCM(iv, tag, min_tag_length=tag_size)).decryptor()
        if aad:
            dec.authenticate_additional_data(aad)
        return dec.update(ct) + dec.finalize()
    except InvalidTag as exc:
        raise PayloadDecryptError("AES-GCM authentication failed") from exc


def gcm_encrypt_truncated(key: bytes, iv: bytes, plaintext: bytes, tag_size: int) -> bytes:
    """GCM with a tag cut to ``tag_size`` bytes (a prefix of the full tag, per NIST SP 800-38D)."""
    full = gcm_encrypt(key, iv, plaintext)
    return full[:-GCM_TAG_SIZE] + full[-GCM_TAG_SIZE:][:tag_size]


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    return _hmac.new(key, data, sha256).digest()


def hmac_equal(a: bytes, b: bytes) -> bool:
    return _hmac.compare_digest(a, b)
