"""The small numeric enums of a NanoTDF header and the sizes each one implies.

Values are those of the spec (opentdf/spec ``schema/nanotdf/README.md``) and the Go SDK:
curves 0..3, cipher modes 0..5 (AES-256-GCM with a 64..128-bit tag), policy types 0..3,
resource locator protocols http (0) and https (1) with an identifier-size nibble.
"""

from __future__ import annotations

from enum import IntEnum

from xtdf.crypto import ec as xec
from xtdf.errors import NanoFormatError, UnsupportedCurveError, UnsupportedError

MAGIC = b"L1L"


class Curve(IntEnum):
    """ECC params enum (3 bits), used for the ephemeral key and the signature key."""

    SECP256R1 = 0
    SECP384R1 = 1
    SECP521R1 = 2
    SECP256K1 = 3

    @property
    def curve_name(self) -> str:
        """The name ``xtdf.crypto.ec`` knows; secp256k1 is in the spec but not supported."""
        if self is Curve.SECP256K1:
            raise UnsupportedCurveError("unsupported EC curve secp256k1 in NanoTDF")
        return self.name.lower()

    @property
    def key_size(self) -> int:
        """Bytes of a compressed public key on this curve."""
        return 33 if self is Curve.SECP256K1 else xec.compressed_size(self.curve_name)

    @property
    def scalar_size(self) -> int:
        """Bytes of one ECDSA ``r`` or ``s`` value at full width."""
        return self.key_size - 1

    @classmethod
    def parse(cls, value: int, field: str) -> Curve:
        try:
            curve = cls(value)
        except ValueError:
            raise UnsupportedCurveError(f"unknown curve enum {value} in {field}") from None
        curve.curve_name  # noqa: B018 - raises for secp256k1
        return curve

    @classmethod
    def from_name(cls, name: str) -> Curve:
        canonical = xec.curve(name).name
        return cls[canonical.upper()]


class CipherMode(IntEnum):
    """Symmetric cipher enum (4 bits): AES-256-GCM with the tag cut to the given size."""

    AES_256_GCM_64 = 0
    AES_256_GCM_96 = 1
    AES_256_GCM_104 = 2
    AES_256_GCM_112 = 3
    AES_256_GCM_120 = 4
    AES_256_GCM_128 = 5

    @property
    def tag_bits(self) -> int:
        return _TAG_BITS[self]

    @property
    def tag_size(self) -> int:
        return self.tag_bits // 8

    @classmethod
    def parse(cls, value: int) -> CipherMode:
        try:
            return cls(value)
        except ValueError:
            raise UnsupportedError(f"unknown NanoTDF symmetric cipher enum {value}") from None

    @classmethod
    def from_tag_bits(cls, bits: int) -> CipherMode:
        for mode, size in _TAG_BITS.items():
            if size == bits:
                return mode
        raise UnsupportedError(
            f"unsupported NanoTDF tag size {bits} bits (one of {sorted(_TAG_BITS.values())})"
        )


_TAG_BITS = {
    CipherMode.AES_256_GCM_64: 64,
    CipherMode.AES_256_GCM_96: 96,
    CipherMode.AES_256_GCM_104: 104,
    CipherMode.AES_256_GCM_112: 112,
    CipherMode.AES_256_GCM_120: 120,
    CipherMode.AES_256_GCM_128: 128,
}


class PolicyMode(IntEnum):
    """Policy type enum (1 byte)."""

    REMOTE = 0
    EMBEDDED_PLAINTEXT = 1
    EMBEDDED_ENCRYPTED = 2
    EMBEDDED_ENCRYPTED_KEY_ACCESS = 3

    @property
    def label(self) -> str:
        return _POLICY_LABELS[self]

    @property
    def is_encrypted(self) -> bool:
        return self in (PolicyMode.EMBEDDED_ENCRYPTED, PolicyMode.EMBEDDED_ENCRYPTED_KEY_ACCESS)

    @classmethod
    def parse(cls, value: int) -> PolicyMode:
        try:
            return cls(value)
        except ValueError:
            raise NanoFormatError(f"unknown NanoTDF policy type {value}") from None

    @classmethod
    def from_label(cls, label: str | PolicyMode) -> PolicyMode:
        if isinstance(label, PolicyMode):
            return label
        for mode, name in _POLICY_LABELS.items():
            if name == label:
                return mode
        raise UnsupportedError(
            f"unknown NanoTDF policy mode {label!r} (one of {sorted(_POLICY_LABELS.values())})"
        )


_POLICY_LABELS = {
    PolicyMode.REMOTE: "remote",
    PolicyMode.EMBEDDED_PLAINTEXT: "plaintext",
    PolicyMode.EMBEDDED_ENCRYPTED: "encrypted",
    PolicyMode.EMBEDDED_ENCRYPTED_KEY_ACCESS: "encrypted-policy-key-access",
}


class Protocol(IntEnum):
    """Resource locator protocol (low nibble of the protocol byte)."""

    HTTP = 0
    HTTPS = 1

    @property
    def scheme(self) -> str:
        return "http" if self is Protocol.HTTP else "https"


#: high nibble of the resource locator protocol byte -> identifier size in bytes
IDENTIFIER_SIZES: dict[int, int] = {0: 0, 1: 2, 2: 8, 3: 32}
