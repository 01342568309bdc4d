"""The rewrap's signed request token on its own (``xtdf.platform.kas.srt``): parsing, the
time claims at the edges of the skew, the DPoP JWK it is verified with and the signature
for every allowed algorithm; each refusal with its code and whole message. Tokens are made
with joserfc, an independent JWS implementation."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from joserfc import jws
from joserfc.jwk import ECKey, OctKey, RSAKey

from xtdf.crypto.encoding import b64url_encode
from xtdf.platform.kas import srt
from xtdf.platform.kas.srt import SrtError

NOW = 1_800_000_000
BODY = json.dumps({"clientPublicKey": "pem", "requests": []})


def _token(key: Any, alg: str = "ES256", header: dict | None = None, **claims: Any) -> str:
    payload = {"requestBody": BODY, "iat": NOW, "exp": NOW + 60}
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    head = {"alg": alg, **(header or {})}
    return jws.serialize_compact(head, json.dumps(payload).encode(), key, algorithms=[alg])


def _refused(code: str, message: str, call) -> None:
    with pytest.raises(SrtError) as exc:
        call()
    assert (exc.value.code, str(exc.value.message)) == (code, message)


@pytest.fixture(scope="module")
def ec256() -> ECKey:
    return ECKey.generate_key("P-256")


def test_a_token_parses_into_its_parts(ec256) -> None:
    token = _token(ec256)
    got = srt.parse(" " + token + "\n", now=NOW)
    head, payload, sig = token.split(".")
    assert got.header == {"alg": "ES256"}
    assert got.request_body == BODY and got.claims["iat"] == NOW
    assert got.signing_input == f"{head}.{payload}".encode()
    assert b64url_encode(got.signature) == sig


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("", "could not parse token: not a compact JWS"),
        ("a.b", "could not parse token: not a compact JWS"),
        ("a.b.c.d", "could not parse token: not a compact JWS"),
        (".e30.", "could not parse token: not a compact JWS"),
        ("e30..", "could not parse token: not a compact JWS"),
        ("bm90IGpzb24.e30.", "could not parse token: signed request token header is not JSON"),
        ("W10.e30.", "could not parse token: signed request token header is not an object"),
        ("e30.bm90IGpzb24.", "could not parse token: signed request token payload is not JSON"),
        ("e30.WzFd.", "could not parse token: signed request token payload is not an object"),
        ("e30.e30.", "missing request body"),
    ],
)
def test_malformed_tokens(token: str, message: str) -> None:
    code = "invalid_argument" if message == "missing request body" else "unauthenticated"
    _refused(code, message, lambda: srt.parse(token, now=NOW))


def test_a_bad_signature_encoding_and_a_body_that_is_not_a_string() -> None:
    with pytest.raises(SrtError) as exc:
        srt.parse("e30.e30.!!!", now=NOW)
    assert exc.value.code == "unauthenticated"
    assert exc.value.message == (
        "could not parse token: signed request token signature is not valid base64url"
    )
    payload = b64url_encode(json.dumps({"requestBody": {"x": 1}}).encode())
    _refused(
        "invalid_argument",
        "invalid request body: requestBody is not a string",
        lambda: srt.parse(f"e30.{payload}.", now=NOW),
    )


def test_time_claims_at_the_edges_of_the_skew(ec256) -> None:
    exp = _token(ec256, exp=NOW)
    srt.parse(exp, now=NOW + 60)
    _refused(
        "unauthenticated",
        "signed request token has expired (exp)",
        lambda: srt.parse(exp, now=NOW + 61),
    )
    nbf = _token(ec256, nbf=NOW, exp=None)
    srt.parse(nbf, now=NOW - 60)
    _refused(
        "unauthenticated",
        "signed request token is not valid yet (nbf)",
        lambda: srt.parse(nbf, now=NOW - 61),
    )
    iat = _token(ec256, iat=NOW, exp=None)
    srt.parse(iat, now=NOW - 60)
    _refused(
        "unauthenticated",
        "signed request token was issued in the future (iat)",
        lambda: srt.parse(iat, now=NOW - 61),
    )
    srt.parse(_token(ec256, iat=None, exp=None), now=NOW)  # no time claims: none checked


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", ["1800000000", True])
def test_time_claims_must_be_numbers(ec256, name: str, value) -> None:
    token = _token(ec256, **{name: value})
    _refused(
        "unauthenticated",
        f"could not parse token: {name} is not a number",
        lambda: srt.parse(token, now=NOW),
    )


def test_the_clock_is_real_time_unless_given(ec256) -> None:
    real = int(time.time())
    srt.parse(_token(ec256, iat=real, exp=real + 10))
    _refused(
        "unauthenticated",
        "signed request token has expired (exp)",
        lambda: srt.parse(_token(ec256, iat=real - 3600, exp=real - 3000)),
    )


@pytest.mark.parametrize(
    ("kind", "alg"),
    [
        ("RSA", "RS256"),
        ("RSA", "RS512"),
        ("RSA", "PS256"),
        ("RSA", "PS384"),
        ("P-256", "ES256"),
        ("P-384", "ES384"),
        ("P-521", "ES512"),
    ],
)
def test_each_allowed_algorithm_verifies_with_the_dpop_jwk(kind: str, alg: str) -> None:
    key = RSAKey.generate_key(2048) if kind == "RSA" else ECKey.generate_key(kind)
    public = srt.jwk_public_key(key.as_dict(private=False))
    token = srt.parse(_token(key, alg), now=NOW)
    srt.verify(token, public)
    other = RSAKey.generate_key(2048) if kind == "RSA" else ECKey.generate_key(kind)
    _refused(
        "unauthenticated",
        "unable to verify request token: signature does not verify with the DPoP key",
        lambda: srt.verify(token, srt.jwk_public_key(other.as_dict(private=False))),
    )


def test_alg_defaults_to_rs256_and_must_be_asymmetric(ec256) -> None:
    rsa_key = RSAKey.generate_key(2048)
    token = srt.parse(_token(rsa_key, "RS256"), now=NOW)
    headerless = srt.Srt({}, token.claims, token.request_body, token.signing_input, token.signature)
    srt.verify(headerless, srt.jwk_public_key(rsa_key.as_dict(private=False)))
    hs = srt.parse(_token(OctKey.import_key(b"k" * 32), "HS256"), now=NOW)
    _refused(
        "unauthenticated",
        "unable to verify request token: unsupported algorithm 'HS256'",
        lambda: srt.verify(hs, srt.jwk_public_key(ec256.as_dict(private=False))),
    )


def test_a_key_of_the_other_kind_or_a_signature_of_the_wrong_size(ec256) -> None:
    rsa_key = RSAKey.generate_key(2048)
    bad = "unable to verify request token: signature does not verify with the DPoP key"
    es = srt.parse(_token(ec256), now=NOW)
    _refused(
        "unauthenticated",
        bad,
        lambda: srt.verify(es, srt.jwk_public_key(rsa_key.as_dict(private=False))),
    )
    rs = srt.parse(_token(rsa_key, "RS256"), now=NOW)
    ec_public = srt.jwk_public_key(ec256.as_dict(private=False))
    _refused("unauthenticated", bad, lambda: srt.verify(rs, ec_public))
    short = srt.Srt(es.header, es.claims, es.request_body, es.signing_input, es.signature[:-1])
    _refused("unauthenticated", bad, lambda: srt.verify(short, ec_public))
    # P-521 signatures are 2 x 66 bytes, not 2 x 65: the size is rounded up
    p521 = ECKey.generate_key("P-521")
    tok = srt.parse(_token(p521, "ES512"), now=NOW)
    assert len(tok.signature) == 132
    srt.verify(tok, srt.jwk_public_key(p521.as_dict(private=False)))


@pytest.mark.parametrize(
    ("jwk", "message"),
    [
        ({"kty": "OKP", "crv": "Ed25519", "x": "AA"}, "unsupported DPoP key type"),
        ({"kty": "EC", "crv": "P-192", "x": "AA", "y": "AA"}, "unsupported DPoP key type"),
        ({"kty": "RSA", "n": "AQAB"}, "DPoP JWK e"),
        ({"kty": "RSA", "e": "AQAB", "n": 5}, "DPoP JWK n"),
        ({"kty": "EC", "crv": "P-256", "y": "AA"}, "DPoP JWK x"),
        ({"kty": "EC", "crv": "P-256", "x": "AA"}, "DPoP JWK y"),
        ({"kty": "RSA", "e": "AQAB", "n": "e3!0"}, "jwk.n is not valid base64url"),
        ({"kty": "EC", "crv": "P-256", "x": "AA", "y": "A*"}, "jwk.y is not valid base64url"),
    ],
)
def test_unusable_dpop_jwks(jwk: dict, message: str) -> None:
    _refused(
        "unauthenticated",
        f"unable to verify request token: {message}",
        lambda: srt.jwk_public_key(jwk),
    )


def test_a_point_off_the_curve_is_refused() -> None:
    jwk = {"kty": "EC", "crv": "P-256", "x": "AQ", "y": "AQ"}
    with pytest.raises(SrtError) as exc:
        srt.jwk_public_key(jwk)
    assert exc.value.code == "unauthenticated"
    assert str(exc.value.message).startswith("unable to verify request token: ")
    assert str(exc.value.message) != "unable to verify request token: unsupported DPoP key type"


def test_the_key_cache_is_bounded_and_keyed_by_thumbprint() -> None:
    cache = srt.KeyCache(size=2)
    keys = [ECKey.generate_key("P-256") for _ in range(3)]
    jwks = [k.as_dict(private=False) for k in keys]
    first = cache.get("a", jwks[0])
    assert cache.get("a", jwks[1]) is first  # by thumbprint, not by the JWK passed
    cache.get("b", jwks[1])
    cache.get("a", jwks[0])  # a is now the most recent
    cache.get("c", jwks[2])  # so b goes
    assert list(cache._keys) == ["a", "c"]
    assert cache.get(None, jwks[0]) is not cache.get(None, jwks[0])  # no thumbprint: not kept
    assert list(cache._keys) == ["a", "c"]


def test_the_key_cache_holds_a_thousand_and_twenty_four_keys_by_default() -> None:
    cache = srt.KeyCache()
    jwk = ECKey.generate_key("P-256").as_dict(private=False)
    for i in range(1025):
        cache.get(f"k{i}", jwk)
    assert len(cache._keys) == 1024 and "k0" not in cache._keys and "k1" in cache._keys


def test_base64url_parts_take_no_stray_characters() -> None:
    """The decoder once dropped characters outside the alphabet, so ``e30`` and ``e3!0``
    read alike; every part of a token is now decoded strictly (padding optional)."""
    from xtdf.crypto.encoding import b64url_decode
    from xtdf.errors import FormatError

    assert b64url_decode("YQ") == b"a" == b64url_decode("YQ==")
    assert b64url_decode("-_-_") == b"\xfb\xff\xbf"
    for bad in ("e3!0", "YQ ", "Y Q", "\u00e9", "a"):
        with pytest.raises(FormatError, match=r"^part is not valid base64url$"):
            b64url_decode(bad, "part")
