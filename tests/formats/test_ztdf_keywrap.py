"""Key wrapping and policy binding recipes shared by the ZTDF writer, reader and KAS."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from xtdf.errors import KeyUnwrapError, PolicyBindingError
from xtdf.formats.ztdf import keywrap

CURVES = ("secp256r1", "secp384r1", "secp521r1")


def test_rsa_wrap_round_trip_and_is_oaep_sha1(ztdf_rsa_key):
    share = os.urandom(32)
    wrapped = keywrap.rsa_wrap(ztdf_rsa_key.public_key(), share)
    assert len(wrapped) == 256
    assert keywrap.rsa_unwrap(ztdf_rsa_key, wrapped) == share
    # independent check: plain cryptography with OAEP(SHA-1, MGF1-SHA-1)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    assert ztdf_rsa_key.decrypt(wrapped, oaep) == share


def test_rsa_unwrap_wrong_key(ztdf_rsa_key, ztdf_other_rsa_key):
    wrapped = keywrap.rsa_wrap(ztdf_rsa_key.public_key(), os.urandom(32))
    with pytest.raises(KeyUnwrapError):
        keywrap.rsa_unwrap(ztdf_other_rsa_key, wrapped)


@pytest.mark.parametrize("curve", CURVES)
def test_ec_wrap_round_trip(ztdf_ec_keys, curve):
    kas = ztdf_ec_keys[curve]
    share = os.urandom(32)
    wrapped, ephemeral_pem = keywrap.ec_wrap(kas.public_key(), share)
    assert ephemeral_pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert keywrap.ec_unwrap(kas, wrapped, ephemeral_pem) == share


@pytest.mark.parametrize("curve", CURVES)
def test_ec_wrap_layout_matches_the_go_recipe(ztdf_ec_keys, curve):
    """ECDH, HKDF-SHA256(salt=SHA-256("TDF"), no info), AES-GCM as nonce || ct || tag."""
    kas = ztdf_ec_keys[curve]
    share = os.urandom(32)
    wrapped, ephemeral_pem = keywrap.ec_wrap(kas.public_key(), share)
    assert len(wrapped) == 12 + 32 + 16
    ephemeral = serialization.load_pem_public_key(ephemeral_pem.encode())
    assert isinstance(ephemeral, ec.EllipticCurvePublicKey)
    assert ephemeral.curve.name == curve
    secret = kas.exchange(ec.ECDH(), ephemeral)
    salt = hashlib.sha256(b"TDF").digest()
    kek = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=None).derive(secret)
    assert AESGCM(kek).decrypt(wrapped[:12], wrapped[12:], None) == share


def test_ec_unwrap_accepts_der_and_compressed_ephemeral(ztdf_ec_keys):
    kas = ztdf_ec_keys["secp256r1"]
    share = os.urandom(32)
    wrapped, pem = keywrap.ec_wrap(kas.public_key(), share)
    pub = serialization.load_pem_public_key(pem.encode())
    der = pub.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    point = pub.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    assert keywrap.ec_unwrap(kas, wrapped, der) == share
    assert keywrap.ec_unwrap(kas, wrapped, point) == share


def test_ec_unwrap_wrong_key_and_corrupt_bytes(ztdf_ec_keys):
    kas = ztdf_ec_keys["secp256r1"]
    other = ec.generate_private_key(ec.SECP256R1())
    wrapped, pem = keywrap.ec_wrap(kas.public_key(), os.urandom(32))
    with pytest.raises(KeyUnwrapError):
        keywrap.ec_unwrap(other, wrapped, pem)
    bad = bytearray(wrapped)
    bad[20] ^= 1
    with pytest.raises(KeyUnwrapError):
        keywrap.ec_unwrap(kas, bytes(bad), pem)
    with pytest.raises(KeyUnwrapError, match="shorter"):
        keywrap.ec_unwrap(kas, wrapped[:20], pem)


def test_policy_binding_is_hmac_over_the_base64_policy():
    key, policy = os.urandom(32), base64.b64encode(b'{"uuid":"x"}').decode()
    raw = keywrap.policy_binding(key, policy)
    assert raw == hmac.new(key, policy.encode(), hashlib.sha256).digest()
    obj = keywrap.policy_binding_object(key, policy)
    assert obj["alg"] == "HS256"
    assert base64.b64decode(obj["hash"]) == raw.hex().encode()


def test_verify_policy_binding_accepts_every_spelling():
    key, policy = os.urandom(32), "eyJ1dWlkIjoieCJ9"
    raw = keywrap.policy_binding(key, policy)
    hexed = base64.b64encode(raw.hex().encode()).decode()
    plain = base64.b64encode(raw).decode()
    upper = base64.b64encode(raw.hex().upper().encode()).decode()
    for binding in (
        {"alg": "HS256", "hash": hexed},
        {"alg": "HS256", "hash": plain},
        hexed,
        plain,
        upper,
    ):
        keywrap.verify_policy_binding(key, policy, binding)


@pytest.mark.parametrize(
    ("binding", "message"),
    [
        ("AAAA", "does not match"),
        ({"alg": "HS256", "hash": "!!notbase64"}, "not valid base64"),
        ({"alg": "RS256", "hash": "AAAA"}, "not supported"),
        (42, "neither a string"),
    ],
)
def test_verify_policy_binding_rejects(binding, message):
    with pytest.raises(PolicyBindingError, match=message):
        keywrap.verify_policy_binding(os.urandom(32), "eyJ1dWlkIjoieCJ9", binding)


def test_policy_binding_fails_for_other_policy_or_key():
    key, policy = os.urandom(32), "eyJ1dWlkIjoieCJ9"
    obj = keywrap.policy_binding_object(key, policy)
    with pytest.raises(PolicyBindingError):
        keywrap.verify_policy_binding(key, policy + "=", obj)
    with pytest.raises(PolicyBindingError):
        keywrap.verify_policy_binding(os.urandom(32), policy, obj)
