"""Loading and serialising keys and certificates (PEM) with named errors."""

from __future__ import annotations

from hashlib import sha256

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from xtdf.errors import FormatError, UnsupportedError

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def load_public_pem(pem: str | bytes) -> PublicKey:
    """Accept a SubjectPublicKeyInfo PEM or an X.509 certificate PEM."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        if b"CERTIFICATE" in data:
            from cryptography import x509  # costs ~40 ms; most keys are plain PEM

            key = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise FormatError("not a valid PEM public key or certificate") from exc
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise UnsupportedError(f"unsupported public key type {type(key).__name__}")
    return key


def load_private_pem(pem: str | bytes) -> PrivateKey:
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise FormatError("not a valid unencrypted PEM private key") from exc
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise UnsupportedError(f"unsupported private key type {type(key).__name__}")
    return key


def _public(key: PublicKey | PrivateKey) -> PublicKey:
    if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        return key.public_key()
    return key


def public_pem(key: PublicKey | PrivateKey) -> str:
    pub = _public(key)
    return pub.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def private_pem(key: PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def fingerprint(key: PublicKey | PrivateKey) -> str:
    """SHA-256 of the DER SubjectPublicKeyInfo, hex: stable across PEM formatting."""
    pub = _public(key)
    der = pub.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return sha256(der).hexdigest()
