"""JWS signatures must verify with standard tools, and thumbprints match RFC 7638."""

from __future__ import annotations

import hashlib
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jws
from joserfc.errors import BadSignatureError
from joserfc.jwk import ECKey, RSAKey

from xtdf.client import jose
from xtdf.crypto import rsa as xrsa
from xtdf.crypto.encoding import b64url_decode, b64url_encode
from xtdf.crypto.keys import private_pem


def _claims(token: str) -> dict:
    return json.loads(b64url_decode(token.split(".")[1]))


def _header(token: str) -> dict:
    return json.loads(b64url_decode(token.split(".")[0]))


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.SECP384R1()])
def test_ec_signature_verifies_with_joserfc(curve: ec.EllipticCurve) -> None:
    key = ec.generate_private_key(curve)
    token = jose.sign(key, {"a": 1})
    verified = jws.deserialize_compact(
        token, ECKey.import_key(private_pem(key)), algorithms=[jose.algorithm(key)]
    )
    assert json.loads(verified.payload) == {"a": 1}


def test_rsa_signature_verifies_with_joserfc() -> None:
    key = xrsa.generate()
    token = jose.sign(key, {"b": "x"})
    verified = jws.deserialize_compact(
        token, RSAKey.import_key(private_pem(key)), algorithms=["RS256"]
    )
    assert json.loads(verified.payload) == {"b": "x"}


def test_tampered_signature_fails_verification() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    token = jose.sign(key, {"a": 1})
    head, _, sig = token.split(".")
    forged = head + "." + b64url_encode(b'{"a":2}') + "." + sig
    with pytest.raises(BadSignatureError):
        jws.deserialize_compact(forged, ECKey.import_key(private_pem(key)), algorithms=["ES256"])


def test_thumbprint_matches_rfc7638_example() -> None:
    # RFC 7638 section 3.1 example key and its published thumbprint
    jwk = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSo"
        "c_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FD"
        "W2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh"
        "6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert jose.thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_thumbprint_agrees_with_joserfc() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    ours = jose.thumbprint(jose.public_jwk(key))
    assert ours == ECKey.import_key(private_pem(key)).thumbprint()


def test_dpop_proof_claims_and_header() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    proof = jose.dpop_proof(key, "post", "http://h:8080/kas.AccessService/Rewrap?x=1#f", "tok")
    head, claims = _header(proof), _claims(proof)
    assert head["typ"] == "dpop+jwt" and head["alg"] == "ES256"
    assert head["jwk"] == jose.public_jwk(key) and "d" not in head["jwk"]
    assert claims["htm"] == "POST"
    assert claims["htu"] == "http://h:8080/kas.AccessService/Rewrap"
    # ath = base64url(SHA-256(access token)), RFC 9449 section 4.2
    assert claims["ath"] == b64url_encode(hashlib.sha256(b"tok").digest())
    other = jose.dpop_proof(key, "POST", "http://h:8080/x")
    assert _claims(other)["jti"] != claims["jti"] and "ath" not in _claims(other)
