"""A whole NanoTDF: header, payload and the optional signature, parsed and re-encoded."""

from __future__ import annotations

from dataclasses import dataclass

from xtdf.errors import NanoFormatError
from xtdf.formats.nano.cursor import Cursor
from xtdf.formats.nano.enums import Curve
from xtdf.formats.nano.header import Header, read_header
from xtdf.formats.nano.payload import Payload, read_payload
from xtdf.formats.nano.signature import Signature, read_signature


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
