"""A whole NanoTDF: header, payload and the optional signature, parsed and re-encoded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from xtdf.errors import NanoFormatError
from xtdf.formats.nano.cursor import Cursor
from xtdf.formats.nano.enums import Curve
from xtdf.formats.nano.header import Header, read_header
from xtdf.formats.nano.payload import Payload, read_payload
from xtdf.formats.nano.signature import Signature, read_signature

#: the largest NanoTDF the format can describe: every length field at its maximum (a
#: locator body is u8, a policy u16, an ECDSA binding two u8-prefixed scalars, the payload
#: u24), so reading more than this can only be reading something else
_LOCATOR = 1 + 1 + 255 + 32
_KEY = 67  # a compressed P-521 point
MAX_SIZE = (
    3  # magic and version
    + _LOCATOR  # KAS
    + 2  # ECC and symmetric config
    + 1 + 2 + 0xFFFF + _LOCATOR + _KEY  # type-3 policy: the longest
    + 1 + 255 + 1 + 255  # ECDSA binding as read, before its scalars are checked
    + _KEY  # ephemeral key
    + 3 + 0xFFFFFF  # payload
    + _KEY + 2 * 66  # signature
)  # fmt: skip


def read_bounded(src: BinaryIO, name: str | None = None) -> bytes:
    """All of ``src``, refusing (without reading on) anything larger than :data:`MAX_SIZE`."""
    data = bytearray()
    while len(data) <= MAX_SIZE and (chunk := src.read(min(1 << 16, MAX_SIZE + 1 - len(data)))):
        data += chunk  # in steps: one read of MAX_SIZE would allocate it for any file
    if len(data) > MAX_SIZE:
        name = name or getattr(src, "name", "<stream>")
        raise NanoFormatError(f"{name}: larger than any NanoTDF can be (at most {MAX_SIZE} bytes)")
    return bytes(data)


@dataclass(frozen=True)
class NanoTDF:
    header: Header
    payload: Payload
    signature: Signature | None = None

    def __post_init__(self) -> None:
        if self.header.has_signature != (self.signature is not None):
            raise NanoFormatError("signature section present iff the header's signature flag")

    def signed_bytes(self) -> bytes:
        """What the creator signature covers: the header and the payload."""
        return self.header.encode() + self.payload.encode()

    def encode(self) -> bytes:
        tail = self.signature.encode() if self.signature is not None else b""
        return self.signed_bytes() + tail


def parse(data: bytes) -> NanoTDF:
    cur = Cursor(bytes(data))
    header = read_header(cur)
    payload = read_payload(cur, header.tag_size)
    signature = None
    if header.has_signature:
        signature = read_signature(cur, Curve(header.signature_curve))
    if cur.remaining:
        raise NanoFormatError(
            f"payload length mismatch: {cur.remaining} bytes follow the "
            f"{'signature' if signature else 'payload'}"
        )
    return NanoTDF(header, payload, signature)
