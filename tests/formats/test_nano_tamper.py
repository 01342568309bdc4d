"""Altered NanoTDFs fail with the specific error that names what was altered."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from xtdf.crypto import ec as xec
from xtdf.errors import (
    NanoFormatError,
    NanoSignatureError,
    PayloadDecryptError,
    PolicyBindingError,
    TruncatedError,
)
from xtdf.formats import nano

KAS = "https://kas.example.com/kas"


@pytest.fixture(scope="module")
def kas_key() -> ec.EllipticCurvePrivateKey:
    return xec.generate("secp256r1")


def _make(kas_key, **options: object) -> tuple[bytes, bytes]:
    data = nano.encrypt(
        b"secret payload", kas_url=KAS, kas_public_key=kas_key.public_key(), **options
    )
    return data, nano.derive_key_offline(nano.parse(data).header, kas_key)


def _policy_offset(data: bytes) -> int:
    h, _ = nano.parse_header(data)
    return 3 + len(h.kas.encode()) + 2 + 3  # type byte + 2-byte length


@pytest.mark.parametrize("binding", ["gmac", "ecdsa"])
@pytest.mark.parametrize("mode", ["plaintext", "encrypted"])
def test_policy_byte_flipped_fails_binding(kas_key, binding: str, mode: str):
    data, key = _make(kas_key, binding=binding, policy_mode=mode)
    bad = bytearray(data)
    bad[_policy_offset(data) + 5] ^= 0x40
    with pytest.raises(PolicyBindingError, match=f"^{BINDING_MESSAGES[binding]}$"):
        nano.decrypt(bytes(bad), key)
    with pytest.raises(PolicyBindingError, match=f"^{BINDING_MESSAGES[binding]}$"):
        nano.verify_policy_binding(nano.parse(bytes(bad)).header, key)


#: the whole message for each binding kind (a reader must be told which check failed)
BINDING_MESSAGES = {
    "gmac": "NanoTDF GMAC policy binding does not match the policy",
    "ecdsa": "NanoTDF ECDSA policy binding does not verify with the ephemeral key",
}


def test_empty_ecdsa_binding_is_refused_with_its_own_message(kas_key):
    from dataclasses import replace

    from xtdf.formats.nano.binding import EMPTY_BINDING_MESSAGE
    from xtdf.formats.nano.header import EMPTY_ECDSA_BINDING

    data, key = _make(kas_key, binding="ecdsa")
    empty = replace(nano.parse(data).header, binding=EMPTY_ECDSA_BINDING)
    assert EMPTY_BINDING_MESSAGE.startswith("NanoTDF ECDSA policy binding is empty")
    with pytest.raises(PolicyBindingError) as exc:
        nano.require_binding(empty)
    assert str(exc.value) == EMPTY_BINDING_MESSAGE
    with pytest.raises(PolicyBindingError) as exc:
        nano.verify_policy_binding(empty, key)
    assert str(exc.value) == EMPTY_BINDING_MESSAGE
    nano.require_binding(nano.parse(data).header)  # a real binding passes


def test_binding_id_is_the_gmac_bytes_or_the_hash_of_r_and_s(kas_key):
    """The identifier the Go KAS logs for a binding: hex of the 8 GMAC bytes; for ECDSA the
    SHA-256 of r || s (the length prefixes left out)."""
    from hashlib import sha256

    from xtdf.formats.nano.header import split_ecdsa_binding

    gmac = nano.parse(_make(kas_key, binding="gmac")[0]).header
    assert nano.binding_id(gmac) == gmac.binding.hex() and len(gmac.binding) == 8
    ecdsa = nano.parse(_make(kas_key, binding="ecdsa")[0]).header
    r, s = split_ecdsa_binding(ecdsa.binding, ecdsa.curve)
    assert len(r) == len(s) == 32  # full width, as we write them
    assert nano.binding_id(ecdsa) == sha256(r + s).hexdigest()
    assert nano.binding_id(ecdsa) != sha256(ecdsa.binding).hexdigest()


def test_policy_and_binding_both_rewritten_still_fails_with_key(kas_key):
    """Recomputing the unkeyed GMAC binding is possible; the policy's GCM tag is not."""
    from dataclasses import replace

    from xtdf.formats.nano.binding import gmac_binding

    data, key = _make(kas_key)
    h = nano.parse(data).header
    content = bytearray(h.policy.content)
    content[0] ^= 1
    forged = replace(h, policy=replace(h.policy, content=bytes(content)))
    forged = replace(forged, binding=gmac_binding(bytes(content)))
    nano.verify_policy_binding(forged)  # the hash matches...
    with pytest.raises(
        PolicyBindingError,
        match=r"^NanoTDF encrypted policy does not authenticate under the derived key$",
    ):
        nano.verify_policy_binding(forged, key)  # ...but the key says otherwise


def test_binding_byte_flipped(kas_key):
    data, key = _make(kas_key)
    h, n = nano.parse_header(data)
    bad = bytearray(data)
    bad[n - len(h.ephemeral_key) - 1] ^= 0x01
    with pytest.raises(PolicyBindingError):
        nano.decrypt(bytes(bad), key)


@pytest.mark.parametrize("where", ["iv", "ciphertext", "tag"])
def test_payload_byte_flipped_fails_decrypt(kas_key, where: str):
    data, key = _make(kas_key)
    _, n = nano.parse_header(data)
    index = {"iv": n + 3, "ciphertext": n + 6 + 2, "tag": len(data) - 1}[where]
    bad = bytearray(data)
    bad[index] ^= 0x80
    with pytest.raises(PayloadDecryptError, match="payload"):
        nano.decrypt(bytes(bad), key)


def test_wrong_key_fails_decrypt(kas_key):
    data, _ = _make(kas_key)
    with pytest.raises(PayloadDecryptError):
        nano.decrypt(data, bytes(32))


def test_ephemeral_key_altered_gives_other_key_or_bad_point(kas_key):
    data, key = _make(kas_key, binding="ecdsa")
    _, n = nano.parse_header(data)
    bad = bytearray(data)
    bad[n - 1] ^= 0x01
    with pytest.raises((PolicyBindingError, NanoFormatError)):
        nano.decrypt(bytes(bad), key)


def test_signature_tamper(kas_key):
    data, key = _make(kas_key, signer=xec.generate("secp256r1"))
    bad = bytearray(data)
    bad[-5] ^= 0x01
    with pytest.raises(NanoSignatureError):
        nano.decrypt(bytes(bad), key)


@pytest.mark.parametrize("signed", [False, True])
def test_truncation_names_each_trailing_field(kas_key, signed: bool):
    signer = xec.generate("secp256r1") if signed else None
    data, _ = _make(kas_key, signer=signer)
    _, n = nano.parse_header(data)
    cuts = [
        (n, "payload length"),
        (n + 2, "payload length"),
        (n + 3, "payload"),
        (len(data) - 1, ""),
    ]
    for cut, field in cuts:
        with pytest.raises(TruncatedError, match=f"truncated at {field}"):
            nano.parse(data[:cut])
    if signed:
        with pytest.raises(TruncatedError, match="signature public key"):
            nano.parse(data[: len(data) - 64 - 10])
        with pytest.raises(TruncatedError, match=r"at signature:"):
            nano.parse(data[: len(data) - 10])


def test_payload_length_mismatch(kas_key):
    data, _ = _make(kas_key)
    with pytest.raises(NanoFormatError, match="payload length mismatch: 3 bytes follow"):
        nano.parse(data + b"abc")
    _, n = nano.parse_header(data)
    short = bytearray(data)
    short[n : n + 3] = (5).to_bytes(3, "big")
    with pytest.raises(NanoFormatError, match="shorter than IV"):
        nano.parse(bytes(short))
