"""NanoTDF codec checks, the eight areas upstream's test_nano.py covered, on real files.

These need no platform or SDK: they pin down the bytes every SDK must agree on, using the
Go and JS vectors from ``../shared/reference/nano`` where that folder is present.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from xtdf.crypto import ec as xec
from xtdf.errors import NanoFormatError, TruncatedError, UnsupportedCurveError
from xtdf.formats import nano
from xtdf.formats.nano import CipherMode, Curve, PolicyMode, Protocol, ResourceLocator
from xtdf.formats.nano.inspect import describe_bytes

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "nano"
VECTORS = {"go": "go-gmac.ntdf", "js": "js-gmac.ntdf"}


@pytest.fixture(params=sorted(VECTORS))
def vector(request: pytest.FixtureRequest) -> bytes:
    path = REFERENCE / VECTORS[request.param]
    if not path.is_file():
        pytest.skip(f"independent NanoTDF vectors not present at {REFERENCE}")
    return path.read_bytes()


def test_magic_and_version() -> None:
    kas = xec.generate("secp256r1").public_key()
    data = nano.encrypt(b"x", kas_url="http://localhost:8080/kas", kas_public_key=kas)
    assert data[:3] == b"L1L"
    with pytest.raises(NanoFormatError, match="version 13"):
        nano.parse(b"L1M" + data[3:])
    with pytest.raises(NanoFormatError):
        nano.parse(b"PK\x03" + data[3:])


@pytest.mark.parametrize(
    ("url", "kid", "first_byte"),
    [
        ("http://localhost:8080/kas", b"", 0x00),
        ("https://kas.example.com", b"e1", 0x11),
        ("https://kas.example.com", b"r1", 0x11),
        ("http://k", b"12345678", 0x20),
        ("http://k", b"k" * 32, 0x30),
    ],
)
def test_resource_locator(url: str, kid: bytes, first_byte: int) -> None:
    loc = ResourceLocator.from_url(url, kid)
    encoded = loc.encode()
    assert encoded[0] == first_byte | (0x01 if url.startswith("https") else 0x00)
    body = url.split("://", 1)[1].encode()
    assert encoded[1] == len(body) and encoded[2 : 2 + len(body)] == body
    assert loc.url == url and loc.kid == kid
    assert loc.protocol in (Protocol.HTTP, Protocol.HTTPS)


@pytest.mark.parametrize("ecdsa", [False, True])
@pytest.mark.parametrize("curve", ["secp256r1", "secp384r1", "secp521r1"])
def test_binding_mode(ecdsa: bool, curve: str) -> None:
    kas = xec.generate(curve).public_key()
    data = nano.encrypt(
        b"hello", kas_url="http://kas", kas_public_key=kas, binding="ecdsa" if ecdsa else "gmac"
    )
    header, _ = nano.parse_header(data)
    assert header.ecdsa_binding is ecdsa
    assert header.curve is Curve.from_name(curve)
    assert header.binding_mode_byte == (0x80 if ecdsa else 0) | int(header.curve)
    assert len(header.ephemeral_key) == xec.compressed_size(curve)


@pytest.mark.parametrize("mode", list(CipherMode))
def test_symmetric_config(mode: CipherMode) -> None:
    kas_key = xec.generate("secp256r1")
    data = nano.encrypt(
        b"payload",
        kas_url="http://kas",
        kas_public_key=kas_key.public_key(),
        cipher_tag_bits=mode.tag_bits,
    )
    tdf = nano.parse(data)
    assert tdf.header.cipher is mode and tdf.header.symmetric_config_byte == int(mode)
    assert len(tdf.payload.tag) == mode.tag_bits // 8
    key = nano.derive_key_offline(tdf.header, kas_key)
    assert nano.decrypt(data, key) == b"payload"


@pytest.mark.parametrize("mode", ["plaintext", "encrypted"])
def test_policy_modes(mode: str) -> None:
    kas_key = xec.generate("secp256r1")
    policy = nano.policy_object(["https://example.com/attr/a/value/b"])
    data = nano.encrypt(
        b"p",
        kas_url="http://kas",
        kas_public_key=kas_key.public_key(),
        policy=policy,
        policy_mode=mode,
    )
    header, _ = nano.parse_header(data)
    expected = (
        PolicyMode.EMBEDDED_PLAINTEXT if mode == "plaintext" else PolicyMode.EMBEDDED_ENCRYPTED
    )
    assert header.policy.mode is expected
    key = nano.derive_key_offline(header, kas_key)
    assert nano.read_policy(header, key)["body"]["dataAttributes"][0]["attribute"].endswith("/b")
    nano.verify_policy_binding(header, key)


def test_header_truncation_names_the_field(vector: bytes) -> None:
    header, consumed = nano.parse_header(vector)
    for cut in (2, 5, 22, 25, consumed - 40, consumed - 1):
        with pytest.raises(TruncatedError):
            nano.parse_header(vector[:cut])
    assert header.encode() == vector[:consumed]


def test_unknown_curve_is_refused(vector: bytes) -> None:
    header, _ = nano.parse_header(vector)
    offset = 3 + len(header.kas.encode())
    bad = bytearray(vector)
    bad[offset] = (bad[offset] & 0xF8) | 0x05
    with pytest.raises(UnsupportedCurveError):
        nano.parse_header(bytes(bad))


def test_whole_files_from_go_and_js(vector: bytes) -> None:
    tdf = nano.parse(vector)
    assert tdf.encode() == vector, "parse then re-encode must be byte-identical"
    info = describe_bytes(vector)
    h = tdf.header
    assert h.kas.url == "http://localhost:8080/kas" and h.kas.kid == b""
    assert not h.ecdsa_binding and h.cipher is CipherMode.AES_256_GCM_96
    assert h.policy.mode is PolicyMode.EMBEDDED_ENCRYPTED
    assert len(h.policy.content) in (104, 100)
    assert tdf.payload.length == 0x8F
    assert info["binding"]["mode"] == "gmac" and info["payload"]["length"] == 0x8F
