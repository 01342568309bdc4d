"""Rewrap request construction and answer unwrapping, with real keys on both sides.

The KAS side here is computed straight from the protocol facts (RSA-OAEP-SHA1 to an RSA
client key; ECDH + HKDF(salt) + AES-GCM ``nonce||ct||tag`` to an EC client key), so a
client that drifts from the protocol fails these tests.
"""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jws
from joserfc.jwk import ECKey

from xtdf.client import kas
from xtdf.crypto import ec as xec
from xtdf.crypto import rsa as xrsa
from xtdf.crypto.encoding import b64encode
from xtdf.crypto.keys import load_public_pem, private_pem, public_pem
from xtdf.crypto.symmetric import gcm_encrypt, random_bytes
from xtdf.errors import AccessDeniedError, FormatError, KeyAccessError, KeyUnwrapError

MANIFEST_KAO = {
    "type": "wrapped",
    "url": "http://localhost:8080/kas",
    "protocol": "kas",
    "wrappedKey": b64encode(b"\x01" * 256),
    "policyBinding": {"alg": "HS256", "hash": "aGFzaA=="},
    "kid": "r1",
    "sid": "s-1",
    "encryptedMetadata": "",
    "schemaVersion": "1.0",
}


def test_key_access_message_uses_protojson_names() -> None:
    msg = kas.key_access_message(MANIFEST_KAO)
    assert msg == {
        "type": "wrapped",
        "url": "http://localhost:8080/kas",
        "protocol": "kas",
        "kid": "r1",
        "sid": "s-1",
        "wrappedKey": b64encode(b"\x01" * 256),
        "policyBinding": {"alg": "HS256", "hash": "aGFzaA=="},
    }


def test_string_policy_binding_and_ec_fields() -> None:
    kao = {**MANIFEST_KAO, "policyBinding": "b2xk", "ephemeralPublicKey": "PEM"}
    msg = kas.key_access_message(kao)
    assert msg["policyBinding"] == {"hash": "b2xk"}
    assert msg["ephemeralPublicKey"] == "PEM"


def test_bad_wrapped_key_base64_is_a_format_error() -> None:
    with pytest.raises(FormatError, match="wrappedKey"):
        kas.key_access_message({**MANIFEST_KAO, "wrappedKey": "not base64!"})


def test_signed_request_token_carries_the_body_and_verifies() -> None:
    dpop = ec.generate_private_key(ec.SECP256R1())
    session = ec.generate_private_key(ec.SECP256R1())
    req = kas.PolicyRequest("policy", "cG9saWN5", [("kao-0", kas.key_access_message(MANIFEST_KAO))])
    body = kas.unsigned_request(public_pem(session), [req])
    token = kas.signed_request_token(dpop, body, now=1000)
    verified = jws.deserialize_compact(
        token, ECKey.import_key(private_pem(dpop)), algorithms=["ES256"]
    )
    claims = json.loads(verified.payload)
    assert claims["iat"] == 1000 and claims["exp"] == 1060
    inner = json.loads(claims["requestBody"])
    assert inner["clientPublicKey"] == public_pem(session)
    (entry,) = inner["requests"]
    assert entry["policy"] == {"id": "policy", "body": "cG9saWN5"}
    assert entry["keyAccessObjects"][0]["keyAccessObjectId"] == "kao-0"
    assert entry["keyAccessObjects"][0]["keyAccessObject"]["url"] == MANIFEST_KAO["url"]
    # one KAO: the legacy single-object fields are filled too, for pre-bulk KASes
    assert inner["keyAccess"]["kid"] == "r1" and inner["policy"] == "cG9saWN5"


def test_bulk_request_omits_legacy_fields() -> None:
    kao = kas.key_access_message(MANIFEST_KAO)
    req = kas.PolicyRequest("policy", "cA==", [("kao-0", kao), ("kao-1", kao)])
    body = kas.unsigned_request("PEM", [req])
    assert "keyAccess" not in body and len(body["requests"][0]["keyAccessObjects"]) == 2


def test_empty_request_refused() -> None:
    with pytest.raises(KeyAccessError):
        kas.unsigned_request("PEM", [kas.PolicyRequest("p", "b")])


def _ec_answer(client_pub: ec.EllipticCurvePublicKey, keys: dict[str, bytes], salt: bytes) -> dict:
    kas_session = ec.generate_private_key(client_pub.curve)
    aes = xec.derive_key(kas_session, client_pub, salt)
    results = []
    for kao_id, key in keys.items():
        iv = random_bytes(12)
        wrapped = iv + gcm_encrypt(aes, iv, key)
        results.append(
            {"keyAccessObjectId": kao_id, "status": "permit", "kasWrappedKey": b64encode(wrapped)}
        )
    return {
        "sessionPublicKey": public_pem(kas_session),
        "responses": [{"policyId": "policy", "results": results}],
    }


@pytest.mark.parametrize("salt", [xec.TDF_SALT, xec.NANO_V1_SALT])
def test_ec_session_answer_unwraps(salt: bytes) -> None:
    session = ec.generate_private_key(ec.SECP256R1())
    keys = {"kao-0": random_bytes(32), "kao-1": random_bytes(32)}
    answer = _ec_answer(session.public_key(), keys, salt)
    assert kas.unwrap_response(answer, session, salt) == keys


def test_ec_session_answer_with_wrong_salt_is_an_unwrap_error() -> None:
    session = ec.generate_private_key(ec.SECP256R1())
    answer = _ec_answer(session.public_key(), {"kao-0": b"k" * 32}, xec.NANO_V1_SALT)
    result = kas.unwrap_response(answer, session, xec.TDF_SALT)["kao-0"]
    assert isinstance(result, KeyUnwrapError)


def test_ec_session_answer_without_session_key_is_refused() -> None:
    session = ec.generate_private_key(ec.SECP256R1())
    answer = _ec_answer(session.public_key(), {"kao-0": b"k" * 32}, xec.TDF_SALT)
    del answer["sessionPublicKey"]
    with pytest.raises(KeyAccessError, match="sessionPublicKey"):
        kas.unwrap_response(answer, session, xec.TDF_SALT)


def test_rsa_session_answer_unwraps_and_reports_refusals() -> None:
    session = xrsa.generate()
    client_pub = load_public_pem(public_pem(session))
    key = random_bytes(32)
    answer = {
        "responses": [
            {
                "policyId": "policy",
                "results": [
                    {
                        "keyAccessObjectId": "kao-0",
                        "status": "permit",
                        "kasWrappedKey": b64encode(xrsa.wrap(client_pub, key)),
                    },
                    {"keyAccessObjectId": "kao-1", "status": "fail", "error": "forbidden"},
                    {"keyAccessObjectId": "kao-2", "status": "fail", "error": "bad request"},
                    {
                        "keyAccessObjectId": "kao-3",
                        "status": "permit",
                        "kasWrappedKey": b64encode(b"x" * 256),
                    },
                ],
            }
        ]
    }
    out = kas.unwrap_response(answer, session, xec.TDF_SALT, "http://kas")
    assert out["kao-0"] == key
    assert isinstance(out["kao-1"], AccessDeniedError)
    assert isinstance(out["kao-2"], kas.KasRequestError) and "bad request" in str(out["kao-2"])
    assert isinstance(out["kao-3"], KeyUnwrapError)


def test_legacy_entity_wrapped_key() -> None:
    session = xrsa.generate()
    key = random_bytes(32)
    answer = {"entityWrappedKey": b64encode(xrsa.wrap(session.public_key(), key))}
    assert kas.unwrap_response(answer, session, xec.TDF_SALT) == {"": key}


def test_connect_base_drops_the_path() -> None:
    assert kas.connect_base("http://localhost:8080/kas") == "http://localhost:8080"
    assert kas.connect_base("https://k.example:8443/a/b") == "https://k.example:8443"


def test_multi_line_kas_errors_become_one_line() -> None:
    answer = {
        "responses": [
            {
                "results": [
                    {
                        "keyAccessObjectId": "kao-0",
                        "status": "fail",
                        "error": "request error\nrpc error: code = InvalidArgument desc = bad\n",
                    }
                ]
            }
        ]
    }
    err = kas.unwrap_response(answer, xrsa.generate(), xec.TDF_SALT, "http://k")["kao-0"]
    assert "\n" not in str(err)
    assert str(err).endswith("request error; rpc error: code = InvalidArgument desc = bad")
