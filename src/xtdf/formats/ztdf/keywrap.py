"""ZTDF key-wrap and policy-binding recipes, shared by the writer, the reader and the KAS.

Keeping one copy here means our TDF writer and our KAS can never disagree on a byte.
Facts (opentdf/platform ``sdk/tdf.go``, ``lib/ocrypto``):

- ``wrapped``: RSA-OAEP with SHA-1 digest and MGF1 over the 32-byte split share.
- ``ec-wrapped``: a fresh key on the KAS key's curve; ECDH; HKDF-SHA256 with salt
  SHA-256("TDF") and no info, 32 bytes; AES-256-GCM with a random 12-byte nonce, stored
  as ``nonce || ciphertext || tag``. ``ephemeralPublicKey`` is the SubjectPublicKeyInfo
  PEM of the fresh key (the platform KAS also accepts DER or a compressed point).
- policy binding: HMAC-SHA256 keyed with the *split share* (not the whole DEK) over the
  base64 policy string as written in the manifest; the Go SDK writes
  ``{"alg": "HS256", "hash": base64(hex(hmac))}``; older writers use a plain string
  and some use base64 of the raw HMAC.
"""

from __future__ import annotations

import binascii
import contextlib
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from xtdf.crypto import ec as xec
from xtdf.crypto import rsa as xrsa
from xtdf.crypto.encoding import b64decode, b64encode
from xtdf.crypto.keys import load_public_pem, public_pem
from xtdf.crypto.symmetric import (
    GCM_IV_SIZE,
    GCM_TAG_SIZE,
    gcm_decrypt,
    gcm_encrypt,
    hmac_equal,
    hmac_sha256,
    random_bytes,
)
from xtdf.errors import FormatError, KeyUnwrapError, PayloadDecryptError, PolicyBindingError

__all__ = [
    "ec_unwrap",
    "ec_wrap",
    "policy_binding",
    "policy_binding_object",
    "rsa_unwrap",
    "rsa_wrap",
    "verify_policy_binding",
]


def rsa_wrap(public_key: rsa.RSAPublicKey, key: bytes) -> bytes:
    """RSA-OAEP(SHA-1, MGF1-SHA-1), as every OpenTDF SDK and KAS expects."""
    return xrsa.wrap(public_key, key)


def rsa_unwrap(private_key: rsa.RSAPrivateKey, wrapped: bytes) -> bytes:
    """Inverse of :func:`rsa_wrap`; raises :class:`KeyUnwrapError`."""
    return xrsa.unwrap(private_key, wrapped)


def _ec_wrapping_key(
    private_key: ec.EllipticCurvePrivateKey, public_key: ec.EllipticCurvePublicKey
) -> bytes:
    return xec.derive_key(private_key, public_key, xec.TDF_SALT)


def ec_wrap(public_key: ec.EllipticCurvePublicKey, key: bytes) -> tuple[bytes, str]:
    """Wrap ``key`` for an EC KAS key; return (``iv||ct||tag``, ephemeral public key PEM)."""
    ephemeral = xec.generate(xec.curve_name(public_key))
    wrapping_key = _ec_wrapping_key(ephemeral, public_key)
    iv = random_bytes(GCM_IV_SIZE)
    return iv + gcm_encrypt(wrapping_key, iv, key), public_pem(ephemeral)


def _load_ephemeral(
    private_key: ec.EllipticCurvePrivateKey, ephemeral: str | bytes
) -> ec.EllipticCurvePublicKey:
    data = ephemeral.encode() if isinstance(ephemeral, str) else ephemeral
    if b"-----BEGIN" in data:
        pub = load_public_pem(data)
    else:  # the platform KAS also takes DER SubjectPublicKeyInfo or a SEC1 point
        from cryptography.hazmat.primitives.serialization import load_der_public_key

        try:
            pub = load_der_public_key(data)
        except ValueError:
            pub = xec.load_point(private_key.curve.name, data)
    if not isinstance(pub, ec.EllipticCurvePublicKey):
        raise FormatError("ephemeralPublicKey is not an EC public key")
    return pub


def ec_unwrap(
    private_key: ec.EllipticCurvePrivateKey, wrapped: bytes, ephemeral_public_key_pem: str | bytes
) -> bytes:
    """Inverse of :func:`ec_wrap`; raises :class:`KeyUnwrapError` on a wrong key or bad bytes."""
    if len(wrapped) < GCM_IV_SIZE + GCM_TAG_SIZE:
        raise KeyUnwrapError("ec-wrapped key is shorter than its nonce and tag")
    pub = _load_ephemeral(private_key, ephemeral_public_key_pem)
    wrapping_key = _ec_wrapping_key(private_key, pub)
    try:
        return gcm_decrypt(wrapping_key, wrapped[:GCM_IV_SIZE], wrapped[GCM_IV_SIZE:])
    except PayloadDecryptError as exc:
        raise KeyUnwrapError(
            "EC unwrap failed (wrong key, wrong ephemeral key or corrupt wrapped key)"
        ) from exc


def policy_binding(key: bytes, policy_b64: str | bytes) -> bytes:
    """HMAC-SHA256(split share, base64 policy string): the raw 32-byte binding."""
    data = policy_b64.encode("ascii") if isinstance(policy_b64, str) else policy_b64
    return hmac_sha256(key, data)


def policy_binding_object(key: bytes, policy_b64: str | bytes) -> dict[str, str]:
    """The ``policyBinding`` value the Go SDK writes: ``{alg: HS256, hash: b64(hex(hmac))}``."""
    hexed = policy_binding(key, policy_b64).hex().encode()
    return {"alg": "HS256", "hash": b64encode(hexed)}


def _binding_hash(binding: Any) -> str:
    if isinstance(binding, str):
        return binding
    if isinstance(binding, dict):
        alg = binding.get("alg", "HS256")
        if alg not in ("HS256", "", None):
            raise PolicyBindingError(f"policy binding algorithm {alg!r} is not supported")
        value = binding.get("hash")
        if isinstance(value, str):
            return value
    raise PolicyBindingError("policy binding is neither a string nor an {alg, hash} object")


def verify_policy_binding(key: bytes, policy_b64: str | bytes, binding: Any) -> None:
    """Check a ``policyBinding`` (object or plain string; hexed or raw base64).

    Raises :class:`PolicyBindingError` naming what did not match.
    """
    expected = policy_binding(key, policy_b64)
    try:
        decoded = b64decode(_binding_hash(binding), "policyBinding hash")
    except FormatError as exc:
        raise PolicyBindingError(f"policy binding hash is not valid base64: {exc}") from exc
    candidates = [decoded]
    if len(decoded) == 2 * len(expected):
        with contextlib.suppress(ValueError):  # binascii.Error: not hex after all
            candidates.append(binascii.unhexlify(decoded))
    if not any(hmac_equal(c, expected) for c in candidates):
        raise PolicyBindingError("policy binding does not match the policy (policy or key altered)")
