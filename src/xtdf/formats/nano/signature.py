"""The optional signature section: the creator's compressed public key, then ECDSA r || s.

Present when the header's HAS_SIGNATURE bit is set; sizes come from the signature curve
(33/49/67-byte key, 64/96/132-byte signature). The spec says it authenticates "the entire
NanoTDF" but no SDK writes one; we sign (ECDSA-SHA256) the header and payload bytes that
precede it, with full-width big-endian r and s.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from xtdf.crypto import ec as xec
from xtdf.errors import NanoSignatureError
from xtdf.formats.nano.cursor import Cursor
from xtdf.formats.nano.enums import Curve
from xtdf.formats.nano.keys import load_ephemeral

_ECDSA = ec.ECDSA(hashes.SHA256())


@dataclass(frozen=True)
class Signature:
    public_key: bytes
    signature: bytes

    def encode(self) -> bytes:
        return self.public_key + self.signature


def read_signature(cur: Cursor, curve: Curve) -> Signature:
    key = cur.take(curve.key_size, "signature public key")
    sig = cur.take(2 * curve.scalar_size, "signature")
    return Signature(key, sig)


def sign(private_key: ec.EllipticCurvePrivateKey, message: bytes) -> Signature:
    curve = Curve.from_name(private_key.curve.name)
    r, s = decode_dss_signature(private_key.sign(message, _ECDSA))
    width = curve.scalar_size
    return Signature(
        xec.compress(private_key.public_key()), r.to_bytes(width, "big") + s.to_bytes(width, "big")
    )


def verify(signature: Signature, curve: Curve, message: bytes) -> None:
    public = load_ephemeral(curve, signature.public_key, "signature public key")
    half = len(signature.signature) // 2
    r = int.from_bytes(signature.signature[:half], "big")
    s = int.from_bytes(signature.signature[half:], "big")
    try:
        public.verify(encode_dss_signature(r, s), message, _ECDSA)
    except InvalidSignature:
        raise NanoSignatureError("NanoTDF creator signature does not verify") from None
