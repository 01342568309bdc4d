"""The resource locator: a protocol byte, a length-prefixed URL body and an optional key id.

Protocol byte: low nibble is the protocol (0 http, 1 https); high nibble says how many
identifier bytes follow the body (0 none, 1 two, 2 eight, 3 thirty-two). Shorter key ids
are right-padded with NUL bytes to the next size, as the Go and JS SDKs do.
"""

from __future__ import annotations

from dataclasses import dataclass

from xtdf.errors import NanoFormatError, UsageError
from xtdf.formats.nano.cursor import Cursor
from xtdf.formats.nano.enums import IDENTIFIER_SIZES, Protocol

_SIZE_TO_NIBBLE = {size: nibble for nibble, size in IDENTIFIER_SIZES.items()}


@dataclass(frozen=True)
class ResourceLocator:
    protocol: Protocol
    #: everything after ``scheme://``, as stored (bytes, so odd input re-encodes exactly)
    body: bytes
    #: the key identifier as stored, padding included: 0, 2, 8 or 32 bytes
    identifier: bytes = b""

    def __post_init__(self) -> None:
        if len(self.body) > 255:
            raise NanoFormatError(f"resource locator body of {len(self.body)} bytes exceeds 255")
        if len(self.identifier) not in _SIZE_TO_NIBBLE:
            raise NanoFormatError(
                f"resource locator identifier of {len(self.identifier)} bytes "
                "(must be 0, 2, 8 or 32)"
            )

    @classmethod
    def from_url(cls, url: str, kid: bytes | str = b"") -> ResourceLocator:
        """``https://host/kas`` plus a key id of up to 32 bytes (padded with NULs)."""
        scheme, sep, rest = url.partition("://")
        if not sep or scheme.lower() not in ("http", "https"):
            raise UsageError(f"NanoTDF locator needs an http:// or https:// URL, got {url!r}")
        body = rest.encode()
        if len(body) > 255:
            raise UsageError(f"NanoTDF locator URL body is {len(body)} bytes; at most 255")
        kid_bytes = kid.encode() if isinstance(kid, str) else bytes(kid)
        size = next((s for s in sorted(_SIZE_TO_NIBBLE) if s >= len(kid_bytes)), None)
        if size is None:
            raise UsageError(f"NanoTDF key id is {len(kid_bytes)} bytes; at most 32")
        protocol = Protocol.HTTP if scheme.lower() == "http" else Protocol.HTTPS
        return cls(protocol, body, kid_bytes.ljust(size, b"\0"))

    @property
    def url(self) -> str:
        return f"{self.protocol.scheme}://{self.body.decode('utf-8', 'replace')}"

    @property
    def kid(self) -> bytes:
        """The key identifier without its NUL padding (empty when absent)."""
        return self.identifier.rstrip(b"\0")

    def encode(self) -> bytes:
        head = (_SIZE_TO_NIBBLE[len(self.identifier)] << 4) | self.protocol
        return bytes([head, len(self.body)]) + self.body + self.identifier

    @classmethod
    def read(cls, cur: Cursor, what: str) -> ResourceLocator:
        head = cur.uint(1, f"{what} protocol")
        try:
            protocol = Protocol(head & 0x0F)
        except ValueError:
            raise NanoFormatError(
                f"{what}: unsupported resource locator protocol {head & 0x0F:#x}"
            ) from None
        nibble = head >> 4
        if nibble not in IDENTIFIER_SIZES:
            raise NanoFormatError(f"{what}: unknown resource locator identifier type {nibble}")
        length = cur.uint(1, f"{what} body length")
        body = cur.take(length, f"{what} body")
        identifier = cur.take(IDENTIFIER_SIZES[nibble], f"{what} identifier")
        return cls(protocol, body, identifier)
