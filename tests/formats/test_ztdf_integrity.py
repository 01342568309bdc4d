"""The ZTDF integrity pieces on their own: segment hashes and the root signature in both
encodings, the key wrapping's refusals and the policy binding's. Each refusal is checked
for its whole message (a reader sees only that), each size check at its boundary."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from xtdf.crypto.encoding import b64encode
from xtdf.crypto.keys import public_pem
from xtdf.errors import FormatError, KeyUnwrapError, PolicyBindingError, UnsupportedError
from xtdf.formats.ztdf import integrity, keywrap
from xtdf.formats.ztdf.policy import Policy

KEY = bytes(range(32))


@pytest.mark.parametrize(("alg", "norm"), [("hs256", "HS256"), ("GMAC", "GMAC"), ("gMaC", "GMAC")])
def test_algorithm_names_are_case_blind(alg: str, norm: str) -> None:
    assert integrity.normalise_alg(alg, "segment hash") == norm


@pytest.mark.parametrize("alg", [None, "", "SHA256", 7])
def test_an_unknown_algorithm_is_named(alg) -> None:
    with pytest.raises(UnsupportedError) as exc:
        integrity.normalise_alg(alg, "root signature")
    assert str(exc.value) == f"root signature algorithm {alg!r} is not supported (HS256 or GMAC)"


def test_segment_hash_is_the_tag_or_an_hmac() -> None:
    segment = os.urandom(12) + os.urandom(40) + os.urandom(16)
    assert integrity.segment_hash("GMAC", KEY, segment) == segment[-16:]
    assert integrity.segment_hash("GMAC", KEY, memoryview(segment)) == segment[-16:]
    want = hmac.new(KEY, segment, hashlib.sha256).digest()
    assert integrity.segment_hash("HS256", KEY, segment) == want


def test_gmac_root_signature_is_the_last_tag_and_needs_one() -> None:
    tags = os.urandom(48)
    assert integrity.root_signature("GMAC", KEY, tags) == tags[-16:]
    assert integrity.root_signature("GMAC", KEY, tags[:16]) == tags[:16]  # one segment
    with pytest.raises(FormatError) as exc:
        integrity.root_signature("GMAC", KEY, tags[:15])
    assert str(exc.value) == "GMAC root signature needs at least one segment hash"
    want = hmac.new(KEY, tags, hashlib.sha256).digest()
    assert integrity.root_signature("HS256", KEY, tags) == want


def test_stored_forms_and_matching() -> None:
    raw = bytes.fromhex("00ff10ab")
    assert integrity.stored_form(raw, hexed=True) == b"00ff10ab"
    assert integrity.stored_form(raw, hexed=False) == raw
    assert integrity.encode(raw, hexed=True) == b64encode(b"00ff10ab")
    assert integrity.matches(raw, raw)
    assert integrity.matches(b"00ff10ab", raw) and integrity.matches(b"00FF10AB", raw)
    assert not integrity.matches(b"00ff10ac", raw)
    assert not integrity.matches(b"00ff10zz", raw)  # hex length, not hex
    assert not integrity.matches(raw + b"\x00", raw)  # neither length
    assert not integrity.matches(bytes.fromhex("00ff10ac"), raw)
    with pytest.raises(FormatError, match="segment hash"):
        integrity.decode_stored("not base64!", "segment hash")


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def test_ec_wrap_round_trip_with_the_pem_as_text_or_bytes(ec_key) -> None:
    wrapped, eph_pem = keywrap.ec_wrap(ec_key.public_key(), KEY)
    assert keywrap.ec_unwrap(ec_key, wrapped, eph_pem) == KEY
    assert keywrap.ec_unwrap(ec_key, wrapped, eph_pem.encode()) == KEY
    # DER and SEC1 point forms of the ephemeral key: test_ztdf_keywrap.py


def test_ec_unwrap_refusals(ec_key) -> None:
    wrapped, eph_pem = keywrap.ec_wrap(ec_key.public_key(), KEY)
    with pytest.raises(KeyUnwrapError) as exc:
        keywrap.ec_unwrap(ec_key, wrapped[:27], eph_pem)  # 12-byte nonce + 16-byte tag - 1
    assert str(exc.value) == "ec-wrapped key is shorter than its nonce and tag"
    unwrap_failed = "EC unwrap failed (wrong key, wrong ephemeral key or corrupt wrapped key)"
    with pytest.raises(KeyUnwrapError) as exc:
        keywrap.ec_unwrap(ec_key, wrapped[:28], eph_pem)  # long enough, but not the bytes
    assert str(exc.value) == unwrap_failed
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(KeyUnwrapError) as exc:
        keywrap.ec_unwrap(other, wrapped, eph_pem)
    assert str(exc.value) == unwrap_failed
    rsa_pem = public_pem(rsa.generate_private_key(65537, 2048).public_key())
    with pytest.raises(FormatError) as exc:
        keywrap.ec_unwrap(ec_key, wrapped, rsa_pem)
    assert str(exc.value) == "ephemeralPublicKey is not an EC public key"


def test_rsa_wrap_round_trip_and_refusal() -> None:
    key = rsa.generate_private_key(65537, 2048)
    assert keywrap.rsa_unwrap(key, keywrap.rsa_wrap(key.public_key(), KEY)) == KEY
    with pytest.raises(KeyUnwrapError):
        keywrap.rsa_unwrap(
            rsa.generate_private_key(65537, 2048), keywrap.rsa_wrap(key.public_key(), KEY)
        )


def test_policy_binding_in_every_accepted_spelling() -> None:
    policy = Policy.create(["https://example.com/attr/a/value/b"]).to_b64()
    raw = hmac.new(KEY, policy.encode("ascii"), hashlib.sha256).digest()
    assert keywrap.policy_binding(KEY, policy) == raw
    assert keywrap.policy_binding(KEY, policy.encode()) == raw
    obj = keywrap.policy_binding_object(KEY, policy)
    assert obj == {"alg": "HS256", "hash": b64encode(raw.hex().encode())}
    for binding in (
        obj,
        {"hash": obj["hash"]},  # alg left out: HS256
        {"alg": "", "hash": obj["hash"]},
        {"alg": None, "hash": b64encode(raw)},
        obj["hash"],  # a plain string, as older SDKs write it
        b64encode(raw),
        b64encode(raw.hex().upper().encode()),
    ):
        keywrap.verify_policy_binding(KEY, policy, binding)


@pytest.mark.parametrize(
    ("binding", "message"),
    [
        ({"alg": "GMAC", "hash": "x"}, "policy binding algorithm 'GMAC' is not supported"),
        ({"alg": "HS256"}, "policy binding is neither a string nor an {alg, hash} object"),
        (
            {"alg": "HS256", "hash": 5},
            "policy binding is neither a string nor an {alg, hash} object",
        ),
        (5, "policy binding is neither a string nor an {alg, hash} object"),
        (None, "policy binding is neither a string nor an {alg, hash} object"),
    ],
)
def test_policy_binding_shapes_refused(binding, message: str) -> None:
    with pytest.raises(PolicyBindingError) as exc:
        keywrap.verify_policy_binding(KEY, "e30=", binding)
    assert str(exc.value) == message


def test_policy_binding_that_does_not_match() -> None:
    policy = Policy.create().to_b64()
    raw = keywrap.policy_binding(KEY, policy)
    altered = "policy binding does not match the policy (policy or key altered)"
    for binding in (
        b64encode(raw[:-1] + bytes([raw[-1] ^ 1])),
        b64encode(keywrap.policy_binding(bytes(32), policy)),
        b64encode(binascii.hexlify(raw)[:-1] + b"z"),  # hex length, not hex
        b64encode(raw + raw),  # twice the length, not the hex spelling
    ):
        with pytest.raises(PolicyBindingError) as exc:
            keywrap.verify_policy_binding(KEY, policy, binding)
        assert str(exc.value) == altered
    with pytest.raises(PolicyBindingError) as exc:
        keywrap.verify_policy_binding(KEY, policy, "%%%")
    assert str(exc.value) == (
        "policy binding hash is not valid base64: policyBinding hash is not valid base64"
    )


def test_a_policy_round_trips_through_its_compact_base64_form() -> None:
    import uuid

    p = Policy.create(["https://a/attr/x/value/1", "https://a/attr/x/value/2"], ["d@example.com"])
    uuid.UUID(p.uuid)  # a real UUID each time
    assert Policy.create().uuid != Policy.create().uuid
    text = p.to_b64()
    raw = base64.b64decode(text)
    assert b" " not in raw  # compact: the binding is an HMAC over exactly this string
    assert json.loads(raw) == {
        "uuid": p.uuid,
        "body": {
            "dataAttributes": [
                {"attribute": "https://a/attr/x/value/1"},
                {"attribute": "https://a/attr/x/value/2"},
            ],
            "dissem": ["d@example.com"],
        },
    }
    back = Policy.from_b64(text)
    assert back.attributes == p.attributes and back.uuid == p.uuid
    assert back.body.dissem == ["d@example.com"]


def test_a_policy_missing_parts_gets_defaults_and_nulls_are_empty() -> None:
    import uuid

    empty = Policy.from_json({})
    uuid.UUID(empty.uuid)
    assert empty.attributes == [] and empty.to_dict()["body"] == {
        "dataAttributes": [],
        "dissem": [],
    }
    nulls = Policy.from_json({"uuid": "u", "body": {"dataAttributes": None, "dissem": None}})
    assert nulls.attributes == [] and nulls.uuid == "u"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "policy is not a policy object: Input should be a valid dictionary or object"),
        ({"uuid": 5}, "policy is not a policy object: field uuid: Input should be a valid string"),
        (
            {"body": {"dataAttributes": [{"attribute": 3}]}},
            "policy is not a policy object: field body.dataAttributes[0].attribute: "
            "Input should be a valid string",
        ),
        (
            {"body": {"dissem": "x"}},
            "policy is not a policy object: field body.dissem: Input should be a valid list",
        ),
    ],
)
def test_a_policy_of_the_wrong_shape_names_the_field(doc, message: str) -> None:
    from xtdf.errors import ManifestError

    with pytest.raises(ManifestError) as exc:
        Policy.from_json(doc)
    assert str(exc.value) == message


def test_a_policy_string_that_is_no_policy() -> None:
    from xtdf.errors import ManifestError

    name = "encryptionInformation.policy"
    with pytest.raises(FormatError, match=rf"^{name} is not valid base64$"):
        Policy.from_b64("%%")
    cases = {
        b"not json": f"{name} is not a policy object: Expecting value: line 1 column 1 (char 0)",
        b"[" * 200 + b"]" * 200: f"{name} is nested deeper than 100 levels",
        b"[1]": f"{name} is not a policy object: Input should be a valid dictionary or object",
        b"\xff": f"{name} is not a policy object: 'utf-8' codec can't decode byte 0xff",
    }
    for raw, message in cases.items():
        with pytest.raises(ManifestError) as exc:
            Policy.from_b64(b64encode(raw))
        assert str(exc.value).startswith(message), str(exc.value)
