"""NanoTDF readers read no more than the format can describe, and its JSON is bounded."""

from __future__ import annotations

import io
import json

import pytest

from xtdf.crypto import ec as xec
from xtdf.errors import NanoFormatError
from xtdf.formats import nano
from xtdf.formats.nano import container
from xtdf.formats.nano.inspect import describe_bytes


class Counting(io.RawIOBase):
    """An endless stream of zeros that counts what was taken from it."""

    def __init__(self) -> None:
        self.taken = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        n = len(buffer)
        buffer[:n] = bytes(n)
        self.taken += n
        return n


def test_max_size_is_every_length_at_its_maximum():
    MAX_SIZE = container.MAX_SIZE
    # 16 MiB payload (u24) + a 64 KiB policy (u16) + locators, keys, binding, signature
    assert (1 << 24) + (1 << 16) < MAX_SIZE < (1 << 24) + (1 << 16) + 2048


def test_read_stops_after_the_largest_possible_nanotdf():
    src = Counting()
    limit = container.MAX_SIZE
    with pytest.raises(NanoFormatError, match=rf"larger than any NanoTDF can be \(at most {limit}"):
        container.read_bounded(src, "endless")
    assert src.taken <= limit + 1


def test_read_of_a_real_nanotdf_is_whole():
    kas = xec.generate("secp256r1")
    data = nano.encrypt(b"x" * 1000, kas_url="http://kas/kas", kas_public_key=kas.public_key())
    assert container.read_bounded(io.BytesIO(data)) == data


def _deep(policy: bytes) -> tuple[bytes, object]:
    kas = xec.generate("secp256r1")
    data = nano.encrypt(
        b"x",
        kas_url="http://kas/kas",
        kas_public_key=kas.public_key(),
        policy=policy,
        policy_mode="plaintext",
    )
    return data, kas


def test_deep_plaintext_policy_is_text_in_inspect_and_an_error_to_read():
    data, _ = _deep(b"[" * 30_000 + b"]" * 30_000)
    info = describe_bytes(data)
    assert info["policy"]["text"].startswith("[[[") and "policy" not in info["policy"]
    header, _ = nano.parse_header(data)
    with pytest.raises(NanoFormatError, match="NanoTDF policy is nested deeper than 100"):
        nano.read_policy(header)


def test_ordinary_policy_still_reads():
    data, _ = _deep(json.dumps(nano.policy_object(["https://e.com/attr/a/value/b"])).encode())
    header, _ = nano.parse_header(data)
    assert nano.read_policy(header)["body"]["dataAttributes"][0]["attribute"].endswith("/b")
    assert describe_bytes(data)["policy"]["policy"]["body"]["dissem"] == []
