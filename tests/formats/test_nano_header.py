"""NanoTDF header codec: each field's encoding, exact re-encoding, and named failures."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xtdf.crypto import ec as xec
from xtdf.errors import (
    NanoFormatError,
    TruncatedError,
    UnsupportedCurveError,
    UnsupportedError,
    UsageError,
)
from xtdf.formats import nano
from xtdf.formats.nano.container import NanoTDF
from xtdf.formats.nano.cursor import Cursor
from xtdf.formats.nano.enums import CipherMode, Curve, PolicyMode, Protocol
from xtdf.formats.nano.header import Header, Policy, PolicyKeyAccess, parse_header
from xtdf.formats.nano.locator import ResourceLocator
from xtdf.formats.nano.payload import Payload
from xtdf.formats.nano.signature import Signature


def _key(curve: Curve) -> bytes:
    return xec.compress(xec.generate(curve.curve_name).public_key())


KEYS = {c: _key(c) for c in (Curve.SECP256R1, Curve.SECP384R1, Curve.SECP521R1)}


def make_header(**changes: object) -> Header:
    base = Header(
        kas=ResourceLocator.from_url("https://kas.example.com/kas", b"e1"),
        curve=Curve.SECP256R1,
        ecdsa_binding=False,
        cipher=CipherMode.AES_256_GCM_96,
        policy=Policy(PolicyMode.EMBEDDED_PLAINTEXT, b'{"uuid":"u"}'),
        binding=bytes(range(8)),
        ephemeral_key=KEYS[Curve.SECP256R1],
    )
    return replace(base, **changes)


# --- magic and version ----------------------------------------------------------------


def test_magic_is_L1L_and_version_12():
    data = make_header().encode()
    assert data[:3] == b"L1L"
    assert data[2] & 0x3F == 12  # the 6-bit version after the 18-bit magic


def test_bad_magic_is_named():
    data = make_header().encode()
    with pytest.raises(NanoFormatError, match="bad NanoTDF magic"):
        parse_header(b"PK\x03" + data[3:])


def test_other_version_is_unsupported():
    data = make_header().encode()
    with pytest.raises(NanoFormatError, match="unsupported NanoTDF version 13"):
        parse_header(b"L1M" + data[3:])


# --- resource locator -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kid", "size", "nibble"),
    [
        (b"", 0, 0),
        (b"a", 2, 1),
        (b"e1", 2, 1),
        (b"abc", 8, 2),
        (b"12345678", 8, 2),
        (b"x" * 9, 32, 3),
    ],
)
def test_locator_identifier_sizes(kid: bytes, size: int, nibble: int):
    loc = ResourceLocator.from_url("https://kas.example.com/kas", kid)
    raw = loc.encode()
    assert raw[0] == (nibble << 4) | Protocol.HTTPS
    assert raw[1] == len(b"kas.example.com/kas")
    assert len(raw) == 2 + len(b"kas.example.com/kas") + size
    back = ResourceLocator.read(Cursor(raw), "kas")
    assert back == loc and back.kid == kid and back.url == "https://kas.example.com/kas"


def test_locator_http_and_layout():
    loc = ResourceLocator.from_url("http://localhost:8080/kas")
    assert loc.encode() == b"\x00\x12localhost:8080/kas"
    assert loc.protocol is Protocol.HTTP


@pytest.mark.parametrize(
    ("url", "kid"), [("ftp://x/kas", b""), ("kas.example", b""), ("https://k/kas", b"x" * 33)]
)
def test_locator_bad_input_is_usage_error(url: str, kid: bytes):
    with pytest.raises(UsageError):
        ResourceLocator.from_url(url, kid)


def test_locator_unknown_protocol_and_identifier_type():
    with pytest.raises(NanoFormatError, match="unsupported resource locator protocol"):
        ResourceLocator.read(Cursor(b"\x02\x01a"), "kas")
    with pytest.raises(NanoFormatError, match="unknown resource locator identifier type 4"):
        ResourceLocator.read(Cursor(b"\x41\x01a"), "kas")


def test_locator_keeps_padding_bytes():
    raw = b"\x11\x01a" + b"z\x00"
    loc = ResourceLocator.read(Cursor(raw), "kas")
    assert loc.identifier == b"z\x00" and loc.kid == b"z" and loc.encode() == raw


# --- ECC and binding mode -------------------------------------------------------------


@pytest.mark.parametrize("curve", list(KEYS))
@pytest.mark.parametrize("ecdsa", [False, True])
def test_binding_mode_byte(curve: Curve, ecdsa: bool):
    binding = bytes([1, 7, 1, 9]) if ecdsa else bytes(8)
    header = make_header(
        curve=curve, ecdsa_binding=ecdsa, binding=binding, ephemeral_key=KEYS[curve]
    )
    assert header.binding_mode_byte == (0x80 if ecdsa else 0) | curve
    data = header.encode()
    parsed, n = parse_header(data)
    assert parsed == header and n == len(data)
    assert len(parsed.ephemeral_key) == {0: 33, 1: 49, 2: 67}[curve]


def test_reserved_bits_are_kept():
    header = make_header(reserved_bits=0b1010)
    data = header.encode()
    assert parse_header(data)[0].encode() == data


@pytest.mark.parametrize("value", [3, 4, 7])
def test_unknown_or_unsupported_curve(value: int):
    data = bytearray(make_header().encode())
    data[3 + len(make_header().kas.encode())] = value
    with pytest.raises(UnsupportedCurveError, match=r"secp256k1|unknown curve enum"):
        parse_header(bytes(data))


# --- symmetric and payload config -----------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "bits"), [(0, 64), (1, 96), (2, 104), (3, 112), (4, 120), (5, 128)]
)
def test_cipher_modes_and_tag_sizes(mode: int, bits: int):
    cipher = CipherMode(mode)
    assert cipher.tag_bits == bits and CipherMode.from_tag_bits(bits) is cipher
    header = make_header(cipher=cipher)
    assert header.symmetric_config_byte == mode
    assert parse_header(header.encode())[0].cipher is cipher


def test_unknown_cipher_mode():
    data = bytearray(make_header().encode())
    data[4 + len(make_header().kas.encode())] = 0x06
    with pytest.raises(UnsupportedError, match="symmetric cipher enum 6"):
        parse_header(bytes(data))
    with pytest.raises(UnsupportedError, match="tag size 100"):
        CipherMode.from_tag_bits(100)


def test_signature_flag_and_curve():
    header = make_header(has_signature=True, signature_curve=Curve.SECP384R1)
    assert header.symmetric_config_byte == 0x80 | 0x10 | 0x01
    assert parse_header(header.encode())[0] == header
    bad = bytearray(header.encode())
    bad[4 + len(header.kas.encode())] = 0x80 | 0x30 | 0x01  # signature on secp256k1
    with pytest.raises(UnsupportedCurveError):
        parse_header(bytes(bad))


# --- policy ---------------------------------------------------------------------------


def _policies() -> list[Policy]:
    return [
        Policy(PolicyMode.REMOTE, remote=ResourceLocator.from_url("https://p.example/policy")),
        Policy(PolicyMode.EMBEDDED_PLAINTEXT, b'{"a":1}'),
        Policy(PolicyMode.EMBEDDED_ENCRYPTED, bytes(range(40))),
        Policy(
            PolicyMode.EMBEDDED_ENCRYPTED_KEY_ACCESS,
            bytes(20),
            key_access=PolicyKeyAccess(
                ResourceLocator.from_url("https://kas2/kas", b"p1"), KEYS[Curve.SECP256R1]
            ),
        ),
    ]


@pytest.mark.parametrize("policy", _policies(), ids=lambda p: p.mode.label)
def test_policy_modes_round_trip(policy: Policy):
    header = make_header(policy=policy)
    data = header.encode()
    parsed, n = parse_header(data)
    assert parsed.policy == policy and n == len(data)


def test_policy_layout():
    policy = Policy(PolicyMode.EMBEDDED_ENCRYPTED, b"\xaa" * 3)
    assert policy.encode() == b"\x02\x00\x03\xaa\xaa\xaa"
    assert nano.policy_bytes_for_binding(make_header(policy=policy)) == b"\xaa" * 3


def test_unknown_policy_type():
    header = make_header()
    data = bytearray(header.encode())
    data[5 + len(header.kas.encode())] = 0x04
    with pytest.raises(NanoFormatError, match="unknown NanoTDF policy type 4"):
        parse_header(bytes(data))


def test_policy_model_rejects_inconsistent_parts():
    with pytest.raises(NanoFormatError):
        Policy(PolicyMode.REMOTE, b"x")
    with pytest.raises(NanoFormatError):
        Policy(PolicyMode.EMBEDDED_ENCRYPTED, b"x", key_access=_policies()[3].key_access)


# --- header ---------------------------------------------------------------------------


def test_header_rejects_wrong_key_and_binding_sizes():
    with pytest.raises(NanoFormatError, match="ephemeral key of 33 bytes"):
        make_header(curve=Curve.SECP384R1)
    with pytest.raises(NanoFormatError, match="GMAC policy binding"):
        make_header(binding=bytes(9))
    with pytest.raises(NanoFormatError, match="ECDSA policy binding r"):
        make_header(ecdsa_binding=True, binding=bytes([33]) + bytes(33) + b"\x01\x01")


def test_header_consumed_excludes_trailing_bytes():
    data = make_header().encode()
    header, n = parse_header(data + b"\x00\x00\x10rest")
    assert n == len(data) and header.encode() == data


def _field_offsets(header: Header) -> list[tuple[int, str]]:
    """(offset, expected field name) where cutting the header should fail."""
    kas = header.kas.encode()
    at = 3
    out = [(0, "magic"), (at, "kas protocol"), (at + 1, "kas body length")]
    out += [(at + 2, "kas body"), (at + 2 + len(header.kas.body), "kas identifier")]
    at += len(kas)
    out += [(at, "ECC and binding mode"), (at + 1, "symmetric and payload config")]
    at += 2
    out += [(at, "policy type"), (at + 1, "policy length"), (at + 3, "policy body")]
    at += len(header.policy.encode())
    out += [(at, "policy binding"), (at + 8, "ephemeral key")]
    return out


@pytest.mark.parametrize("index", range(12))
def test_truncated_at_each_field_names_it(index: int):
    header = make_header()
    offset, field = _field_offsets(header)[index]
    with pytest.raises(TruncatedError, match=field):
        parse_header(header.encode()[:offset])


def test_truncated_ecdsa_binding_names_r_and_s():
    header = make_header(ecdsa_binding=True, binding=b"\x02ab\x02cd")
    data = header.encode()
    start = len(data) - 33 - 6
    with pytest.raises(TruncatedError, match=r"ECDSA r\)"):
        parse_header(data[: start + 2])
    with pytest.raises(TruncatedError, match=r"ECDSA s length"):
        parse_header(data[: start + 3])


def test_truncated_policy_key_access_names_it():
    header = make_header(policy=_policies()[3])
    data = header.encode()
    cut = len(data) - 8 - 33 - 10  # inside the policy key access ephemeral key
    with pytest.raises(TruncatedError, match="policy key access ephemeral key"):
        parse_header(data[:cut])


# --- property: any header encodes and parses back byte-identically --------------------

_locators = st.builds(
    ResourceLocator,
    protocol=st.sampled_from(list(Protocol)),
    body=st.binary(max_size=40),
    identifier=st.sampled_from([0, 2, 8, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
)


@st.composite
def _headers(draw: st.DrawFn) -> Header:
    curve = draw(st.sampled_from(list(KEYS)))
    mode = draw(st.sampled_from(list(PolicyMode)))
    if mode is PolicyMode.REMOTE:
        policy = Policy(mode, remote=draw(_locators))
    else:
        pka = None
        if mode is PolicyMode.EMBEDDED_ENCRYPTED_KEY_ACCESS:
            pka = PolicyKeyAccess(draw(_locators), KEYS[curve])
        policy = Policy(mode, draw(st.binary(max_size=300)), key_access=pka)
    ecdsa = draw(st.booleans())
    if ecdsa:
        size = st.integers(1, curve.scalar_size)
        r = draw(size.flatmap(lambda n: st.binary(min_size=n, max_size=n)))
        s = draw(size.flatmap(lambda n: st.binary(min_size=n, max_size=n)))
        binding = bytes([len(r)]) + r + bytes([len(s)]) + s
    else:
        binding = draw(st.binary(min_size=8, max_size=8))
    has_sig = draw(st.booleans())
    return Header(
        kas=draw(_locators),
        curve=curve,
        ecdsa_binding=ecdsa,
        cipher=draw(st.sampled_from(list(CipherMode))),
        policy=policy,
        binding=binding,
        ephemeral_key=KEYS[curve],
        has_signature=has_sig,
        signature_curve=draw(st.sampled_from([0, 1, 2])) if has_sig else draw(st.integers(0, 7)),
        reserved_bits=draw(st.integers(0, 15)),
    )


@settings(max_examples=60, deadline=None)
@given(_headers())
def test_header_round_trip_property(header: Header):
    data = header.encode()
    parsed, n = parse_header(data)
    assert parsed == header and n == len(data) and parsed.encode() == data


@settings(max_examples=40, deadline=None)
@given(_headers(), st.data())
def test_any_prefix_is_truncated_property(header: Header, data: st.DataObject):
    raw = header.encode()
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(TruncatedError, match="NanoTDF truncated at"):
        parse_header(raw[:cut])


@settings(max_examples=40, deadline=None)
@given(_headers(), st.binary(max_size=64), st.binary(min_size=3, max_size=3))
def test_whole_file_round_trip_property(header: Header, ciphertext: bytes, iv: bytes):
    payload = Payload(iv, ciphertext, bytes(range(header.tag_size)))
    signature = None
    if header.has_signature:
        curve = Curve(header.signature_curve)
        signature = Signature(bytes(curve.key_size), bytes(2 * curve.scalar_size))
    tdf = NanoTDF(header, payload, signature)
    data = tdf.encode()
    assert nano.parse(data) == tdf and nano.parse(data).encode() == data
