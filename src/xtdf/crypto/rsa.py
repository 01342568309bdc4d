"""RSA-OAEP key wrapping as OpenTDF uses it: SHA-1 for both the digest and MGF1."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from xtdf.errors import KeyUnwrapError, UnsupportedError

MIN_RSA_BITS = 2048

_OAEP_SHA1 = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)


def generate(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def check_size(key: rsa.RSAPublicKey | rsa.RSAPrivateKey) -> None:
    if key.key_size < MIN_RSA_BITS:
        raise UnsupportedError(f"RSA key of {key.key_size} bits; at least {MIN_RSA_BITS} required")


def wrap(public_key: rsa.RSAPublicKey, key: bytes) -> bytes:
    check_size(public_key)
    return public_key.encrypt(key, _OAEP_SHA1)


def unwrap(private_key: rsa.RSAPrivateKey, wrapped: bytes) -> bytes:
    try:
        return private_key.decrypt(wrapped, _OAEP_SHA1)
    except ValueError as exc:
        raise KeyUnwrapError("RSA-OAEP unwrap failed (wrong key or corrupt wrapped key)") from exc
