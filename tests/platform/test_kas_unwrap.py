"""The KAS's ZTDF key access unwrap on its own (``xtdf.platform.kas.unwrap``): key choice
by kid and kind, legacy fallback, the policy binding check, and for each refusal its code,
the words the caller sees (never anything about the key material) and the audit reason.
Real keys, the in-memory ring of test_kas_nano.py; over HTTP: test_kas_rewrap.py."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.platform.test_kas_nano import Ring, _ec, _rsa
from xtdf.crypto.keys import public_pem
from xtdf.formats.ztdf import keywrap
from xtdf.formats.ztdf.policy import Policy
from xtdf.platform.kas.keyring import KasKey
from xtdf.platform.kas.request import KaoRequest
from xtdf.platform.kas.unwrap import KaoFailure, unwrap, verify_binding

SHARE = os.urandom(32)


@pytest.fixture(scope="module")
def r1() -> KasKey:
    return _rsa("r1")


@pytest.fixture(scope="module")
def e1() -> KasKey:
    return _ec("e1")


def _rsa_kao(key: KasKey, kid: str = "r1", share: bytes = SHARE) -> KaoRequest:
    wrapped = keywrap.rsa_wrap(key.private.public_key(), share)
    return KaoRequest(id="kao-0", key_type="wrapped", kid=kid, wrapped_key=wrapped)


def _ec_kao(key: KasKey, kid: str = "e1") -> KaoRequest:
    wrapped, eph = keywrap.ec_wrap(key.private.public_key(), SHARE)
    return KaoRequest(
        id="kao-0", key_type="ec-wrapped", kid=kid, wrapped_key=wrapped, ephemeral_public_key=eph
    )


def _refused(ring: Ring, kao: KaoRequest, code: str, desc: str, reason: str | None = None):
    with pytest.raises(KaoFailure) as exc:
        unwrap(ring, "default", kao)
    assert (exc.value.code, exc.value.desc) == (code, desc)
    if reason is not None:
        assert exc.value.reason == reason
    return exc.value


def test_each_kind_unwraps_with_its_named_key(r1, e1) -> None:
    ring = Ring(keys={("default", "r1"): r1, ("default", "e1"): e1})
    got = unwrap(ring, "default", _rsa_kao(r1))
    assert (got.share, got.kid) == (SHARE, "r1")
    got = unwrap(ring, "default", _ec_kao(e1))
    assert (got.share, got.kid) == (SHARE, "e1")


def test_unknown_or_empty_kid_tries_the_legacy_keys_of_that_kind_in_order(r1, e1) -> None:
    other = _rsa("r0")
    p384 = _ec("p384", ec.SECP384R1())
    ring = Ring(legacy={"default": [e1, other, p384, r1]})
    assert unwrap(ring, "default", _rsa_kao(r1, kid="")).kid == "r1"
    assert unwrap(ring, "default", _rsa_kao(r1, kid="rotated-away")).kid == "r1"
    assert unwrap(ring, "default", _ec_kao(e1, kid="")).kid == "e1"
    assert unwrap(ring, "default", _ec_kao(p384, kid="")).kid == "p384"
    failure = _refused(
        Ring(legacy={"default": [other]}),
        _rsa_kao(r1, kid=""),
        "invalid_argument",
        "bad request",
    )
    assert failure.reason.startswith("unwrap failed with r0: ")
    both = _refused(
        Ring(legacy={"default": [other, _rsa("r9")]}),
        _rsa_kao(r1, kid=""),
        "invalid_argument",
        "bad request",
    )
    assert [
        p.split(":")[0] for p in both.reason.removeprefix("unwrap failed with ").split("; ")
    ] == [
        "r0",
        "r9",
    ]


def test_no_key_to_try(r1, e1) -> None:
    _refused(
        Ring(legacy={"default": [e1]}),
        _rsa_kao(r1, kid="x"),
        "invalid_argument",
        "key not found",
        "kid 'x' is unknown at KAS 'default' and it has no legacy wrapped key",
    )
    _refused(
        Ring(legacy={"default": [r1]}),
        _ec_kao(e1, kid=""),
        "invalid_argument",
        "key not found",
        "no kid at KAS 'default' and it has no legacy ec-wrapped key",
    )
    _refused(  # the key is another instance's
        Ring(keys={("value1", "r1"): r1}),
        _rsa_kao(r1),
        "invalid_argument",
        "key not found",
        "kid 'r1' is unknown at KAS 'default' and it has no legacy wrapped key",
    )


def test_a_named_key_of_the_wrong_kind(r1, e1) -> None:
    _refused(
        Ring(keys={("default", "e1"): e1}),
        _rsa_kao(r1, kid="e1"),
        "invalid_argument",
        "key e1 cannot unwrap a wrapped key",
        "kid 'e1' is a ec:secp256r1 key; it cannot unwrap wrapped",
    )
    _refused(
        Ring(keys={("default", "r1"): r1}),
        _ec_kao(e1, kid="r1"),
        "invalid_argument",
        "key r1 cannot unwrap a ec-wrapped key",
        "kid 'r1' is a rsa:2048 key; it cannot unwrap ec-wrapped",
    )


def test_the_wrong_key_under_the_right_name_says_only_bad_request(r1) -> None:
    impostor = _rsa("r1")
    failure = _refused(
        Ring(keys={("default", "r1"): impostor}), _rsa_kao(r1), "invalid_argument", "bad request"
    )
    assert failure.reason.startswith("unwrap failed with r1: ")
    assert "rpc error: code = InvalidArgument desc = bad request" in failure.error_text


def test_request_shape_refusals(r1, e1) -> None:
    ring = Ring(keys={("default", "r1"): r1, ("default", "e1"): e1})
    kao = _rsa_kao(r1)
    kao.key_type = "remote"
    _refused(ring, kao, "invalid_argument", "unsupported key type", "unsupported key type 'remote'")
    kao = _rsa_kao(r1)
    kao.wrapped_key = b""
    _refused(ring, kao, "invalid_argument", "wrapped key is empty", "wrapped key is empty")
    kao = _ec_kao(e1)
    kao.ephemeral_public_key = ""
    _refused(
        ring,
        kao,
        "invalid_argument",
        "invalid ephemeral public key",
        "ec-wrapped KAO has no ephemeralPublicKey",
    )
    kao = _ec_kao(e1)
    kao.ephemeral_public_key = "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n"
    with pytest.raises(KaoFailure) as exc:
        unwrap(ring, "default", kao)
    assert (exc.value.code, exc.value.desc) == (
        "invalid_argument",
        "invalid ephemeral public key PEM",
    )
    assert exc.value.reason.startswith("ephemeralPublicKey: ")
    assert len(exc.value.reason) > len("ephemeralPublicKey: ")
    kao = _ec_kao(e1)
    kao.ephemeral_public_key = public_pem(r1.private.public_key())
    _refused(
        ring,
        kao,
        "invalid_argument",
        "ephemeral key is not EC",
        "ephemeralPublicKey is not an EC key",
    )


def test_policy_binding(r1) -> None:
    policy = Policy.create(["https://example.com/attr/a/value/b"]).to_b64()
    kao = _rsa_kao(r1)
    kao.binding_hash = keywrap.policy_binding_object(SHARE, policy)  # type: ignore[assignment]
    verify_binding(SHARE, policy, kao)
    kao.binding_hash = None
    with pytest.raises(KaoFailure) as exc:
        verify_binding(SHARE, policy, kao)
    assert (exc.value.code, exc.value.desc, exc.value.reason) == (
        "invalid_argument",
        "missing policy binding",
        "missing policy binding",
    )
    kao.binding_hash = keywrap.policy_binding_object(os.urandom(32), policy)  # type: ignore[assignment]
    with pytest.raises(KaoFailure) as exc:
        verify_binding(SHARE, policy, kao)
    assert (exc.value.code, exc.value.desc) == ("invalid_argument", "bad request")
    assert exc.value.reason == (
        "policy binding: policy binding does not match the policy (policy or key altered)"
    )


def test_a_failure_reads_as_its_reason_for_the_log_and_its_desc_for_the_caller() -> None:
    plain = KaoFailure("invalid_argument", "bad request")
    assert (str(plain), plain.reason, plain.desc) == ("bad request",) * 3
    told = KaoFailure("permission_denied", "forbidden", "policy binding mismatch")
    assert (str(told), told.reason, told.desc) == (
        "policy binding mismatch",
        "policy binding mismatch",
        "forbidden",
    )


def test_an_ec_key_of_another_curve_is_never_tried(e1) -> None:
    """The KAO's ephemeral key names its curve: a key on another curve cannot unwrap it,
    whether named or legacy, and is refused as such rather than tried."""
    p384 = _ec("e1", ec.SECP384R1(), legacy=True)
    _refused(
        Ring(keys={("default", "e1"): p384}),
        _ec_kao(e1),
        "invalid_argument",
        "key e1 cannot unwrap a ec-wrapped key",
        "kid 'e1' is a ec:secp384r1 key; it cannot unwrap ec-wrapped",
    )
    _refused(
        Ring(legacy={"default": [p384]}),
        _ec_kao(e1, kid=""),
        "invalid_argument",
        "key not found",
        "no kid at KAS 'default' and it has no legacy ec-wrapped key",
    )
