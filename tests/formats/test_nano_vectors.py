"""NanoTDFs written by the Go and JS SDKs: they parse, describe and re-encode exactly.

Their KAS private key is unknown, so these are layout vectors, not decrypt vectors.
"""

from __future__ import annotations

from hashlib import sha256
from pathlib import Path

import pytest

from xtdf.errors import PolicyBindingError
from xtdf.formats import nano
from xtdf.formats.inspect import sniff
from xtdf.formats.nano.inspect import describe

VECTORS = {
    # name: (policy length, IV, ephemeral key prefix, GMAC binding)
    "go-gmac": (104, "542b53", "036695d93b", "f318e90bd0dc0538"),
    "js-gmac": (100, "000001", "022944e4e5", "ce05fcd014d93147"),
}


def _read(reference_dir: Path, name: str) -> bytes:
    return (reference_dir / "nano" / f"{name}.ntdf").read_bytes()


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_vector_parses_and_reencodes_identically(reference_dir: Path, name: str):
    data = _read(reference_dir, name)
    tdf = nano.parse(data)
    assert tdf.encode() == data
    header, consumed = nano.parse_header(data)
    assert header == tdf.header and header.encode() == data[:consumed]


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_vector_fields(reference_dir: Path, name: str):
    policy_len, iv, key_prefix, binding = VECTORS[name]
    tdf = nano.parse(_read(reference_dir, name))
    h = tdf.header
    assert h.kas.url == "http://localhost:8080/kas" and h.kas.kid == b""
    assert h.curve is nano.Curve.SECP256R1 and not h.ecdsa_binding
    assert h.cipher is nano.CipherMode.AES_256_GCM_96 and h.tag_size == 12
    assert not h.has_signature and tdf.signature is None
    assert h.policy.mode is nano.PolicyMode.EMBEDDED_ENCRYPTED
    assert len(h.policy.content) == policy_len
    assert h.binding.hex() == binding
    assert h.ephemeral_key.hex().startswith(key_prefix)
    assert tdf.payload.length == 0x8F and tdf.payload.iv.hex() == iv
    assert len(tdf.payload.ciphertext) == 0x8F - 3 - 12


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_vector_gmac_binding_is_sha256_tail(reference_dir: Path, name: str):
    """Both SDKs bind with the last 8 bytes of SHA-256 over the encrypted policy."""
    h = nano.parse(_read(reference_dir, name)).header
    assert h.binding == sha256(h.policy.content).digest()[-8:]
    nano.verify_policy_binding(h)
    assert nano.binding_id(h) == h.binding.hex()


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_vector_policy_tamper_is_caught(reference_dir: Path, name: str):
    data = bytearray(_read(reference_dir, name))
    h, _ = nano.parse_header(bytes(data))
    data[3 + len(h.kas.encode()) + 2 + 3 + 10] ^= 0x01  # a byte inside the policy body
    with pytest.raises(PolicyBindingError, match="GMAC"):
        nano.verify_policy_binding(nano.parse_header(bytes(data))[0])


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_describe_vector(reference_dir: Path, name: str):
    policy_len, iv, key_prefix, binding = VECTORS[name]
    path = reference_dir / "nano" / f"{name}.ntdf"
    assert sniff(path) == "nano"
    info = describe(path)
    assert info["format"] == "nano"
    assert info["kas"]["protocol"] == "http" and info["kas"]["body"] == "localhost:8080/kas"
    assert info["kas"]["url"] == "http://localhost:8080/kas" and info["kas"]["kid"] is None
    assert info["binding"]["mode"] == "gmac" and info["binding"]["valueHex"] == binding
    assert info["curve"] == "secp256r1"
    assert info["cipher"] == {"mode": 1, "tagBits": 96}
    assert info["policy"]["mode"] == "encrypted" and info["policy"]["length"] == policy_len
    assert info["ephemeralKey"].startswith(key_prefix) and info["ephemeralKey"].islower()
    assert info["payload"]["length"] == 0x8F and info["payload"]["iv"] == iv
    assert info["signature"] is None and info["hasSignature"] is False
