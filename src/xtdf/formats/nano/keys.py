"""Key derivation and the policy cipher, as the Go SDK and KAS do them.

The payload key is HKDF-SHA256(salt = SHA-256("L1L"), ikm = ECDH shared secret, info = empty,
32 bytes). An encrypted policy is AES-256-GCM under that same key with an all-zero 12-byte
IV and the header's tag size; it is stored as ``ciphertext || tag``. Payload IVs are three
bytes stored in the file, left-padded with nine zero bytes to the 12-byte GCM nonce, and
never all zero (the zero nonce belongs to the policy).
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec

from xtdf.crypto import ec as xec
from xtdf.crypto.symmetric import GCM_IV_SIZE, gcm_decrypt, gcm_encrypt_truncated
from xtdf.errors import FormatError, NanoFormatError, PayloadDecryptError, UnsupportedCurveError
from xtdf.formats.nano.enums import Curve
from xtdf.formats.nano.header import Header

IV_SIZE = 3
_IV_PAD = bytes(GCM_IV_SIZE - IV_SIZE)
POLICY_IV = bytes(GCM_IV_SIZE)


def gcm_nonce(iv: bytes) -> bytes:
    """The stored 3-byte IV as the 12-byte GCM nonce: nine zero bytes, then the IV."""
    return _IV_PAD + iv


def load_ephemeral(
    curve: Curve, point: bytes, what: str = "ephemeral key"
) -> ec.EllipticCurvePublicKey:
    try:
        return xec.load_point(curve.curve_name, point)
    except FormatError as exc:
        raise NanoFormatError(f"{what} is not a valid {curve.curve_name} point") from exc


def derive_key(
    private_key: ec.EllipticCurvePrivateKey, public_key: ec.EllipticCurvePublicKey
) -> bytes:
    """ECDH + HKDF-SHA256 with the NanoTDF v1 salt: the one symmetric key of a NanoTDF."""
    return xec.derive_key(private_key, public_key, xec.NANO_V1_SALT)


def _check_curve(curve: Curve, key: ec.EllipticCurvePrivateKey, what: str) -> None:
    if xec.curve_name(key) != curve.curve_name:
        raise UnsupportedCurveError(
            f"{what} is on {key.curve.name} but the header uses {curve.curve_name}"
        )


def derive_key_offline(header: Header, kas_private_key: ec.EllipticCurvePrivateKey) -> bytes:
    """What a KAS does: ECDH(KAS private key, header's ephemeral key) + HKDF."""
    _check_curve(header.curve, kas_private_key, "KAS private key")
    return derive_key(kas_private_key, load_ephemeral(header.curve, header.ephemeral_key))


def derive_policy_key_offline(
    header: Header, policy_kas_private_key: ec.EllipticCurvePrivateKey
) -> bytes:
    """Type-3 policies: the policy key from the policy key access section's ephemeral key."""
    pka = header.policy.key_access
    if pka is None:
        raise NanoFormatError("policy has no policy key access section (not policy type 3)")
    _check_curve(header.curve, policy_kas_private_key, "policy KAS private key")
    point = load_ephemeral(header.curve, pka.ephemeral_key, "policy key access ephemeral key")
    return derive_key(policy_kas_private_key, point)


def encrypt_policy(key: bytes, policy: bytes, tag_size: int) -> bytes:
    return gcm_encrypt_truncated(key, POLICY_IV, policy, tag_size)


def decrypt_policy(header: Header, key: bytes) -> bytes:
    """The policy's plaintext: as stored, or decrypted with the payload (or policy) key."""
    policy = header.policy
    if policy.remote is not None:
        raise NanoFormatError(f"policy is remote ({policy.remote.url}); nothing embedded")
    if not policy.mode.is_encrypted:
        return policy.content
    try:
        return gcm_decrypt(key, POLICY_IV, policy.content, tag_size=header.tag_size)
    except PayloadDecryptError as exc:
        raise PayloadDecryptError(
            "encrypted policy failed AES-GCM authentication (wrong key or altered policy)"
        ) from exc
