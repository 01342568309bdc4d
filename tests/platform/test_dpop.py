"""``xtdf.platform.dpop`` on its own: every refusal of ``verify_proof`` with its whole
message, the edges of each check (the skew window at its bounds, each private JWK member,
replay expiry at the instant it ends) and the URL normalisation ``htu`` is compared by.
The server-level behaviour (which header, which transport) is in test_server_auth.py."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from tests.platform.conftest import dpop_proof
from xtdf.crypto.encoding import b64url_encode
from xtdf.platform import dpop
from xtdf.platform.dpop import (
    DPoPProofError,
    ReplayCache,
    access_token_hash,
    htu_matches,
    normalize_htu,
    origins_for_host,
    verify_proof,
)

URL = "http://localhost:8080/kas.AccessService/Rewrap"
NOW = 1_800_000_000
SKEW = 60.0


@pytest.fixture(scope="module")
def key() -> ECKey:
    return ECKey.generate_key("P-256")


def _verify(proof: str | list[str], **options: Any) -> dpop.Proof:
    kw: dict[str, Any] = {
        "method": "POST",
        "acceptable_urls": [URL],
        "skew_s": SKEW,
        "replay": ReplayCache(ttl_s=2 * SKEW),
        "now": NOW,
    }
    kw.update(options)
    return verify_proof([proof] if isinstance(proof, str) else proof, **kw)


def _refused(message: str, proof: str | list[str], **options: Any) -> None:
    with pytest.raises(DPoPProofError) as exc:
        _verify(proof, **options)
    assert str(exc.value) == message


def _proof(key: Any, **claims: Any) -> str:
    claims.setdefault("iat", NOW)
    return dpop_proof(key, "POST", URL, **claims)


def test_a_good_proof_gives_its_key_thumbprint_and_claims(key) -> None:
    proof = _verify(_proof(key, jti="j1"))
    assert proof.jwk == key.as_dict(private=False) and "d" not in proof.jwk
    assert proof.jkt == key.thumbprint()
    assert proof.claims["jti"] == "j1" and proof.claims["htm"] == "POST"


def test_header_count_and_form(key) -> None:
    _refused("expected exactly one DPoP header, got 0", [])
    _refused("expected exactly one DPoP header, got 2", [_proof(key), _proof(key)])
    with pytest.raises(DPoPProofError, match=r"^DPoP proof is not a compact JWS: "):
        _verify("not-a-jws")
    with pytest.raises(DPoPProofError, match=r"^DPoP proof is not a compact JWS: "):
        _verify("é.é.é")
    _verify("  " + _proof(key) + " ")  # surrounding blanks are not part of the proof


def test_typ_alg_and_jwk_refusals(key) -> None:
    _refused("DPoP proof typ must be 'dpop+jwt', got 'JWT'", _proof(key, header={"typ": "JWT"}))
    claims = b'{"iat": 1800000000, "jti": "x", "htm": "POST", "htu": "%s"}' % URL.encode()
    untyped = _signed(key, claims, typ=None)
    _refused("DPoP proof typ must be 'dpop+jwt', got None", untyped)
    hs = jwt.encode(
        {"alg": "HS256", "typ": "dpop+jwt", "jwk": key.as_dict(private=False)},
        {"iat": NOW, "jti": "x", "htm": "POST", "htu": URL},
        OctKey.import_key(b"k" * 32),
        algorithms=["HS256"],
    )
    _refused("DPoP proof uses unsupported algorithm 'HS256'", hs)
    no_jwk = jwt.encode(
        {"alg": "ES256", "typ": "dpop+jwt"},
        {"iat": NOW, "jti": "x", "htm": "POST", "htu": URL},
        key,
        algorithms=["ES256"],
    )
    _refused("DPoP proof header has no jwk", no_jwk)


@pytest.mark.parametrize("member", ["d", "p", "q", "dp", "dq", "qi", "k"])
def test_each_private_jwk_member_is_refused(key, member: str) -> None:
    jwk = {**key.as_dict(private=False), member: b64url_encode(b"secret")}
    _refused("DPoP proof jwk must be a public key", _proof(key, header={"jwk": jwk}))


def test_signature_and_key_refusals(key) -> None:
    other = ECKey.generate_key("P-256")
    signed_by_other = _proof(other, header={"jwk": key.as_dict(private=False)})
    _refused("DPoP proof signature does not verify with its jwk", signed_by_other)
    bad_jwk = {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}
    with pytest.raises(DPoPProofError, match=r"^DPoP proof jwk is not a usable key: "):
        _verify(_proof(key, header={"jwk": bad_jwk}))


def test_an_rsa_4096_key_fits_the_header_limit() -> None:
    """Its JWK alone is over joserfc's default 512-byte header limit."""
    big = RSAKey.generate_key(4096)
    assert _verify(_proof(big)).jwk["n"] == big.as_dict(private=False)["n"]


def _signed(key: ECKey, payload: bytes, typ: str | None = "dpop+jwt") -> str:
    from joserfc import jws

    head = {"alg": "ES256", "typ": typ, "jwk": key.as_dict(private=False)}
    head = {k: v for k, v in head.items() if v is not None}
    return jws.serialize_compact(head, payload, key, algorithms=["ES256"])


def test_payload_must_be_a_json_object(key) -> None:
    _refused("DPoP proof payload is not JSON", _signed(key, b"{not json"))
    _refused("DPoP proof payload is not a JSON object", _signed(key, b"[1, 2]"))


@pytest.mark.parametrize("iat", [None, "1800000000", True])
def test_iat_must_be_a_number(key, iat) -> None:
    proof = _proof(key, iat=iat) if iat is not None else _proof(key, iat=None)
    _refused("DPoP proof has no numeric iat", proof)


def test_iat_window_is_inclusive_at_both_ends(key) -> None:
    _verify(_proof(key, iat=NOW - SKEW))  # exactly as old as allowed
    _verify(_proof(key, iat=NOW + SKEW))  # exactly as far ahead as allowed
    _refused("DPoP proof has expired (iat too old)", _proof(key, iat=NOW - SKEW - 1))
    _refused("DPoP proof iat is in the future", _proof(key, iat=NOW + SKEW + 1))


def test_the_clock_is_the_callers_when_given_and_real_time_otherwise(key) -> None:
    real = int(time.time())
    _verify(_proof(key, iat=real), now=None)
    _refused("DPoP proof has expired (iat too old)", _proof(key, iat=real), now=real + 3600)


def test_method_and_url_must_match(key) -> None:
    _refused(
        "DPoP proof htm 'GET' does not match request method post",
        dpop_proof(key, "GET", URL, iat=NOW),
        method="post",
    )
    _refused(
        "DPoP proof htm None does not match request method POST",
        _proof(key, htm=None),
    )
    _verify(dpop_proof(key, "POST", URL, iat=NOW), method="post")  # compared upper-cased
    other = "http://localhost:8080/kas.AccessService/PublicKey"
    _refused(
        f"DPoP proof htu {other!r} does not match {[URL]}",
        dpop_proof(key, "POST", other, iat=NOW),
    )
    _refused(f"DPoP proof htu None does not match {[URL]}", _proof(key, htu=None))


def test_a_path_only_htu_passes_unless_strict(key) -> None:
    path_only = dpop_proof(key, "POST", "/kas.AccessService/Rewrap", iat=NOW)
    _verify(path_only)  # the default, as the Go platform
    _refused(
        f"DPoP proof htu '/kas.AccessService/Rewrap' does not match {[URL]}",
        path_only,
        strict_htu=True,
    )


def test_ath_binds_the_proof_to_its_token(key) -> None:
    token = "header.payload.signature"
    _verify(_proof(key, ath=access_token_hash(token)), access_token=token)
    _refused("DPoP proof has no ath for the access token", _proof(key), access_token=token)
    _refused(
        "DPoP proof ath does not match the access token",
        _proof(key, ath=access_token_hash("another")),
        access_token=token,
    )
    _verify(_proof(key))  # no token: no ath needed


def test_ath_is_sha256_of_the_token_and_a_non_ascii_token_cannot_match() -> None:
    import hashlib

    assert access_token_hash("abc") == b64url_encode(hashlib.sha256(b"abc").digest())
    # a token is ASCII; anything else is hashed with '?' in its place, never an exception
    assert access_token_hash("t\u00f6k") == access_token_hash("t?k")


@pytest.mark.parametrize("jti", [None, "", 7])
def test_jti_must_be_a_non_empty_string(key, jti) -> None:
    _refused("DPoP proof has no jti", _proof(key, jti=jti) if jti is not None else _no_jti(key))


def _no_jti(key: ECKey) -> str:
    return jwt.encode(
        {"alg": "ES256", "typ": "dpop+jwt", "jwk": key.as_dict(private=False)},
        {"iat": NOW, "htm": "POST", "htu": URL},
        key,
        algorithms=["ES256"],
    )


def test_replay_is_judged_at_the_callers_clock(key) -> None:
    replay = ReplayCache(ttl_s=1)
    proof = _proof(key, jti="once")
    _verify(proof, replay=replay)
    _refused("DPoP proof replayed (jti already used)", proof, replay=replay)
    # one second later by the caller's clock the jti has left the window (real time has not)
    _verify(proof, replay=replay, now=NOW + 5)


def test_replay_cache_edges() -> None:
    cache = ReplayCache(ttl_s=10)
    assert not cache.observe("a", now=100.0)
    assert cache.observe("a", now=109.999)
    assert not cache.observe("a", now=110.0)  # the instant the window ends it is new again
    assert not cache.observe(f"real-{os.getpid()}")  # real time by default
    assert cache.observe(f"real-{os.getpid()}")


def test_replay_cache_sweeps_only_past_its_threshold_and_then_doubles() -> None:
    cache = ReplayCache(ttl_s=10)
    cache.MIN_SWEEP = 4  # type: ignore[misc]
    cache._sweep_at = 4
    for i in range(4):
        cache.observe(f"old-{i}", now=0.0)
    cache.observe("at-threshold", now=10.0)  # 4 entries, not more than 4: no sweep yet
    assert len(cache._seen) == 5
    cache.observe("sweeps", now=10.0)  # 5 > 4: entries expiring at or before 10 go
    assert set(cache._seen) == {"at-threshold", "sweeps"}
    for i in range(6):
        cache.observe(f"live-{i}", now=11.0)
    assert len(cache._seen) == 8  # the sweep on the 5th entry found 5 live ones...
    assert cache._sweep_at == 10  # ...so the next waits for twice that


@pytest.mark.parametrize(
    ("host", "origins"),
    [
        ("LocalHost:8080", ["http://localhost:8080", "https://localhost:8080"]),
        ("h:80", ["http://h", "https://h:80"]),
        ("h:443", ["http://h:443", "https://h"]),
        ("h", ["http://h", "https://h"]),
        ("[::1]:8080", ["http://[::1]:8080", "https://[::1]:8080"]),
        ("[::1]", ["http://[::1]", "https://[::1]"]),
        ("", ["http://", "https://"]),
        ("H:99999", ["http://h:99999", "https://h:99999"]),  # no valid port: kept, lowered
    ],
)
def test_origins_of_a_host_header(host: str, origins: list[str]) -> None:
    assert origins_for_host(host) == origins


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("HTTP://LocalHost:80/a/./b/../c", "http://localhost/a/c"),
        ("https://h:443", "https://h/"),
        ("http://h/%7euser/%7E", "http://h/~user/~"),
        ("http://h/%41%2d%5F%2e", "http://h/A-_."),
        ("http://h/a%2fb/%2F", "http://h/a%2Fb/%2F"),  # reserved: kept, hex upper-cased
        ("http://h/%C3%A9", "http://h/%C3%A9"),  # not ASCII once decoded: kept
        ("http://h/%zz/%4", "http://h/%zz/%4"),  # not an escape
        ("http://h/%", "http://h/%"),
        ("http://h/a/b/..", "http://h/a/"),
        ("http://h/a/b/.", "http://h/a/b/"),
        ("http://h/../../a", "http://h/a"),
        ("http://h/a//b/", "http://h/a//b/"),
        ("http://h/a?q=1#f", "http://h/a"),
        ("ftp://h/a", None),
        ("http:///a", None),
        ("http://[::1/a", None),
    ],
)
def test_htu_normalisation(url: str, normal: str | None) -> None:
    assert normalize_htu(url) == normal


@pytest.mark.parametrize(
    ("path", "normal"),
    [
        ("", "/"),
        ("kas/v2/rewrap", "/kas/v2/rewrap"),
        ("%7Euser", "/~user"),
        ("a/./b/../c/..", "/a/"),
        ("/.", "/"),  # a trailing dot segment leaves one slash, not two
        ("/a//.", "/a/"),
    ],
)
def test_path_normalisation_of_a_path_only_htu(path: str, normal: str) -> None:
    assert dpop._normalize_path(path) == normal


def test_htu_matching() -> None:
    assert htu_matches("HTTP://H:80/x", ["http://h/x"], strict=True)
    assert not htu_matches("https://h/x", ["http://h/x"], strict=True)
    assert htu_matches("/x", ["http://h/x", "https://h/y"], strict=False)
    assert htu_matches("/y/./", ["http://h/x", "https://h/y/"], strict=False)
    assert not htu_matches("/x", ["http://h/x"], strict=True)
    assert not htu_matches("//h/x", ["http://h/x"], strict=False)  # no scheme: not a URL
    assert not htu_matches("http:/x", ["http://h/x"], strict=False)  # no host
    assert not htu_matches("http://[::1/x", ["http://[::1]/x"], strict=False)
    assert not htu_matches("ftp://h/x", ["ftp://h/x"], strict=False)


@pytest.mark.parametrize("alg", dpop.ALGORITHMS)
def test_every_allowed_algorithm_verifies(alg: str) -> None:
    """Not only the ones joserfc recommends by default: the proof's own registry allows
    all nine (RSA PKCS#1 and PSS, ECDSA on each curve), as upstream does."""
    if alg.startswith("ES"):
        key: Any = ECKey.generate_key({"256": "P-256", "384": "P-384", "512": "P-521"}[alg[2:]])
    else:
        key = RSAKey.generate_key(2048)
    proof = dpop_proof(key, "POST", URL, header={"alg": alg}, iat=NOW)
    assert _verify(proof).jkt == key.thumbprint()
