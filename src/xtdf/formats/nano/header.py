"""The NanoTDF header: a frozen model, its parser and its encoder.

Layout (all integers big-endian), as the Go and JS SDKs write it::

    "L1L"                        magic (18 bits) + version 12 (6 bits)
    resource locator             the KAS URL and key id (see locator.py)
    ECC and binding mode         bit 7 ECDSA binding, bits 6-3 reserved, bits 2-0 curve
    symmetric and payload config bit 7 has signature, bits 6-4 signature curve, bits 3-0 cipher
    policy type                  0 remote, 1 plaintext, 2 encrypted, 3 encrypted + key access
    policy body                  remote: resource locator; embedded: u16 length + content
                                 (+ for type 3: resource locator + ephemeral key)
    policy binding               GMAC mode: 8 bytes; ECDSA mode: u8 len(r), r, u8 len(s), s
    ephemeral public key         compressed SEC1 point, size from the curve

Parsing keeps every stored byte (reserved bits, identifier padding, short ECDSA scalars), so
``parse_header(b)[0].encode() == b[:consumed]`` for any header that parses.
"""

from __future__ import annotations

from dataclasses import dataclass

from xtdf.errors import NanoFormatError
from xtdf.formats.nano.cursor import Cursor
from xtdf.formats.nano.enums import MAGIC, CipherMode, Curve, PolicyMode
from xtdf.formats.nano.locator import ResourceLocator

GMAC_BINDING_SIZE = 8
_MAX_U16 = 0xFFFF


@dataclass(frozen=True)
class PolicyKeyAccess:
    """Type-3 policies: where the policy key lives and the ephemeral key it was made with."""

    locator: ResourceLocator
    ephemeral_key: bytes

    def encode(self) -> bytes:
        return self.locator.encode() + self.ephemeral_key


@dataclass(frozen=True)
class Policy:
    mode: PolicyMode
    #: embedded policies: the plaintext JSON or ``ciphertext || tag``; empty for remote
    content: bytes = b""
    #: remote policies: where to fetch it
    remote: ResourceLocator | None = None
    #: type-3 policies only
    key_access: PolicyKeyAccess | None = None

    def __post_init__(self) -> None:
        if (self.mode is PolicyMode.REMOTE) != (self.remote is not None):
            raise NanoFormatError("a remote policy (and only it) carries a resource locator")
        has_pka = self.mode is PolicyMode.EMBEDDED_ENCRYPTED_KEY_ACCESS
        if has_pka != (self.key_access is not None):
            raise NanoFormatError("policy key access belongs to policy type 3 only")
        if len(self.content) > _MAX_U16:
            raise NanoFormatError(f"embedded policy of {len(self.content)} bytes exceeds 65535")

    def encode_body(self) -> bytes:
        if self.remote is not None:
            return self.remote.encode()
        out = len(self.content).to_bytes(2, "big") + self.content
        if self.key_access is not None:
            out += self.key_access.encode()
        return out

    def encode(self) -> bytes:
        return bytes([self.mode]) + self.encode_body()

    def bytes_for_binding(self) -> bytes:
        """The bytes the binding covers: SHA-256 of these is what GMAC/ECDSA mode binds.

        Embedded policies: the content (plaintext JSON or ciphertext+tag) without its length,
        as the Go and JS SDKs hash it. Remote policies: the encoded resource locator; type-3
        policies: the content only (no SDK writes these two, so this is our reading of the
        spec's "policy body bytes").
        """
        if self.remote is not None:
            return self.remote.encode()
        return self.content


@dataclass(frozen=True)
class Header:
    kas: ResourceLocator
    curve: Curve
    ecdsa_binding: bool
    cipher: CipherMode
    policy: Policy
    #: the policy binding as stored (8 bytes, or the length-prefixed ECDSA r and s)
    binding: bytes
    #: the compressed ephemeral public key
    ephemeral_key: bytes
    has_signature: bool = False
    signature_curve: int = 0
    #: bits 6-3 of the ECC mode byte, unused by v1 but kept so re-encoding is exact
    reserved_bits: int = 0

    def __post_init__(self) -> None:
        if len(self.ephemeral_key) != self.curve.key_size:
            raise NanoFormatError(
                f"ephemeral key of {len(self.ephemeral_key)} bytes; "
                f"{self.curve.name.lower()} needs {self.curve.key_size}"
            )
        if not self.ecdsa_binding and len(self.binding) != GMAC_BINDING_SIZE:
            raise NanoFormatError(f"GMAC policy binding must be {GMAC_BINDING_SIZE} bytes")
        if self.ecdsa_binding:
            split_ecdsa_binding(self.binding, self.curve)
        if not 0 <= self.signature_curve <= 7 or not 0 <= self.reserved_bits <= 0x0F:
            raise NanoFormatError("signature curve or reserved bits out of range")

    @property
    def binding_mode_byte(self) -> int:
        return (self.ecdsa_binding << 7) | (self.reserved_bits << 3) | self.curve

    @property
    def symmetric_config_byte(self) -> int:
        return (self.has_signature << 7) | (self.signature_curve << 4) | self.cipher

    @property
    def tag_size(self) -> int:
        return self.cipher.tag_size

    def encode(self) -> bytes:
        return b"".join(
            (
                MAGIC,
                self.kas.encode(),
                bytes([self.binding_mode_byte, self.symmetric_config_byte]),
                self.policy.encode(),
                self.binding,
                self.ephemeral_key,
            )
        )


#: an ECDSA binding with zero-length ``r`` and ``s``: some older JS writers made these. It
#: parses (so ``inspect`` can describe the file) but binds nothing, so no reader accepts it.
EMPTY_ECDSA_BINDING = b"\x00\x00"


def is_empty_ecdsa_binding(header: Header) -> bool:
    return header.ecdsa_binding and header.binding == EMPTY_ECDSA_BINDING


def split_ecdsa_binding(binding: bytes, curve: Curve) -> tuple[bytes, bytes]:
    """``u8 len(r) || r || u8 len(s) || s`` -> (r, s); each at most the curve's scalar size,
    and at least one byte unless both are empty (:data:`EMPTY_ECDSA_BINDING`)."""
    if binding == EMPTY_ECDSA_BINDING:
        return b"", b""
    cur = Cursor(binding)
    r = cur.take(cur.uint(1, "ECDSA policy binding r length"), "ECDSA policy binding r")
    s = cur.take(cur.uint(1, "ECDSA policy binding s length"), "ECDSA policy binding s")
    limit = curve.scalar_size
    for name, value in (("r", r), ("s", s)):
        if not 1 <= len(value) <= limit:
            raise NanoFormatError(
                f"ECDSA policy binding {name} is {len(value)} bytes; "
                f"{curve.name.lower()} allows 1..{limit}"
            )
    if cur.remaining:
        raise NanoFormatError(f"ECDSA policy binding has {cur.remaining} stray bytes")
    return r, s


def join_ecdsa_binding(r: bytes, s: bytes) -> bytes:
    return bytes([len(r)]) + r + bytes([len(s)]) + s


def _read_magic(cur: Cursor) -> None:
    magic = cur.take(len(MAGIC), "magic number and version")
    if magic == MAGIC:
        return
    # 18-bit magic "0100 1100 0011 0001 01" then a 6-bit version; v1 is version 12 ("L")
    if magic[:2] == MAGIC[:2] and magic[2] >> 6 == MAGIC[2] >> 6:
        raise NanoFormatError(
            f"unsupported NanoTDF version {magic[2] & 0x3F} (only version 12, 'L1L', is known)"
        )
    raise NanoFormatError(f"bad NanoTDF magic number {magic.hex()} (expected 4c314c, 'L1L')")


def _read_policy(cur: Cursor, curve: Curve) -> Policy:
    mode = PolicyMode.parse(cur.uint(1, "policy type"))
    if mode is PolicyMode.REMOTE:
        return Policy(mode, remote=ResourceLocator.read(cur, "remote policy locator"))
    length = cur.uint(2, "policy length")
    content = cur.take(length, "policy body")
    key_access = None
    if mode is PolicyMode.EMBEDDED_ENCRYPTED_KEY_ACCESS:
        locator = ResourceLocator.read(cur, "policy key access locator")
        key = cur.take(curve.key_size, "policy key access ephemeral key")
        key_access = PolicyKeyAccess(locator, key)
    return Policy(mode, content, key_access=key_access)


def _read_binding(cur: Cursor, ecdsa: bool) -> bytes:
    if not ecdsa:
        return cur.take(GMAC_BINDING_SIZE, "policy binding (GMAC)")
    r_len = cur.uint(1, "policy binding (ECDSA r length)")
    r = cur.take(r_len, "policy binding (ECDSA r)")
    s_len = cur.uint(1, "policy binding (ECDSA s length)")
    s = cur.take(s_len, "policy binding (ECDSA s)")
    return join_ecdsa_binding(r, s)


def read_header(cur: Cursor) -> Header:
    _read_magic(cur)
    kas = ResourceLocator.read(cur, "kas")
    mode_byte = cur.uint(1, "ECC and binding mode")
    curve = Curve.parse(mode_byte & 0x07, "ECC and binding mode")
    config = cur.uint(1, "symmetric and payload config")
    cipher = CipherMode.parse(config & 0x0F)
    has_signature = bool(config >> 7)
    signature_curve = (config >> 4) & 0x07
    if has_signature:
        Curve.parse(signature_curve, "signature ECC mode")
    policy = _read_policy(cur, curve)
    ecdsa = bool(mode_byte >> 7)
    binding = _read_binding(cur, ecdsa)
    ephemeral_key = cur.take(curve.key_size, "ephemeral key")
    return Header(
        kas=kas,
        curve=curve,
        ecdsa_binding=ecdsa,
        cipher=cipher,
        policy=policy,
        binding=binding,
        ephemeral_key=ephemeral_key,
        has_signature=has_signature,
        signature_curve=signature_curve,
        reserved_bits=(mode_byte >> 3) & 0x0F,
    )


def parse_header(data: bytes) -> tuple[Header, int]:
    """Parse the header at the start of ``data``; return it and the bytes it took."""
    cur = Cursor(bytes(data))
    header = read_header(cur)
    return header, cur.pos


def policy_bytes_for_binding(header: Header) -> bytes:
    """The bytes the policy binding covers (see :meth:`Policy.bytes_for_binding`)."""
    return header.policy.bytes_for_binding()
