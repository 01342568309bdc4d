"""A read position over bytes whose every read names the field, for TruncatedError."""

from __future__ import annotations

from xtdf.errors import TruncatedError


class Cursor:
    """Reads big-endian fields in order; running out raises TruncatedError naming the field."""

    def __init__(self, data: bytes, offset: int = 0) -> None:
        self.data = data
        self.pos = offset

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int, field: str) -> bytes:
        if n > self.remaining:
            raise TruncatedError(
                f"NanoTDF truncated at {field}: needs {n} bytes at offset {self.pos}, "
                f"{self.remaining} left"
            )
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def uint(self, size: int, field: str) -> int:
        return int.from_bytes(self.take(size, field), "big")
