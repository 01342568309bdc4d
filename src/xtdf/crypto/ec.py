"""Elliptic-curve pieces: curves by name, ECDH, HKDF-SHA256 and compressed points.

OpenTDF derives wrapping keys as HKDF-SHA256(salt, ECDH shared secret) with an empty
info string; the salt is SHA-256 of a protocol label ("TDF" for ZTDF ``ec-wrapped``
keys and the KAS rewrap session, "L1L" for NanoTDF v1).
"""

from __future__ import annotations

from hashlib import sha256

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from xtdf.errors import FormatError, UnsupportedCurveError

CURVES: dict[str, type[ec.EllipticCurve]] = {
    "secp256r1": ec.SECP256R1,
    "secp384r1": ec.SECP384R1,
    "secp521r1": ec.SECP521R1,
}
_ALIASES = {
    "p-256": "secp256r1",
    "p256": "secp256r1",
    "prime256v1": "secp256r1",
    "p-384": "secp384r1",
    "p384": "secp384r1",
    "p-521": "secp521r1",
    "p521": "secp521r1",
}

#: HKDF salt for ZTDF ec-wrapped keys and KAS rewrap sessions
TDF_SALT = sha256(b"TDF").digest()
#: HKDF salt for NanoTDF v1 ("L1L" is its magic number and version)
NANO_V1_SALT = sha256(b"L1L").digest()


def curve(name: str) -> ec.EllipticCurve:
    key = _ALIASES.get(name.lower(), name.lower())
    try:
        return CURVES[key]()
    except KeyError:
        raise UnsupportedCurveError(f"unsupported EC curve {name!r}") from None


def curve_name(key: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) -> str:
    name = key.curve.name
    if name not in CURVES:
        raise UnsupportedCurveError(f"unsupported EC curve {name!r}")
    return name


def generate(name: str = "secp256r1") -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(curve(name))


def ecdh(private_key: ec.EllipticCurvePrivateKey, public_key: ec.EllipticCurvePublicKey) -> bytes:
    if private_key.curve.name != public_key.curve.name:
        raise UnsupportedCurveError(
            f"curve mismatch: {private_key.curve.name} vs {public_key.curve.name}"
        )
    return private_key.exchange(ec.ECDH(), public_key)


def hkdf_sha256(secret: bytes, salt: bytes, length: int = 32, info: bytes | None = None) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(secret)


def derive_key(
    private_key: ec.EllipticCurvePrivateKey,
    public_key: ec.EllipticCurvePublicKey,
    salt: bytes,
    length: int = 32,
) -> bytes:
    return hkdf_sha256(ecdh(private_key, public_key), salt, length)


def compress(public_key: ec.EllipticCurvePublicKey) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return public_key.public_bytes(Encoding.X962, PublicFormat.CompressedPoint)


def load_point(name: str, data: bytes) -> ec.EllipticCurvePublicKey:
    """Load a compressed or uncompressed SEC1 point."""
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(curve(name), data)
    except ValueError as exc:
        raise FormatError(f"invalid {name} public key point") from exc


def compressed_size(name: str) -> int:
    return (curve(name).key_size + 7) // 8 + 1
